// The daemon's lifecycle: config, single instance, log sink, attach, READY, stats,
// watchdog, and a shutdown that loses nothing that reached the buffer.
import { readFileSync } from 'node:fs';
import { hostname, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Capture } from '../capture/capture.js';
import { CONFIG_EXIT_CODE, ConfigError, loadConfig, type Config } from '../config/index.js';
import { createLogSink, type LogSink } from '../logging/index.js';
import { acquireInstanceLock } from '../state/instance-lock.js';
import { createNotifier } from './notify.js';
import { Pipeline } from './pipeline.js';
import { writeStatusFile } from '../state/status-file.js';

export interface RunOptions {
  configPath: string | undefined;
  logDir: string | undefined;
  console: boolean | undefined;
  buffer: string | undefined;
  version: string;
}

const OBJECT_PATH = fileURLToPath(new URL('../../bpf/imds_analyzer.bpf.o', import.meta.url));
const SHUTDOWN_DEADLINE_MS = 4500;

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** Milliseconds since the kernel started (CLOCK_BOOTTIME, as /proc/uptime counts it), or null. */
function uptimeMs(): number | null {
  try {
    const seconds = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Number.isFinite(seconds) ? Math.round(seconds * 1000) : null;
  } catch {
    return null;
  }
}

function configFrom(options: RunOptions): Config {
  const overrides: Record<string, unknown> = {};
  if (options.logDir !== undefined) overrides.logDir = options.logDir;
  if (options.console !== undefined) overrides.console = options.console;
  if (options.buffer !== undefined) overrides.buffer = { kind: options.buffer };
  return loadConfig(options.configPath, overrides);
}

export async function runDaemon(options: RunOptions): Promise<number> {
  const startedAt = new Date();
  // Milliseconds since the process started at the end of each start-up step (in the ready line).
  const startup: Record<string, number> = {};
  const stepDone = (step: string) => (startup[step] = Math.round(performance.now()));
  stepDone('modules');
  let config: Config;
  try {
    config = configFrom(options);
    stepDone('config');
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`imds-analyzer: ${err.message}\n`);
      return CONFIG_EXIT_CODE;
    }
    throw err;
  }

  let lock: { release(): void };
  try {
    lock = acquireInstanceLock(config.stateDir);
  } catch (err) {
    process.stderr.write(`imds-analyzer: ${(err as Error).message}\n`);
    return 1;
  }
  const notifier = createNotifier();
  const boot = bootId();
  let sink: LogSink | null = null;
  let capture: Capture | null = null;
  try {
    sink = await createLogSink({
      dir: config.logDir,
      rotation: config.rotation,
      console: config.console,
      level: config.logLevel,
      hostname: hostname(),
    });
    const logSink = sink;
    stepDone('log_sink');
    const pipeline = new Pipeline(config, logSink);
    capture = Capture.open({
      objectPath: OBJECT_PATH,
      buffer: config.buffer.kind,
      ringSizeKB: config.buffer.ringSizeKB,
      perfPagesPerCpu: config.buffer.perfPagesPerCpu,
      stateDir: config.stateDir,
      onRecords: (records) => pipeline.handle(records),
      onDecodeError: (err) => pipeline.decodeError(err),
      libbpfLog: (level, message) => {
        if (level === 'warn') logSink.lifecycle('error', { source: 'libbpf', message });
      },
    });
    const running = capture;
    running.start();
    stepDone('bpf_attached');

    const describe = () => ({
      boot_id: boot,
      kernel_release: release(),
      libbpf_version: running.libbpfVersion,
      buffer: running.bufferKind,
      cgroup_root: running.cgroupRoot,
      programs: running.programs.map((p) => p.name),
      program_ids: Object.fromEntries(running.programs.map((p) => [p.name, p.id])),
      version: options.version,
      pid: process.pid,
      log_dir: config.logDir,
    });
    const counters = () => pipeline.counters(running.kernelStats(), running.perfLost, logSink.counters());
    const statusText = () => {
      const c = counters();
      return `attached ${running.programs.length} programs (${running.bufferKind}); requests v1=${c.requests.v1} v2=${c.requests.v2} unknown=${c.requests.unknown}; lost=${c.kernel.events_lost}`;
    };
    const publish = (event: 'ready' | 'stats') => {
      const c = counters();
      // uptime_ms at READY tells the report whether this daemon saw its boot from the start.
      if (event === 'ready') logSink.lifecycle('ready', { ...describe(), ...c, uptime_ms: uptimeMs(), startup_ms: startup });
      else logSink.lifecycle('stats', { ...describe(), ...c, interval_s: config.statsIntervalSeconds });
      writeStatusFile(config.stateDir, {
        ...describe(),
        started_at: startedAt.toISOString(),
        counters: c,
        updated_at: new Date().toISOString(),
      });
    };

    stepDone('ready');
    publish('ready');
    await logSink.flush();
    notifier.ready(statusText());
    // After READY: processes started after the attach are in the kernel's map already.
    pipeline.seed();
    notifier.startWatchdog();
    const statsTimer = setInterval(() => {
      publish('stats');
      notifier.status(statusText());
    }, config.statsIntervalSeconds * 1000);

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    clearInterval(statsTimer);
    notifier.stopping();
    const deadline = setTimeout(() => process.exit(1), SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    // Detach first so no new record arrives, then drain what is in the buffer.
    running.detach();
    running.drain();
    pipeline.flushAll();
    logSink.lifecycle('stopping', { ...describe(), signal, ...counters() });
    running.close();
    capture = null;
    await logSink.close();
    notifier.stopWatchdog();
    return 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`imds-analyzer: ${message}\n`);
    sink?.lifecycle('error', { message });
    await sink?.close();
    return 1;
  } finally {
    capture?.close();
    lock.release();
  }
}
