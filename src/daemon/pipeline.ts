// From kernel records to log lines: process records feed the process table, socket
// records feed the connection tracker, and every completed request is enriched
// (process, ancestry, unit, container, SDK, fallback, advice) and written.
import type { KernelStatName } from '../capture/abi.js';
import { LongestTurn, type RecordReceiver } from '../capture/capture.js';
import { HANDOVER_RECORDS, TURN_BUDGET_MS } from '../capture/drain.js';
import type { ImdsVersion } from '../model/imds.js';
import type { RequestCanary } from '../model/canary.js';
import type { Counters } from '../model/log-line.js';
import type { CloseRecord, KernelRecord, PayloadRecord, ResponseRecord } from '../model/records.js';
import type { Config } from '../config/index.js';
import { Enricher } from '../enrich/index.js';
import type { LogSink } from '../logging/index.js';
import type { LoggedRequests } from './logged-requests.js';
import { RequestEvidence } from './request-evidence.js';
import {
  type AcceptedTokenSink,
  ConnectionTracker,
  MAX_TRACKED_CONNECTIONS,
  type ObservedRequest,
} from '../logic/connections.js';
import { imdsEndpoint } from '../logic/destination.js';
import { FallbackDetector } from '../logic/fallback.js';
import { buildRequestLine, requestKey, requestKeyOfOlderLine } from '../logic/request-line.js';

/** Expired requests completed (and written) at a time within a turn: the turn's clock is read between. */
const EXPIRED_AT_A_TIME = HANDOVER_RECORDS;

/** SDK token-PUT timeouts are 1 s or more; a PUT unanswered this long is taken as given up. */
const GAVE_UP_ON_PUT_NS = 500_000_000n;

/** The clocks the pipeline reads: the wall clock (ms) and CLOCK_MONOTONIC (ns), as kernel records carry it. */
export interface PipelineClock {
  wallMs: () => number;
  monoNs: () => bigint;
}
const systemClock: PipelineClock = { wallMs: Date.now, monoNs: () => process.hrtime.bigint() };

export class Pipeline implements RecordReceiver {
  private readonly tracker: ConnectionTracker;
  private readonly enricher: Enricher;
  private readonly fallback = new FallbackDetector();
  private readonly requests: Record<ImdsVersion, number> = { v1: 0, v2: 0, unknown: 0 };
  private decodeErrors = 0;
  /** The longest turn the expiry timer took to write the requests whose wait expired. */
  private readonly longestExpiryTurn = new LongestTurn();
  /** Requests a previous daemon already logged (keys from the log), while its records are replayed. */
  private alreadyLogged = new Set<string>();
  private replayedDuplicates = 0;
  private recordErrors = 0;
  /** Socket records whose destination is not IMDS (expected 0: the kernel filters them). */
  private notImds = 0;
  private deadlineTimer: NodeJS.Timeout | null = null;
  /** The turn that takes the rest of an expiry pass that used up its turn, once scheduled. */
  private expiryTurn: NodeJS.Immediate | null = null;
  /** Where request lines go: in full, or into their program's summary. */
  readonly evidence: RequestEvidence;
  /**
   * Offset from CLOCK_MONOTONIC (kernel record times) to wall-clock milliseconds, read again
   * for every batch: the wall clock steps (chrony after boot), the monotonic one does not.
   */
  private monoToWallMs = 0;

  /** `cgroupRoot`: the cgroup2 mount the capture attached to (built after the daemon mounted it). */
  constructor(
    config: Config,
    private readonly sink: LogSink,
    cgroupRoot: string,
    /** Where token header values IMDS accepted go (the redactor's known secrets). */
    onToken: AcceptedTokenSink | null = null,
    /** The daemon's canaries: their header tells a refused tokenless request (docs/canary.md). */
    private readonly canaries: {
      isCanaryToken: (value: string) => boolean;
      canaryFor: (cgroup: string | null) => RequestCanary | null;
    } | null = null,
    private readonly clock: PipelineClock = systemClock,
  ) {
    this.evidence = new RequestEvidence(config, sink, clock.wallMs);
    this.tracker = new ConnectionTracker(
      BigInt(config.responseWaitMs) * 1_000_000n,
      MAX_TRACKED_CONNECTIONS,
      onToken,
      canaries?.isCanaryToken ?? null,
    );
    this.enricher = new Enricher({ maxProcesses: config.processTableMaxEntries, cgroupRoot });
  }

