// From kernel records to log lines: process records feed the process table, socket
// records feed the connection tracker, and every completed request is enriched
// (process, ancestry, unit, container, SDK, fallback, advice) and written.
import type { KernelStatName } from '../capture/abi.js';
import type { ImdsVersion } from '../model/imds.js';
import type { Counters } from '../model/log-line.js';
import type { CloseRecord, KernelRecord, PayloadRecord, ResponseRecord } from '../model/records.js';
import type { Config } from '../config/index.js';
import { Enricher } from '../enrich/index.js';
import type { LogSink } from '../logging/index.js';
import { ConnectionTracker, type ObservedRequest } from '../logic/connections.js';
import { imdsEndpoint } from '../logic/destination.js';
import { FallbackDetector } from '../logic/fallback.js';
import { buildRequestLine } from '../logic/request-line.js';


/** SDK token-PUT timeouts are 1 s or more; a PUT unanswered this long is taken as given up. */
const GAVE_UP_ON_PUT_NS = 500_000_000n;


export class Pipeline {
  private readonly tracker: ConnectionTracker;
  private readonly enricher: Enricher;
  private readonly fallback = new FallbackDetector();
  private readonly requests: Record<ImdsVersion, number> = { v1: 0, v2: 0, unknown: 0 };
  private decodeErrors = 0;
  /** Socket records whose destination is not IMDS (expected 0: the kernel filters them). */
  private notImds = 0;
  private deadlineTimer: NodeJS.Timeout | null = null;
  /** Offset from CLOCK_MONOTONIC (kernel record times) to wall-clock milliseconds. */
  private readonly monoToWallMs = Date.now() - Number(process.hrtime.bigint() / 1_000_000n);

  constructor(
    config: Config,
    private readonly sink: LogSink,
  ) {
    this.tracker = new ConnectionTracker(BigInt(config.responseWaitMs) * 1_000_000n);
    this.enricher = new Enricher({ maxProcesses: config.processTableMaxEntries });
  }

  /** Learns the processes that exist before the first record arrives. */
  seed(): void {
    this.enricher.seedFromProc();
  }

  handle(records: KernelRecord[]): void {
    for (const rec of records) {
      switch (rec.kind) {
        case 'process':
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
    this.emit(this.tracker.takeCompleted(process.hrtime.bigint()));
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

  decodeError(err: Error): void {
    this.decodeErrors++;
    this.sink.lifecycle('error', { source: 'decode', message: err.message });
  }

  /** Writes every request still waiting for a response (shutdown). */
  flushAll(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.emit(this.tracker.flushAll());
  }

  counters(
    kernel: Record<KernelStatName, bigint>,
    perfLost: bigint,
    sink: { linesWritten: number; linesNotWritten: number; writeErrors: number },
  ): Counters {
    const kernelNumbers = Object.fromEntries(
      Object.entries(kernel).map(([name, value]) => [name, Number(value)]),
    ) as Record<KernelStatName, number>;
    return {
      requests: { ...this.requests },
      kernel: { ...kernelNumbers, perf_buffer_lost: Number(perfLost) },
      decode_errors: this.decodeErrors,
      not_imds_records: this.notImds,
      tracked_connections: this.tracker.trackedConnections,
      lines_written: sink.linesWritten,
      lines_not_written: sink.linesNotWritten,
      write_errors: sink.writeErrors,
    };
  }

  private emit(done: ObservedRequest[]): void {
    for (const observed of done) {
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
      const line = buildRequestLine(observed, who, fallback, this.wallTime(observed.seenNs));
      this.requests[observed.classification.imds_version]++;
      this.sink.request(line);
    }
    this.scheduleExpiry();
  }

  /** Wakes up only when a request's wait for its response expires. */
  private scheduleExpiry(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    const deadline = this.tracker.nextDeadline();
    if (deadline === null) return;
    const delayMs = Math.max(1, Number((deadline - process.hrtime.bigint()) / 1_000_000n) + 1);
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = null;
      this.emit(this.tracker.takeCompleted(process.hrtime.bigint()));
    }, delayMs);
    this.deadlineTimer.unref();
  }

  private wallTime(monoNs: bigint): string {
    return new Date(this.monoToWallMs + Number(monoNs / 1_000_000n)).toISOString();
  }
}
