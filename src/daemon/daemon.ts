// The daemon's lifecycle: config, single instance, log sink, attach, READY, stats,
// watchdog, and a shutdown that loses nothing that reached the buffer.
import { readFileSync } from 'node:fs';
import { hostname, release } from 'node:os';
import { Capture, type CaptureOptions, loadSettings } from '../capture/capture.js';
import type { PrintHandler } from '../libbpf/libbpf.js';
import { UnsupportedHostError } from '../capture/kernel-support.js';
import { LibbpfMissingError } from '../libbpf/libbpf.js';
import { EXIT } from '../logic/exit-status.js';
import type { Config, loadConfig } from '../config/index.js';
import { likelyLoadSettings } from '../config/likely.js';
import { readHostIdentity } from '../enrich/host-identity.js';
import type { LogSink } from '../logging/index.js';
import { Redactor } from '../logging/redactor.js';
import { acquireInstanceLock, processStartTicks } from '../state/instance-lock.js';
import { appFile } from './app-files.js';
import { openFdStore } from './fd-store.js';
import { loggedRequestKeys } from './logged-requests.js';
import { createNotifier } from './notify.js';
import type { Pipeline } from './pipeline.js';
import { writeStatusFile } from '../state/status-file.js';
import { untrustedDirectories } from './owned-dirs.js';
import { unwritableDirectories } from './writable-dirs.js';

export interface RunOptions {
  configPath: string | undefined;
  logDir: string | undefined;
  console: boolean | undefined;
  buffer: string | undefined;
  version: string;
}

const OBJECT_PATH = appFile('bpf', 'imds_analyzer.bpf.o');
const SHUTDOWN_DEADLINE_MS = 4500;
/**
 * 69 (EX_UNAVAILABLE): this host can never run the analyzer (no libbpf, no BTF, a kernel
 * without the hooks). Listed in RestartPreventExitStatus= so that systemd does not loop.
 */
export const UNSUPPORTED_HOST_EXIT_CODE = EXIT.unavailable;

/** Milliseconds since the kernel started (CLOCK_BOOTTIME, as /proc/uptime counts it), or null. */
function uptimeMs(): number | null {
  try {
    const seconds = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Number.isFinite(seconds) ? Math.round(seconds * 1000) : null;
  } catch {
    return null;
  }
}

function configFrom(options: RunOptions, load: typeof loadConfig): Config {
  const overrides: Record<string, unknown> = {};
  if (options.logDir !== undefined) overrides.logDir = options.logDir;
  if (options.console !== undefined) overrides.console = options.console;
  if (options.buffer !== undefined) overrides.buffer = { kind: options.buffer };
  return load(options.configPath, overrides);
}

/** `imds-analyzer cut-btf OBJECT OUT` in a child process: its heap goes when it exits. */
async function cutDownInChild(objectPath: string, outPath: string, signal: AbortSignal): Promise<void> {
  const { spawn } = await import('node:child_process');
  const cli = process.argv[1];
  if (!cli) throw new Error('cannot tell which script to run for cut-btf');
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, cli, 'cut-btf', objectPath, outPath], {
      stdio: ['ignore', 'ignore', 'pipe'],
      signal,
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`cut-btf ended with ${signal ?? code}: ${stderr.trim()}`)),
    );
  });
}

/**
 * A diagnostic report or heap snapshot would hold argv and token values in plain text: none
 * is written on a signal or a crash, whatever NODE_OPTIONS asks (the unit also sets LimitCORE=0).
 */
function noDiagnosticDumps(): void {
  process.report.reportOnSignal = false;
  process.report.reportOnFatalError = false;
  process.report.reportOnUncaughtException = false;
  const dumping =
    /--(?:heapsnapshot-signal|heapsnapshot-near-heap-limit|report-on-signal|report-on-fatalerror|report-uncaught-exception)\b/;
  for (const option of [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]) {
    if (dumping.test(option))
      throw new Error(`refusing to run with ${option.split('=')[0]}: it writes process memory (argv, tokens) to disk`);
  }
}