  /** Learns the processes that exist before the first record arrives. */
  seed(): void {
    this.enricher.seedFromProc();
  }

  /** A few records of a drain turn; the requests they complete are written at once. */
  handle(records: KernelRecord[]): void {
    for (const rec of records) {
      try {
        this.record(rec);
      } catch (err) {
        this.recordError(`${rec.kind} record`, err);
      }
    }
    this.emit(this.tracker.takeFinished());
  }

  /**
   * Once per drain turn, and when a wait expires: requests whose wait expired (a pass over every
   * connection), written a few at a time until none are left or the turn has worked for
   * TURN_BUDGET_MS, as the drain's turns are bounded; the next turn goes on with the pass.
   */
  endOfTurn(): void {
    const deadline = process.hrtime.bigint() + BigInt(TURN_BUDGET_MS * 1_000_000);
    for (;;) {
      const { requests, passDone } = this.tracker.expire(this.clock.monoNs(), EXPIRED_AT_A_TIME);
      this.emit(requests);
      if (passDone) break;
      if (process.hrtime.bigint() >= deadline) {
        this.expiryTurn ??= setImmediate(() => {
          this.expiryTurn = null;
          this.longestExpiryTurn.measure(() => this.endOfTurn());
        }).unref();
        return;
      }
    }
    this.scheduleExpiry();
  }

  private record(rec: KernelRecord): void {
    switch (rec.kind) {
      case 'process':
      case 'cgroup':
        this.enricher.apply(rec);
        break;
      case 'payload':
      case 'response':
      case 'close':
        // Defence in depth: whatever the kernel filter becomes, ECS, EKS Pod Identity
        // or anything else is never reported as IMDS.
        if (!imdsEndpoint(rec.flow.family, rec.flow.address, rec.flow.port)) {
          this.notImds++;
          break;
        }
        this.socketRecord(rec);
        break;
    }
  }

  private recordError(what: string, err: unknown): void {
    this.recordErrors++;
    // The message only: a stack or the record itself could hold request bytes.
    this.sink.lifecycle('error', {
      source: 'pipeline',
      message: `${what} skipped: ${err instanceof Error ? err.message : String(err)}`,
    });
  }

  private socketRecord(rec: PayloadRecord | ResponseRecord | CloseRecord): void {
    switch (rec.kind) {
      case 'payload':
        if (rec.owner && this.tracker.isNew(rec.flow.cookie)) this.enricher.observe(rec.owner);
        this.tracker.onPayload(rec);
        break;
      case 'response':
        this.tracker.onResponse(rec);
        break;
      case 'close':
        this.tracker.onClose(rec);
        break;
    }
  }

  /**
   * Records a previous daemon read are replayed: the requests it had not logged yet are
   * logged now, those it logged (their keys) are not logged again, and each connection it
   * logged is taken up where it stood.
   */
  takeOver(logged: LoggedRequests): void {
    this.alreadyLogged = logged.keys;
    this.tracker.resumeFrom(logged.resumePoints);
  }

  decodeError(err: Error): void {
    this.decodeErrors++;
    this.sink.lifecycle('error', { source: 'decode', message: err.message });
  }

  captureError(source: 'drain' | 'journal', err: Error): void {
    this.sink.lifecycle('error', { source, message: err.message });
  }

