// Counters of evidence the daemon may not have seen, and how much of each fell inside the
// window. Every one of them can hide an IMDSv1 request, so each one blocks a YES with its
// own reason. The counters on ready, stats and stopping lines are cumulative since their
// run started, so a rise between two lines happened between them: a loss counts when that
// stretch reaches into the window, wherever the line that reports it lies. Pure.
import type { StoredLineOf } from '../../model/stored-line.js';
import { plural } from './duration.js';
import type { ReasonCode } from './schema.js';

/** A line that carries the daemon's counters. */
export type CounterLine = StoredLineOf<'ready'> | StoredLineOf<'stats'> | StoredLineOf<'stopping'>;

interface LossCounter {
  code: ReasonCode;
  read: (line: CounterLine) => number;
  /** The reason's message for `n` of it: what was missed, and what to do. */
  message: (n: number) => string;
}

const MAY_HIDE = 'IMDSv1 requests may be among them';
const OBSERVE_AGAIN = 'then observe a window without loss';

export const LOSS_COUNTERS: readonly LossCounter[] = [
  {
    code: 'events_lost',
    read: (l) => l.kernel?.events_lost ?? 0,
    message: (n) =>
      `${plural(n, 'request record')} did not fit in the ring buffer (kernel.events_lost): ${MAY_HIDE}; enlarge the buffer (buffer.ringSizeKB), ${OBSERVE_AGAIN}`,
  },
  {
    code: 'perf_buffer_lost',
    read: (l) => l.kernel?.perf_buffer_lost ?? 0,
    message: (n) =>
      `${plural(n, 'record')} lost by the perf buffer (kernel.perf_buffer_lost): ${MAY_HIDE}; enlarge the buffer (buffer.perfPagesPerCpu), ${OBSERVE_AGAIN}`,
  },
  {
    code: 'decode_errors',
    read: (l) => l.decode_errors ?? 0,
    message: (n) =>
      `${plural(n, 'record')} could not be decoded (decode_errors): ${MAY_HIDE}; reinstall the package so the daemon and its BPF object match, ${OBSERVE_AGAIN}`,
  },
  {
    code: 'record_errors',
    read: (l) => l.record_errors ?? 0,
    message: (n) =>
      `handling failed for ${plural(n, 'record')} (record_errors): ${MAY_HIDE}; the daemon's error lines name the failure, ${OBSERVE_AGAIN}`,
  },
  {
    code: 'drain_errors',
    read: (l) => l.drain_errors ?? 0,
    message: (n) =>
      `${plural(n, 'buffer drain')} failed (drain_errors): records may have stayed unread, ${MAY_HIDE}; the daemon's error lines name the failure, ${OBSERVE_AGAIN}`,
  },
  {
    code: 'parse_errors',
    read: (l) => l.kernel?.parse_errors ?? 0,
    message: (n) =>
      `the kernel could not read the headers of ${plural(n, 'packet')} to IMDS (kernel.parse_errors): ${MAY_HIDE}; ${OBSERVE_AGAIN}`,
  },
  {
    code: 'responses_unmatched',
    read: (l) => l.streams?.responses_unmatched ?? 0,
    message: (n) =>
      `IMDS answered ${plural(n, 'request')} the daemon did not see (streams.responses_unmatched): ${MAY_HIDE}; ${OBSERVE_AGAIN}`,
  },
  {
    code: 'stream_holes',
    read: (l) => (l.streams?.holes_skipped ?? 0) + (l.streams?.hole_bytes ?? 0) + (l.streams?.bytes_skipped ?? 0),
    message: (n) =>
      `parts of request streams were not seen (streams.holes_skipped, hole_bytes, bytes_skipped add up to ${n}): ${MAY_HIDE}; ${OBSERVE_AGAIN}`,
  },
  {
    code: 'lines_not_written',
    read: (l) => l.lines_not_written ?? 0,
    message: (n) =>
      `the daemon could not write ${plural(n, 'log line')} (lines_not_written: disk full or write errors): free space in the log directory, ${OBSERVE_AGAIN}`,
  },
];

/**
 * One cumulative counter of one run, read from its lines in any order: the highest value
 * reported before the window, the lowest reported at or after its end, the highest of all.
 */
export class WindowedCounter {
  private beforeWindow = 0;
  private atOrAfterEnd = Infinity;
  private highest = 0;

  see(value: number, atMs: number, window: { sinceMs?: number | undefined; untilMs?: number | undefined }): void {
    if (window.sinceMs !== undefined && atMs < window.sinceMs) this.beforeWindow = Math.max(this.beforeWindow, value);
    if (window.untilMs !== undefined && atMs >= window.untilMs) this.atOrAfterEnd = Math.min(this.atOrAfterEnd, value);
    this.highest = Math.max(this.highest, value);
  }

  /** A copy of a counter, or of a structured clone of one (data only). */
  static from(data: WindowedCounter): WindowedCounter {
    const counter = new WindowedCounter();
    counter.absorb(data);
    return counter;
  }

  /** The same run's counter as read by another reader: as if its lines had been seen here. */
  absorb(other: WindowedCounter): void {
    this.beforeWindow = Math.max(this.beforeWindow, other.beforeWindow);
    this.atOrAfterEnd = Math.min(this.atOrAfterEnd, other.atOrAfterEnd);
    this.highest = Math.max(this.highest, other.highest);
  }

  /** What rose between the last line before the window and the first line at or after its end. */
  get inWindow(): number {
    return Math.max(0, Math.min(this.atOrAfterEnd, this.highest) - this.beforeWindow);
  }
}