export async function runDaemon(options: RunOptions): Promise<number> {
  const startedAt = new Date();
  // Milliseconds since the process started at the end of each start-up step (in the ready line).
  const startup: Record<string, number> = {};
  // process.uptime(), not performance.now(): the latter loads perf_hooks, a cost of its own.
  const stepDone = (step: string) => (startup[step] = Math.round(process.uptime() * 1000));
  stepDone('modules');
  const redactor = new Redactor();
  const fail = (message: string) => process.stderr.write(`imds-analyzer: ${redactor.text(message)}\n`);
  try {
    noDiagnosticDumps();
  } catch (err) {
    fail((err as Error).message);
    return 1;
  }
  const fdStore = openFdStore();
  let sink: LogSink | null = null;
  // libbpf's warnings from before the log sink exists wait for it.
  const earlyLibbpfWarnings: string[] = [];
  const libbpfLog: PrintHandler = (level, message) => {
    if (level !== 'warn') return;
    if (sink) sink.lifecycle('error', { source: 'libbpf', message });
    else earlyLibbpfWarnings.push(message);
  };
  // The object loads on a libuv thread (libbpf's CO-RE, the kernel's verifier, the maps)
  // while this thread loads zod and checks the config: with what the config file most
  // likely says, used only if the checked config agrees. Not on a restart: the fds systemd
  // handed back are taken over once, with the checked config; then the object's
  // preallocated maps are made ahead on a libuv thread instead.
  const early =
    fdStore.inherited.length === 0
      ? Capture.load({
          objectPath: OBJECT_PATH,
          ...likelyLoadSettings(options.configPath, options.buffer),
          libbpfLog,
          inheritedFds: [],
        })
      : null;
  const premadeMaps = early ? null : Capture.prepare(OBJECT_PATH);
  early?.catch(() => undefined);
  const dropEarly = () =>
    void early?.then(
      (loaded) => loaded.close(),
      () => undefined,
    );
  const { CONFIG_EXIT_CODE, ConfigError, loadConfig } = await import('../config/index.js');
  let config: Config;
  try {
    config = configFrom(options, loadConfig);
    stepDone('config');
  } catch (err) {
    fail((err as Error).message);
    dropEarly();
    return err instanceof ConfigError ? CONFIG_EXIT_CODE : 1;
  }

  const unwritable = [
    ...unwritableDirectories([
      { key: 'logDir', path: config.logDir },
      { key: 'stateDir', path: config.stateDir },
    ]),
    ...untrustedDirectories([
      { key: 'stateDir', path: config.stateDir },
      { key: 'cacheDir', path: config.cacheDir },
    ]),
  ];
  if (unwritable.length > 0) {
    for (const problem of unwritable) process.stderr.write(`imds-analyzer: ${problem}\n`);
    dropEarly();
    return CONFIG_EXIT_CODE;
  }

  let lock: { release(): void };
  try {
    lock = acquireInstanceLock(config.stateDir);
  } catch (err) {
    fail((err as Error).message);
    dropEarly();
    return 1;
  }
  // SIGHUP reopens the log files (logrotate); until the sink exists there is nothing to reopen,
  // but the default action (exit, which systemd takes for a clean stop) must never run.
  let onHangup = () => {};
  const hangup = () => onHangup();
  process.on('SIGHUP', hangup);
  // A stop asked for during the start (READY=1 comes before the log is open) waits for the
  // start to finish, then stops cleanly: the default action would end the process mid-way.
  let onStop: (signal: NodeJS.Signals) => void = () => {};
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    onStop = resolve;
  });
  process.once('SIGTERM', onStop);
  process.once('SIGINT', onStop);
  const notifier = createNotifier();
  // Read once: neither changes while the daemon runs.
  const identity = readHostIdentity();
  let capture: Capture | null = null;
  // Records flow only after start(); the pipeline is built once the capture has mounted
  // (on cgroup v1 hosts) the cgroup2 hierarchy its cgroup ids refer to.
  let receiver: Pipeline | null = null;
  let captureTaken = false;
  const captureOptions: CaptureOptions = {
    objectPath: OBJECT_PATH,
    premadeMaps: premadeMaps ?? undefined,
    cacheDir: config.cacheDir,
    buffer: config.buffer.kind,
    ringSizeKB: config.buffer.ringSizeKB,
    perfPagesPerCpu: config.buffer.perfPagesPerCpu,
    stateDir: config.stateDir,
    onRecords: (records) => receiver?.handle(records),
    onDecodeError: (err) => receiver?.decodeError(err),
    onDrainError: (err) => sink?.lifecycle('error', { source: 'drain', message: err.message }),
    libbpfLog,
    inheritedFds: fdStore.inherited,
    continuity: fdStore.available,
    onJournalError: (err) => sink?.lifecycle('error', { source: 'journal', message: err.message }),
  };
  const loading = (async () => {
    const loaded = await early?.catch(() => null);
    if (loaded && loaded.settings === loadSettings(captureOptions)) return Capture.attach(loaded, captureOptions);
    loaded?.close();
    return Capture.open(captureOptions);
  })();
  // Awaited below; a failure before then is handled there, not an unhandled rejection.
  loading.catch(() => undefined);
  // Logging and the pipeline load meanwhile; they are needed only once capture is on.
  let importing: Promise<[typeof import('../logging/index.js'), typeof import('./pipeline.js')]> | undefined;
  const imported = () => (importing ??= Promise.all([import('../logging/index.js'), import('./pipeline.js')]));
  const openSink = async (): Promise<LogSink> => {
    const [{ createLogSink }] = await imported();
    const opened = await createLogSink({
      dir: config.logDir,
      rotation: config.rotation,
      console: config.console,
      level: config.logLevel,
      hostname: hostname(),
      identity,
      redactor,
    });
    sink = opened;
    for (const message of earlyLibbpfWarnings.splice(0)) opened.lifecycle('error', { source: 'libbpf', message });
    onHangup = () => {
      opened.reopen();
      process.stderr.write('imds-analyzer: SIGHUP: log files reopened\n');
    };
    return opened;
  };
  try {
    try {
      capture = await loading;
    } catch (err) {
      // libbpf's messages (the verifier's log) and the error go to the log as well.
      await openSink().catch(() => null);
      throw err;
    }
    captureTaken = true;
    const running = capture;
    // From here on systemd holds the links and the buffer: they outlive this process
    // through a crash or a restart, and systemd lets go of them on a real stop.
    const continuous = fdStore.store(running.continuityFds());
    stepDone('bpf_attached');
    // Capture is on: whatever starts from now on is in the buffer, where records wait until
    // the pipeline below reads them. That is what units ordered after this one need.
    const readyUptimeMs = uptimeMs();
    notifier.ready(`attached ${running.programs.length} programs (${running.bufferKind}); opening the log`);
    stepDone('ready');

    const logSink = await openSink();
    if (running.coreBtfProblem) logSink.lifecycle('error', { source: 'core-btf', message: running.coreBtfProblem });
    const [, { Pipeline }] = await imported();
    const pipeline = new Pipeline(config, logSink, running.cgroupRoot, (token, uid) =>
      redactor.rememberToken(token, uid),
    );
    receiver = pipeline;
    // The first drain replays what the previous daemon read: what it logged is not logged again.
    if (running.handover.journaled_records > 0) pipeline.skipLogged(loggedRequestKeys(config.logDir));
    running.start();
    running.drain();
    stepDone('log_sink');

    // instance_id and boot_id are on every line already (the sink's base fields).
    const describe = () => ({
      kernel_release: release(),
      libbpf_version: running.libbpfVersion,
      core_btf: running.coreBtf,
      buffer: running.bufferKind,
      cgroup_root: running.cgroupRoot,
      programs: running.programs.map((p) => p.name),
      program_ids: Object.fromEntries(running.programs.map((p) => [p.name, p.id])),
      handover: {
        inherited_fds: fdStore.inherited.length,
        fd_store: continuous,
        ...running.handover,
      },
      version: options.version,
      pid: process.pid,
      log_dir: config.logDir,
    });
    let statusWriteErrors = 0;
    const ownStartTicks = processStartTicks(process.pid) ?? 0;
    const counters = () =>
      pipeline.counters(running.kernelStats(), running.perfLost, logSink.counters(), {
        drainErrors: running.drainErrors,
        statusWriteErrors,
      });
    const statusText = () => {
      const c = counters();
      return `attached ${running.programs.length} programs (${running.bufferKind}); requests v1=${c.requests.v1} v2=${c.requests.v2} unknown=${c.requests.unknown}; lost=${c.kernel.events_lost}`;
    };
    const publish = (event: 'ready' | 'stats') => {
      const c = counters();
      // uptime_ms at READY tells the report whether this daemon saw its boot from the start.
      if (event === 'ready')
        logSink.lifecycle('ready', {
          ...describe(),
          ...c,
          uptime_ms: readyUptimeMs,
          startup_ms: startup,
          capture_continued: false,
          capture_gap: fdStore.inherited.length === 0 ? 'fresh_start' : 'ring_not_drained',
        });
      else logSink.lifecycle('stats', { ...describe(), ...c, interval_s: config.statsIntervalSeconds });
      try {
        writeStatusFile(
          config.stateDir,
          redactor.value({
            ...identity,
            ...describe(),
            pid_start_ticks: ownStartTicks,
            started_at: startedAt.toISOString(),
            counters: c,
            updated_at: new Date().toISOString(),
          }),
        );
      } catch (err) {
        // `status` shows stale numbers; the log's stats line has them all. Said once per streak.
        statusWriteErrors++;
        if (!statusWriteFailing) logSink.lifecycle('error', { source: 'status-file', message: (err as Error).message });
        statusWriteFailing = true;
        return;
      }
      statusWriteFailing = false;
    };
    let statusWriteFailing = false;

    publish('ready');
    await logSink.flush();
    notifier.status(statusText());
    // After READY: processes started after the attach are in the kernel's map already.
    pipeline.seed();
    // The next start relocates against a cut-down copy of this kernel's BTF (most of a load).
    // A stop ends it first: its trial load runs on this capture's maps.
    const stopRefresh = new AbortController();
    const refreshing = running
      .refreshCoreBtfCache((objectPath, outPath) => cutDownInChild(objectPath, outPath, stopRefresh.signal))
      .catch((err: Error) => {
        if (!stopRefresh.signal.aborted) logSink.lifecycle('error', { source: 'core-btf', message: err.message });
      });
    notifier.startWatchdog(() => running.drainLoopAlive());
    const statsTimer = setInterval(() => {
      publish('stats');
      notifier.status(statusText());
    }, config.statsIntervalSeconds * 1000);

    const signal = await stopSignal;
    clearInterval(statsTimer);
    notifier.stopping();
    const deadline = setTimeout(() => process.exit(1), SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    stopRefresh.abort();
    await refreshing;
    // Without systemd's store: detach first so no new record arrives, then drain what is in
    // the buffer. With it, this may be a restart: the links stay attached and whatever
    // arrives after this drain waits in the buffer for the next daemon (a real stop makes
    // systemd close them once this process is gone).
    if (!continuous) running.detach();
    running.drainAll();
    pipeline.flushAll();
    logSink.lifecycle('stopping', { ...describe(), signal, ...counters(), system_shutdown: false });
    running.close();
    capture = null;
    await logSink.close();
    notifier.stopWatchdog();
    return 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // Failed before the capture was taken over: it may still be loading.
    if (!captureTaken) (await loading.catch(() => null))?.close();
    fail(message);
    // Set by openSink(), which the checker does not follow.
    const opened = sink as LogSink | null;
    opened?.lifecycle('error', { message });
    await opened?.close();
    return err instanceof UnsupportedHostError || err instanceof LibbpfMissingError ? UNSUPPORTED_HOST_EXIT_CODE : 1;
  } finally {
    capture?.close();
    lock.release();
    process.off('SIGHUP', hangup);
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
  }
}