  /**
   * Shutdown: writes every request still waiting for a response, then every summary held. `handingOver`: a next
   * daemon replays these records (systemd keeps the capture), so requests still arriving
   * and data behind a hole are left to it (ConnectionTracker.completeWaiting).
   */
  flushAll(handingOver = false): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    if (this.expiryTurn) clearImmediate(this.expiryTurn);
    this.expiryTurn = null;
    this.emit(handingOver ? this.tracker.completeWaiting() : this.tracker.flushAll());
    this.evidence.stop();
  }

  /** Kernel time of the oldest record a daemon taking over would need again (the journal keeps it). */
  neededSinceNs(): bigint | null {
    return this.tracker.oldestNeededNs();
  }

  counters(
    kernel: Record<KernelStatName, bigint>,
    perfLost: bigint,
    sink: { linesWritten: number; linesNotWritten: number; writeErrors: number },
    daemon: { drainErrors: number; statusWriteErrors: number; longestDrainTurn: LongestTurn },
  ): Counters {
    const longest = LongestTurn.longer(daemon.longestDrainTurn, this.longestExpiryTurn);
    const kernelNumbers = Object.fromEntries(
      Object.entries(kernel).map(([name, value]) => [name, Number(value)]),
    ) as Record<KernelStatName, number>;
    return {
      requests: { ...this.requests },
      kernel: { ...kernelNumbers, perf_buffer_lost: Number(perfLost) },
      decode_errors: this.decodeErrors,
      replayed_duplicates: this.replayedDuplicates,
      record_errors: this.recordErrors,
      drain_errors: daemon.drainErrors,
      status_write_errors: daemon.statusWriteErrors,
      streams: this.tracker.counters(),
      not_imds_records: this.notImds,
      tracked_connections: this.tracker.trackedConnections,
      longest_drain_turn_ms: Math.round(longest.wallMs * 10) / 10,
      longest_drain_turn_cpu_ms: Math.round(longest.cpuMs * 10) / 10,
      requests_summarised: this.evidence.summarised,
      lines_written: sink.linesWritten,
      lines_not_written: sink.linesNotWritten,
      write_errors: sink.writeErrors,
    };
  }

  private emit(done: ObservedRequest[]): void {
    if (done.length === 0) return;
    this.monoToWallMs = this.clock.wallMs() - Number(this.clock.monoNs() / 1_000_000n);
    for (const observed of done) {
      try {
        this.emitOne(observed);
      } catch (err) {
        this.recordError('request', err);
      }
    }
  }

  private emitOne(observed: ObservedRequest): void {
    const who = this.enricher.describe(observed.owner, observed.socketUid, observed.socketCgroupId);
    const processKey = who.key;
    const atNs = observed.seenNs;
    if (observed.classification.token_request) {
      this.fallback.onTokenRequest({ process: processKey, status: observed.status ?? 'no-answer', atNs });
    }
    if (observed.classification.imds_version === 'v1' && observed.owner) {
      // A token PUT of the same process still unanswered after a while means the SDK gave
      // up on it (a younger one may belong to another thread of the same process).
      for (const pending of this.tracker.unansweredTokenRequests(observed.owner.pid)) {
        if (atNs - pending.seenNs < GAVE_UP_ON_PUT_NS) continue;
        this.fallback.onTokenRequest({ process: processKey, status: 'no-answer', atNs: pending.seenNs });
      }
    }
    const fallback =
      observed.classification.imds_version === 'v1' ? this.fallback.onV1Request({ process: processKey, atNs }) : null;
    // After the fallback state took it in: a replayed request still tells what came before.
    const cookie = observed.flow.cookie.toString();
    if (
      this.alreadyLogged.delete(requestKey(cookie, observed.startSeq)) ||
      this.alreadyLogged.delete(requestKeyOfOlderLine(cookie, observed.seenNs.toString()))
    ) {
      this.replayedDuplicates++;
      return;
    }
    const canary = observed.request.canaryHeader ? (this.canaries?.canaryFor(who.cgroup) ?? null) : null;
    const line = buildRequestLine(observed, who, fallback, this.wallTime(observed.seenNs), canary);
    this.requests[observed.classification.imds_version]++;
    this.evidence.write(line);
  }

  /** Wakes up only when a request's wait for its response expires. */
  private scheduleExpiry(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    const deadline = this.tracker.nextDeadline();
    if (deadline === null) return;
    const delayMs = Math.max(1, Number((deadline - this.clock.monoNs()) / 1_000_000n) + 1);
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = null;
      this.longestExpiryTurn.measure(() => this.endOfTurn());
    }, delayMs);
    this.deadlineTimer.unref();
  }

  private wallTime(monoNs: bigint): string {
    return new Date(this.monoToWallMs + Number(monoNs / 1_000_000n)).toISOString();
  }
}
