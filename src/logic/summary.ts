// Bounded evidence: which requests are written in full and which are counted into a summary
// line, per program (the report's own grouping key) and per interval. Every interval shows
// each program's first request in full; IMDSv1, unclassified and non-AWS requests also get a
// full line for each new path and each new status, and full lines up to a rate; everything
// else is counted exactly (counts, first and last time, statuses, paths). Pure: the caller
// writes the lines and calls due() at interval ends and flushAll() at stop.
import type { RequestLine, SummaryFields } from '../model/log-line.js';
import { kindOf } from './report/host-evidence.js';
import { countPath, emptyPathCounts, type PathCounts } from './report/path-counts.js';
import { type Caller, ProgramIdentities } from './report/program.js';

export interface SummaryRules {
  intervalMs: number;
  /** Full lines per program and interval for IMDSv1, unclassified and non-AWS requests (new paths and statuses beyond them). */
  fullLinesPerInterval: number;
  /** A request may be handed over this long after its interval ended (its response wait): the interval is summed up after it. */
  graceMs: number;
}

/** Programs followed at once; a program beyond them has every request written in full. */
export const MAX_SUMMARISED_PROGRAMS = 10_000;

interface Fold {
  line: RequestLine;
  fromMs: number;
  toMs: number;
  requests: number;
  statuses: Map<number | null, number>;
  paths: PathCounts;
  fallbacks: number;
}

interface ProgramInterval {
  interval: number;
  fullLines: number;
  paths: Set<string>;
  statuses: Set<number | null>;
  fold: Fold | null;
}

export function callerOf(line: RequestLine): Caller {
  return {
    exe: line.process.exe,
    comm: line.process.comm,
    argv: line.process.argv,
    ancestorArgvs: line.ancestors.map((a) => a.argv),
    unit: line.unit,
    runtime: line.container?.runtime ?? null,
    sdk: line.sdk,
  };
}

export class EvidenceSummariser {
  private readonly programs = new ProgramIdentities();
  private readonly current = new Map<string, ProgramInterval>();
  /** Folds of intervals that ended, waiting for due(). */
  private readonly ended: Fold[] = [];
  /** Requests counted into folds so far (written or not). */
  summarised = 0;

  constructor(
    private readonly rules: SummaryRules,
    /** The daemon's pid, on every summary line. */
    private readonly pid: number,
  ) {}

  /** Whether the request gets its own line (true) or was counted into its program's summary (false). */
  writeInFull(line: RequestLine, atMs: number): boolean {
    const kind = kindOf(line);
    const key = this.programs.keyOf(kind, callerOf(line));
    const interval = Math.floor(atMs / this.rules.intervalMs);
    let state = this.current.get(key);
    if (state && state.interval !== interval) {
      // A late request of an interval already over (or summed up) is written whole.
      if (interval < state.interval) return true;
      if (state.fold) this.ended.push(state.fold);
      state = undefined;
    }
    if (!state) {
      if (this.current.size >= MAX_SUMMARISED_PROGRAMS) return true;
      state = { interval, fullLines: 0, paths: new Set(), statuses: new Set(), fold: null };
      this.current.set(key, state);
    }
    const status = line.response?.status ?? null;
    const path = line.request.path;
    const evidence = kind !== 'imdsv2';
    const news = evidence && (!state.paths.has(path) || !state.statuses.has(status));
    const full =
      state.fullLines === 0 ||
      (evidence && state.fullLines < this.rules.fullLinesPerInterval) ||
      (news && state.fullLines < 2 * this.rules.fullLinesPerInterval);
    if (full) {
      state.fullLines++;
      state.paths.add(path);
      state.statuses.add(status);
      return true;
    }
    this.fold(state, line, atMs, status);
    return false;
  }

  private fold(state: ProgramInterval, line: RequestLine, atMs: number, status: number | null): void {
    state.fold ??= {
      line,
      fromMs: atMs,
      toMs: atMs,
      requests: 0,
      statuses: new Map(),
      paths: emptyPathCounts(),
      fallbacks: 0,
    };
    const fold = state.fold;
    fold.requests++;
    fold.fromMs = Math.min(fold.fromMs, atMs);
    fold.toMs = Math.max(fold.toMs, atMs);
    fold.statuses.set(status, (fold.statuses.get(status) ?? 0) + 1);
    countPath(fold.paths, line.request.path);
    if (line.fallback) fold.fallbacks++;
    this.summarised++;
  }

  /** Summary lines of the intervals that ended (with their grace) by `nowMs`. */
  due(nowMs: number): SummaryFields[] {
    const over = Math.floor((nowMs - this.rules.graceMs) / this.rules.intervalMs);
    for (const [key, state] of this.current) {
      if (state.interval >= over) continue;
      if (state.fold) this.ended.push(state.fold);
      this.current.delete(key);
    }
    return this.ended.splice(0).map((fold) => this.summaryOf(fold));
  }

  /** Every count held, as summary lines (at stop). */
  flushAll(): SummaryFields[] {
    return this.due(Infinity);
  }

  private summaryOf(fold: Fold): SummaryFields {
    const { line } = fold;
    const { comm, exe, argv, uid, user } = line.process;
    return {
      event: 'summary',
      pid: this.pid,
      imds_version: line.imds_version,
      aws_api: line.aws_api,
      process: { comm, exe, argv, uid, user },
      ancestors: line.ancestors,
      unit: line.unit,
      container: line.container && {
        runtime: line.container.runtime,
        id: line.container.id,
        ...(line.container.pod_uid === undefined ? {} : { pod_uid: line.container.pod_uid }),
        ...(line.container.ecs_task === undefined ? {} : { ecs_task: line.container.ecs_task }),
      },
      sdk: line.sdk,
      from: new Date(fold.fromMs).toISOString(),
      to: new Date(fold.toMs).toISOString(),
      requests: fold.requests,
      statuses: [...fold.statuses].map(([status, requests]) => ({ status, requests })),
      paths: [...fold.paths.listed]
        .sort((a, b) => (a[0] < b[0] ? -1 : 1))
        .map(([path, requests]) => ({ path, requests })),
      paths_unlisted: fold.paths.others,
      fallbacks: fold.fallbacks,
    };
  }
}
