// The daemon's lifecycle, one phase after another over one disposal scope: config, single
// instance, attach, READY, log, stats and watchdog, and a stop that loses nothing that
// reached the buffer. Whatever the way out, the scope lets go of what was acquired.
import { hostname } from 'node:os';
import type { Capture } from '../capture/capture.js';
import { UnsupportedHostError } from '../capture/kernel-support.js';
import type { Config } from '../config/index.js';
import { readHostIdentity, readRegion } from '../enrich/host-identity.js';
import { LibbpfMissingError } from '../libbpf/libbpf.js';
import { EXIT } from '../logic/exit-status.js';
import type { LogSink } from '../logging/index.js';
import { acquireInstanceLock } from '../state/instance-lock.js';
import { appFile } from './app-files.js';
import { type CanaryService, openCanaries } from './canaries.js';
import { startLoading } from './capture-loading.js';
import { type ConfigSources, DaemonExit, checkedConfig } from './checked-config.js';
import { refreshCoreBtf } from './core-btf-refresh.js';
import { DaemonLog } from './daemon-log.js';
import { DaemonStatus } from './daemon-status.js';
import { noDiagnosticDumps } from './diagnostic-dumps.js';
import { openFdStore } from './fd-store.js';
import { loggedRequests } from './logged-requests.js';
import { createNotifier } from './notify.js';
import type { Pipeline } from './pipeline.js';
import { DisposalScope } from './scope.js';
import { listenForSignals } from './signals.js';
import { StartupSteps, kernelUptimeMs } from './startup-steps.js';
import { systemShuttingDown } from './system-shutdown.js';
import { VerdictWriter } from './verdict-writer.js';

export interface RunOptions extends ConfigSources {
  version: string;
}

const OBJECT_PATH = appFile('bpf', 'imds_analyzer.bpf.o');
const SHUTDOWN_DEADLINE_MS = 4500;
/**
 * 69 (EX_UNAVAILABLE): this host can never run the analyzer (no libbpf, no BTF, a kernel
 * without the hooks). Listed in RestartPreventExitStatus= so that systemd does not loop.
 */
export const UNSUPPORTED_HOST_EXIT_CODE = EXIT.unavailable;

export async function runDaemon(options: RunOptions): Promise<number> {
  const startedAt = new Date();
  const steps = new StartupSteps();
  steps.done('modules');
  const log = new DaemonLog();
  const scope = new DisposalScope();
  try {
    noDiagnosticDumps();
    const fdStore = openFdStore();
    const loading = scope.add(startLoading(OBJECT_PATH, fdStore, options, log.libbpf), (l) => l.close());
    const config = await checkedConfig(options);
    steps.done('config');
    scope.add(acquireInstanceLock(config.stateDir), (lock) => lock.release());
    const signals = scope.add(
      listenForSignals(() => log.reopen()),
      (s) => s.close(),
    );
    // Read once: it does not change while the daemon runs, but for the region cloud-init
    // records after a boot-time start (looked for again with each stats line until found).
    const identity = readHostIdentity();
    const verdicts = scope.add(
      new VerdictWriter({ logDir: config.logDir, identity, hostname: hostname(), version: options.version }),
      (v) => v.cancel(),
    );
    scope.add(log, (l) => l.close()).allowOpening(config, identity, (text) => verdicts.see(text));
    const capture = scope.add(await loading.attach(config), (c) => c.close());
    // From here on systemd holds the links and the buffer: they outlive this process through
    // a crash or a restart, and systemd lets go of them on a real stop.
    const continuous = fdStore.store(capture.continuityFds());
    steps.done('bpf_attached');
    // Capture is on: whatever starts from now on waits in the buffer until the pipeline reads
    // it. That is what units ordered after this one need.
    const readyUptimeMs = kernelUptimeMs();
    const notifier = createNotifier();
    notifier.ready(`attached ${capture.programs.length} programs (${capture.bufferKind}); opening the log`);
    steps.done('ready');
    const sink = await log.open();
    // What runs while the daemon serves, released before the final drain: every canary ends
    // with the daemon (canaries.ts says why).
    const serving = scope.child();
    const canaries = serving.add(await openCanaries(config.stateDir, capture.cgroupRoot, sink), (c) => c.close());
    const pipeline = await openPipeline(config, capture, sink, log, canaries);
    serving.add(capture.start(pipeline), (stop) => stop());
    capture.drain();
    steps.done('log_sink');
    const facts = { config, capture, pipeline, sink, notifier, identity, startedAt, fdStore, continuous, canaries };
    const status = new DaemonStatus({ ...facts, version: options.version, redactor: log.redactor });
    canaries.onChange(() => status.refresh());
    await status.ready(readyUptimeMs, steps.ms);
    pipeline.evidence.onFirstCount(() => status.stats());
    pipeline.seed(); // after READY: processes started after the attach are in the kernel's map already
    verdicts.start(sink, config.verdictIntervalSeconds);
    pipeline.evidence.start();
    serving.add(refreshCoreBtf(capture, sink), (stop) => stop());
    serving.add(
      notifier.startWatchdog(() => capture.drainLoopAlive()),
      (stop) => stop(),
    );
    serving.add(
      setInterval(() => {
        identity.region ??= readRegion();
        status.stats();
      }, config.statsIntervalSeconds * 1000),
      clearInterval,
    );

    const signal = await signals.stopped;
    notifier.stopping();
    setTimeout(() => process.exit(1), SHUTDOWN_DEADLINE_MS).unref();
    const [systemShutdown] = await Promise.all([systemShuttingDown(), serving.dispose()]);
    // Without systemd's store: detach first so no new record arrives, then drain the buffer.
    // With it, this may be a restart: the links stay attached and what arrives after this
    // drain waits in the buffer for the next daemon (on a real stop systemd closes them).
    if (!continuous) capture.detach();
    capture.drainAll();
    // Unless the system goes down, a next daemon may replay the journal: requests still
    // arriving are left to it.
    pipeline.flushAll(continuous && !systemShutdown);
    status.stopping(signal, systemShutdown);
    await verdicts.stop();
    return 0;
  } catch (err) {
    await log.failure(err);
    return exitCodeOf(err);
  } finally {
    await scope.dispose().catch((err: Error) => log.stderr(`while stopping: ${err.message}`));
  }
}

/** The pipeline from kernel records to log lines (built once the capture mounted its cgroup2 root). */
async function openPipeline(
  config: Config,
  capture: Capture,
  sink: LogSink,
  log: DaemonLog,
  canaries: CanaryService,
): Promise<Pipeline> {
  if (capture.coreBtfProblem) sink.lifecycle('error', { source: 'core-btf', message: capture.coreBtfProblem });
  const { Pipeline } = await import('./pipeline.js');
  const pipeline = new Pipeline(
    config,
    sink,
    capture.cgroupRoot,
    (token, uid) => log.redactor.rememberToken(token, uid),
    canaries,
  );
  // The first drain replays what the previous daemon read: what it logged is not logged again.
  if (capture.handover.journaled_records > 0) pipeline.takeOver(loggedRequests(config.logDir));
  return pipeline;
}

function exitCodeOf(err: unknown): number {
  if (err instanceof DaemonExit) return err.code;
  return err instanceof UnsupportedHostError || err instanceof LibbpfMissingError ? UNSUPPORTED_HOST_EXIT_CODE : 1;
}
