// Where the pipeline's request lines go: written in full, or counted into their program's
// summary line (../logic/summary.ts decides), the summaries written at each interval's end
// and at stop. A crash loses the counts not written yet: at most one interval's, of programs
// that already have a full line in it, and the log says the run held some from its first
// (docs/config.md).
import type { Config } from '../config/index.js';
import type { LogSink } from '../logging/index.js';
import { EvidenceSummariser } from '../logic/summary.js';
import type { RequestLine } from '../model/log-line.js';

/** How often the daemon looks for intervals that ended: a summary is written at most this long after. */
const DUE_CHECK_MS = 10_000;

export class RequestEvidence {
  private readonly summariser: EvidenceSummariser;
  private readonly enabled: boolean;
  private timer: NodeJS.Timeout | undefined;
  private firstCounted: (() => void) | undefined;

  constructor(
    config: Pick<Config, 'summary' | 'responseWaitMs'>,
    private readonly sink: LogSink,
    private readonly now: () => number = Date.now,
  ) {
    this.enabled = config.summary.enabled;
    this.summariser = new EvidenceSummariser(
      {
        intervalMs: config.summary.intervalSeconds * 1000,
        fullLinesPerInterval: config.summary.fullLinesPerInterval,
        // A request is handed over once its response came, or its wait ran out.
        graceMs: config.responseWaitMs + DUE_CHECK_MS,
      },
      process.pid,
    );
  }

  /** Requests counted into summaries so far (written or not). */
  get summarised(): number {
    return this.summariser.summarised;
  }

  /**
   * `said` is called once this run holds its first count not written as a line (at once if it
   * does already): it writes the line that tells the report so (`requests_summarised`), so a
   * crash before the next stats line cannot lose counts unnamed.
   */
  onFirstCount(said: () => void): void {
    this.firstCounted = said;
    if (this.summarised > 0) said();
  }

  write(line: RequestLine): void {
    const atMs = Date.parse(line.request_time);
    if (!this.enabled || this.summariser.writeInFull(line, Number.isNaN(atMs) ? this.now() : atMs))
      this.sink.request(line);
    else if (this.summarised === 1) this.firstCounted?.();
  }

  /** Writes the summaries of the intervals that ended by now. */
  writeDue(): void {
    this.writeSummaries(this.summariser.due(this.now()));
  }

  /** Checks for ended intervals every few seconds until stop(). */
  start(): void {
    this.timer = setInterval(() => this.writeDue(), DUE_CHECK_MS);
    this.timer.unref();
  }

  /** Every count held is written (before the stopping line). */
  stop(): void {
    clearInterval(this.timer);
    this.writeSummaries(this.summariser.flushAll());
  }

  private writeSummaries(summaries: ReturnType<EvidenceSummariser['due']>): void {
    for (const { event: _, ...body } of summaries) this.sink.lifecycle('summary', body);
  }
}
