// What the daemon tells about itself: the ready, stats and stopping lines, status.json for
// `imds-analyzer status`, and systemd's one-line STATUS=.
import { release } from 'node:os';
import type { Capture } from '../capture/capture.js';
import type { Config } from '../config/index.js';
import type { HostIdentity } from '../logic/host-identity.js';
import type { LogSink } from '../logging/index.js';
import type { Redactor } from '../logging/redactor.js';
import type { ActiveCanary } from '../model/canary.js';
import type { Counters, DaemonDescription } from '../model/log-line.js';
import { processStartTicks } from '../state/instance-lock.js';
import { writeStatusFile } from '../state/status-file.js';
import type { FdStore } from './fd-store.js';
import type { ServiceNotifier } from './notify.js';
import type { Pipeline } from './pipeline.js';

export interface DaemonFacts {
  config: Config;
  capture: Capture;
  pipeline: Pipeline;
  sink: LogSink;
  notifier: ServiceNotifier;
  redactor: Redactor;
  identity: HostIdentity;
  version: string;
  startedAt: Date;
  fdStore: FdStore;
  /** systemd's fd store holds the links and the buffer. */
  continuous: boolean;
  /** The canaries running, for status.json. */
  canaries: { list(): ActiveCanary[] };
}

export class DaemonStatus {
  private statusWriteErrors = 0;
  private statusWriteFailing = false;
  /** With the pid, tells `status` whether status.json's daemon still runs. */
  private readonly ownStartTicks = processStartTicks(process.pid) ?? 0;

  constructor(private readonly facts: DaemonFacts) {}

  /** instance_id and boot_id are on every line already (the sink's base fields). */
  describe(): DaemonDescription {
    const { capture, config } = this.facts;
    return {
      kernel_release: release(),
      libbpf_version: capture.libbpfVersion,
      core_btf: capture.coreBtf,
      buffer: capture.bufferKind,
      cgroup_root: capture.cgroupRoot,
      programs: capture.programs.map((p) => p.name),
      program_ids: Object.fromEntries(capture.programs.map((p) => [p.name, p.id])),
      handover: {
        inherited_fds: this.facts.fdStore.inherited.length,
        fd_store: this.facts.continuous,
        ...capture.handover,
      },
      version: this.facts.version,
      pid: process.pid,
      log_dir: config.logDir,
    };
  }

  counters(): Counters {
    const { capture, pipeline, sink } = this.facts;
    return pipeline.counters(capture.kernelStats(), capture.perfLost, sink.counters(), {
      drainErrors: capture.drainErrors,
      statusWriteErrors: this.statusWriteErrors,
      longestDrainTurn: capture.longestDrainTurn,
    });
  }

  /** For systemd's STATUS=. */
  private text(): string {
    const { capture } = this.facts;
    const c = this.counters();
    return `attached ${capture.programs.length} programs (${capture.bufferKind}); requests v1=${c.requests.v1} v2=${c.requests.v2} unknown=${c.requests.unknown}; lost=${c.kernel.events_lost}`;
  }

  /** `uptimeMs` at READY tells the report whether this daemon saw its boot from the start. */
  async ready(uptimeMs: number | null, startupMs: Record<string, number>): Promise<void> {
    const c = this.counters();
    this.facts.sink.lifecycle('ready', {
      ...this.describe(),
      ...c,
      uptime_ms: uptimeMs,
      startup_ms: startupMs,
      capture_continued: this.facts.capture.captureGap === null,
      capture_gap: this.facts.capture.captureGap,
    });
    this.writeStatus(c);
    await this.facts.sink.flush();
    this.facts.notifier.status(this.text());
  }

  stats(): void {
    const c = this.counters();
    this.facts.sink.lifecycle('stats', {
      ...this.describe(),
      ...c,
      interval_s: this.facts.config.statsIntervalSeconds,
    });
    this.writeStatus(c);
    this.facts.notifier.status(this.text());
  }

  stopping(signal: NodeJS.Signals, systemShutdown: boolean): void {
    this.facts.sink.lifecycle('stopping', {
      ...this.describe(),
      signal,
      ...this.counters(),
      system_shutdown: systemShutdown,
    });
  }

  /** status.json anew (a canary started or ended), without a stats line. */
  refresh(): void {
    this.writeStatus(this.counters());
  }

  private writeStatus(counters: Counters): void {
    const { config, redactor, identity, startedAt, sink } = this.facts;
    try {
      writeStatusFile(
        config.stateDir,
        redactor.value({
          ...identity,
          ...this.describe(),
          pid_start_ticks: this.ownStartTicks,
          started_at: startedAt.toISOString(),
          counters,
          canaries: this.facts.canaries.list(),
          updated_at: new Date().toISOString(),
        }),
      );
      this.statusWriteFailing = false;
    } catch (err) {
      // `status` shows stale numbers; the log's stats line has them all. Said once per streak.
      this.statusWriteErrors++;
      if (!this.statusWriteFailing) sink.lifecycle('error', { source: 'status-file', message: (err as Error).message });
      this.statusWriteFailing = true;
    }
  }
}
