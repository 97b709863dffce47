// What one host's lines prove: whether its daemons saw everything, for long enough, that
// "no IMDSv1 request" means "no IMDSv1 caller". A host is NO on one IMDSv1 request; YES only
// when every condition holds; UNKNOWN otherwise, with one reason per missing condition
// saying what to do about it (docs/report.md has them in one table). Lines come in typed
// from the contract (readStoredLine), in any order; the window (--since, --until) limits
// what is judged, never which lines are read: a run's start or a loss's counters may lie
// outside it.
import type { StoredLineOf, StoredLogLine } from '../../model/stored-line.js';
import {
  type Coverage,
  type Gap,
  type GapKind,
  type Interval,
  type RunSpan,
  type TimeWindow,
  coverageOf,
  unionOf,
} from './coverage.js';
import { formatDuration, plural } from './duration.js';
import { type CounterLine, LOSS_COUNTERS, WindowedCounter } from './losses.js';
import { mayBeAwsApiPath } from '../classify.js';
import type { Answer, CallerGroup, HostVerdict, Reason } from './schema.js';

/**
 * A daemon whose READY came at most this long after the kernel started was started by the
 * boot itself: the unit runs before network-pre.target. Installing by user data (cloud-final)
 * or by SSM happens later, after cloud-init's own IMDS calls (docs/report.md, "Started in
 * early boot", says when each happens and why this bound separates them).
 */
export const EARLY_BOOT_MS = 30_000;
/** Default minimum observation: programs that run daily must have had their chance. */
export const DEFAULT_MIN_OBSERVED_MS = 24 * 3600_000;
/** Gaps named one by one in a reason; the rest are counted. */
const MAX_GAPS_NAMED = 3;
/**
 * How late a stats line may come beyond its interval (a drain turn, a busy machine): two
 * consecutive lines of a run further apart than both intervals and twice this leave a hole.
 */
const STATS_LATE_MS = 30_000;

export interface EvidenceRules extends TimeWindow {
  minObservedMs: number;
  requireBootFromStart: boolean;
}

/** One daemon run (a boot and a pid): what its lines state, and its cumulative counters. */
type Ready = NonNullable<RunSpan['ready']>;

interface Run {
  span: RunSpan;
  /** Ready lines after the first with the same boot and pid: a reused pid, so another daemon. */
  laterReadies: Ready[];
  losses: WindowedCounter[];
  processLost: WindowedCounter;
  /** It counted requests into summary lines (a summary line of its own, or its counters say so). */
  summarised: boolean;
  /** Around each stats line, its interval and STATS_LATE_MS each way: where the run's next line is due (sorted, merged). */
  alive: Interval[];
  /** The longest stats interval the run stated (0: none, so no line is due at any time). */
  statsIntervalMs: number;
}

export function imdsv1Callers(programs: number, requests: number): string {
  return `${plural(programs, 'program')} still use${programs === 1 ? 's' : ''} IMDSv1 (${plural(requests, 'request')})`;
}
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * What a request line is to the verdict. A request cut inside its path that an older daemon
 * judged not AWS (`GET /lat`, then a hole) is judged again: any beginning of an AWS API path
 * counts as one. A version this report does not know is not proof of IMDSv2.
 */
export function kindOf(line: {
  imds_version?: string | undefined;
  aws_api?: boolean | undefined;
  request?: { path?: string | undefined } | undefined;
}): CallerGroup['kind'] {
  const version = line.imds_version;
  if (version === 'v1' || version === 'v2')
    return line.aws_api === false ? 'not_aws_api' : version === 'v1' ? 'imdsv1' : 'imdsv2';
  return line.aws_api === false && !mayBeAwsApiPath(line.request?.path ?? '') ? 'not_aws_api' : 'unknown';
}

/**
 * What a summary line's requests are to the verdict: its requests are one program's of one
 * kind, so its version and paths give that kind as kindOf gave it for each of them; paths not
 * listed may be AWS API paths.
 */
export function summaryKindOf(line: StoredLineOf<'summary'>): CallerGroup['kind'] {
  const { imds_version, aws_api } = line;
  const paths = line.paths ?? [];
  if ((line.paths_unlisted ?? 0) > 0 || paths.length === 0) return kindOf({ imds_version, aws_api });
  const kinds = paths.map((p) => kindOf({ imds_version, aws_api, request: { path: p.path } }));
  return kinds.includes('unknown') ? 'unknown' : (kinds[0] as CallerGroup['kind']);
}

/** When a summary line's requests were made (its write time when it does not say). */
export function summarySpan(line: StoredLineOf<'summary'>): { fromMs: number; toMs: number } {
  const fromMs = Date.parse(line.from ?? '');
  const toMs = Date.parse(line.to ?? '');
  if (Number.isNaN(fromMs) || Number.isNaN(toMs) || toMs < fromMs) return { fromMs: line.time, toMs: line.time };
  return { fromMs, toMs };
}

const isCounterLine = (line: StoredLogLine): line is CounterLine =>
  line.event === 'ready' || line.event === 'stats' || line.event === 'stopping';

/** How each kind of gap reads in its reason, and what to do about it. */
const GAP_REASONS: Record<GapKind, { what: string; todo: (lastEndMs: number) => string }> = {
  late_start: {
    what: 'no daemon was capturing from the start of a boot',
    todo: () =>
      'boot-time callers such as cloud-init and user data may be missing; enable the service so it starts with the boot and report over a boot observed from its start, or pass --allow-no-boot',
  },
  uncovered_restart: {
    what: 'no daemon was capturing between two daemon runs on the same boot',
    todo: (end) =>
      `requests then were not seen; report over a later boot, observed from its start (--since after ${iso(end)})`,
  },
  boot_end_unseen: {
    what: 'no daemon was capturing at the end of a boot (its last daemon did not stop for a shutdown)',
    todo: (end) =>
      `requests until the next boot were not seen; keep the service running to shutdown, or report from a later boot (--since after ${iso(end)})`,
  },
};

function gapReason(kind: GapKind, gaps: Gap[]): Reason | null {
  const last = gaps.at(-1);
  if (!last) return null;
  const named = gaps
    .slice(0, MAX_GAPS_NAMED)
    .map(
      (g) =>
        `${g.fromMs === null ? 'boot start (time unknown)' : iso(g.fromMs)} .. ${iso(g.toMs)} (boot ${g.boot}: ${g.cause})`,
    );
  const more = gaps.length > MAX_GAPS_NAMED ? ` and ${gaps.length - MAX_GAPS_NAMED} more` : '';
  const { what, todo } = GAP_REASONS[kind];
  return { code: kind, message: `${what}: ${named.join(', ')}${more}; ${todo(last.toMs)}` };
}

export class HostEvidence {
  /** First and last line of this host within the window. */
  firstMs = Infinity;
  lastMs = -Infinity;
  v1Requests = 0;
  unknownRequests = 0;
  /** Lines within the window that could not be read and may have been requests. */
  unreadableLines = 0;
  private readonly runs = new Map<string, Run>();
  /** Times of error lines per boot: they extend the run going at the time, found once all runs are known. */
  private readonly errorTimes = new Map<string, number[]>();
  private readies = 0;
  /** The region the host's lines name (the latest line's that names one), for the cross-check. */
  region: string | null = null;
  private regionAtMs = -Infinity;

  constructor(
    readonly host: string,
    readonly instanceId: string | null,
    readonly hostname: string | null,
    private readonly rules: EvidenceRules,
  ) {}

  /** Whether any line of this host lies within the window: a host without one is not reported. */
  get seen(): boolean {
    return this.lastMs >= this.firstMs;
  }

  /** Whether any of a span lies in the window: a summary counts whole when part of it is in (never fewer requests). */
  reachesWindow(span: { fromMs: number; toMs: number }): boolean {
    return (
      (this.rules.sinceMs === undefined || span.toMs >= this.rules.sinceMs) &&
      (this.rules.untilMs === undefined || span.fromMs <= this.rules.untilMs)
    );
  }

  inWindow(t: number): boolean {
    return (
      (this.rules.sinceMs === undefined || t >= this.rules.sinceMs) &&
      (this.rules.untilMs === undefined || t <= this.rules.untilMs)
    );
  }

  /** A line of this host that could not be read but may have been a request (its time, when it still says). */
  seeUnreadable(t: number | null): void {
    if (t !== null && !this.inWindow(t)) return;
    this.unreadableLines++;
    if (t !== null) this.seeTime(t);
  }

  /** A line of an event this version does not know: the host was there. */
  seeForeign(t: number): void {
    this.seeTime(t);
  }

  private seeTime(t: number): void {
    if (t < this.firstMs) this.firstMs = t;
    if (t > this.lastMs) this.lastMs = t;
  }

  /** Every line of this host, whatever its time: lines outside the window still state runs and counters. */
  see(line: StoredLogLine, t: number): void {
    const region = line.region;
    if (typeof region === 'string') this.seeRegion(region, t);
    const inWindow = this.inWindow(t);
    if (inWindow) this.seeTime(t);
    if (line.event === 'imds_request') {
      if (!inWindow) return;
      const kind = kindOf(line);
      if (kind === 'imdsv1') this.v1Requests++;
      else if (kind === 'unknown') this.unknownRequests++;
      return;
    }
    if (line.event === 'summary') this.seeSummary(line);
    // A canary's start, end and target say nothing of capture (the report's canary section reads them).
    if (line.event === 'canary' || line.event === 'canary_target') return;
    if (line.boot_id === undefined) return;
    if (line.event === 'error') {
      const times = this.errorTimes.get(line.boot_id);
      if (times) times.push(t);
      else this.errorTimes.set(line.boot_id, [t]);
      return;
    }
    const run = this.run(line.boot_id, line.pid, t);
    if (!run) return;
    if (t < run.span.firstMs) run.span.firstMs = t;
    if (t > run.span.lastMs) run.span.lastMs = t;
    if (line.event === 'summary') run.summarised = true;
    if (!isCounterLine(line)) return;
    if ((line.requests_summarised ?? 0) > 0) run.summarised = true;
    if (line.event === 'stats' && typeof line.interval_s === 'number' && line.interval_s > 0)
      HostEvidence.seeStats(run, t, line.interval_s * 1000);
    LOSS_COUNTERS.forEach((counter, i) => {
      run.losses[i]?.see(counter.read(line), t, this.rules);
    });
    run.processLost.see(line.kernel?.process_events_lost ?? 0, t, this.rules);
    if (line.event === 'ready') this.seeReady(run, line, t);
    // The latest stopping line stands, whatever order the lines are read in.
    if (line.event === 'stopping' && (!run.span.stop || t >= run.span.stop.atMs))
      run.span.stop = { atMs: t, systemShutdown: line.system_shutdown === true };
  }

  private seeRegion(region: string, t: number): void {
    if (t < this.regionAtMs) return;
    this.region = region;
    this.regionAtMs = t;
  }

  /** A summary's requests count as theirs would; its line is its daemon's, like a stats line. */
  private seeSummary(line: StoredLineOf<'summary'>): void {
    const span = summarySpan(line);
    if (!this.reachesWindow(span)) return;
    this.seeTime(Math.max(span.fromMs, this.rules.sinceMs ?? -Infinity));
    this.seeTime(Math.min(span.toMs, this.rules.untilMs ?? Infinity));
    const kind = summaryKindOf(line);
    if (kind === 'imdsv1') this.v1Requests += line.requests ?? 0;
    else if (kind === 'unknown') this.unknownRequests += line.requests ?? 0;
  }

  /** Lines come mostly in time order: a stats line extends the last stretch, else the list is merged again. */
  private static seeStats(run: Run, t: number, intervalMs: number): void {
    run.statsIntervalMs = Math.max(run.statsIntervalMs, intervalMs);
    const around = { fromMs: t - intervalMs - STATS_LATE_MS, toMs: t + intervalMs + STATS_LATE_MS };
    const last = run.alive.at(-1);
    if (last && around.fromMs >= last.fromMs && around.fromMs <= last.toMs)
      last.toMs = Math.max(last.toMs, around.toMs);
    else run.alive = unionOf([...run.alive, around]);
  }

  /**
   * Stretches of a run with no line where its stats lines say one was due: from its first to
   * its last line, the ready and stopping lines (and these) count as lines due around them.
   */
  private static holesOf(run: Run): Interval[] {
    if (run.statsIntervalMs === 0) return [];
    const { span } = run;
    const reach = run.statsIntervalMs + STATS_LATE_MS;
    const points = [span.firstMs, span.lastMs, span.ready?.atMs, span.stop?.atMs].filter((t) => t !== undefined);
    const seen = unionOf([...run.alive, ...points.map((t) => ({ fromMs: t - reach, toMs: t + reach }))]);
    const holes: Interval[] = [];
    for (let i = 1; i < seen.length; i++) {
      const fromMs = (seen[i - 1] as Interval).toMs;
      const toMs = (seen[i] as Interval).fromMs;
      if (fromMs >= span.firstMs && toMs <= span.lastMs) holes.push({ fromMs, toMs });
    }
    return holes;
  }

  /** The run of a boot and pid. */
  private run(boot: string, pid: number | undefined, t: number): Run | undefined {
    if (pid === undefined) return undefined;
    const key = `${boot}\u0000${pid}`;
    let run = this.runs.get(key);
    if (!run) {
      run = {
        span: { boot, ready: null, firstMs: t, lastMs: t, stop: null },
        laterReadies: [],
        losses: LOSS_COUNTERS.map(() => new WindowedCounter()),
        processLost: new WindowedCounter(),
        summarised: false,
        alive: [],
        statsIntervalMs: 0,
      };
      this.runs.set(key, run);
    }
    return run;
  }

  private seeReady(run: Run, line: StoredLineOf<'ready'>, t: number): void {
    this.readies++;
    // Lines written before these fields existed say neither: not continued.
    const ready: Ready = {
      atMs: t,
      uptimeMs: line.uptime_ms ?? null,
      continued: line.capture_continued === true,
      gapCause: line.capture_gap ?? null,
    };
    const first = run.span.ready;
    if (first?.atMs === t || run.laterReadies.some((r) => r.atMs === t)) return;
    if (first && first.atMs < t) run.laterReadies.push(ready);
    else {
      if (first) run.laterReadies.push(first);
      run.span.ready = ready;
    }
  }

  /**
   * What a run's lines prove. When its pid was reused on the boot (more than one ready line),
   * which lines belong to which daemon is not known: each earlier daemon is taken to have
   * ended at its ready line without a stopping line, the last one to have run to the end.
   */
  private static spansOf(run: Run): RunSpan[] {
    if (run.laterReadies.length === 0) return [run.span];
    const readies = [run.span.ready, ...run.laterReadies].filter((r): r is Ready => r !== null);
    readies.sort((a, b) => a.atMs - b.atMs);
    const last = readies.at(-1) as Ready;
    const stop = run.span.stop && run.span.stop.atMs >= last.atMs ? run.span.stop : null;
    return readies.map((ready) =>
      ready === last
        ? { ...run.span, ready, firstMs: ready.atMs, stop }
        : { boot: run.span.boot, ready, firstMs: ready.atMs, lastMs: ready.atMs, stop: null },
    );
  }

  /** Runs that reach into the window: a run that started after it ends lost nothing in it. */
  private runsInWindow(): Run[] {
    const until = this.rules.untilMs ?? Infinity;
    return [...this.runs.values()].filter((r) => (r.span.ready?.atMs ?? r.span.firstMs) <= until);
  }

  get lostProcessRecords(): number {
    return this.runsInWindow().reduce((n, r) => n + r.processLost.inWindow, 0);
  }

  /**
   * An error line names no pid, so it extends the run of its boot that was going at the time:
   * the one that started last at or before it (error lines alone prove no capture and start
   * none). Found once every line is in, so the order lines were read in does not matter.
   */
  private extendRunsByErrorLines(): void {
    for (const [boot, times] of this.errorTimes) {
      const runs = [...this.runs.values()].filter((r) => r.span.boot === boot);
      for (const t of times) {
        let going: Run | undefined;
        for (const run of runs)
          if (run.span.firstMs <= t && (!going || run.span.firstMs > going.span.firstMs)) going = run;
        if (going && t > going.span.lastMs) going.span.lastMs = t;
      }
    }
  }

  /**
   * Another reader's evidence of this host (a worker's, from other files) added: the same as
   * having seen its lines here. `other` may be a structured clone (data only, no methods).
   */
  absorb(other: HostEvidence): void {
    this.firstMs = Math.min(this.firstMs, other.firstMs);
    this.lastMs = Math.max(this.lastMs, other.lastMs);
    this.v1Requests += other.v1Requests;
    this.unknownRequests += other.unknownRequests;
    this.unreadableLines += other.unreadableLines;
    this.readies += other.readies;
    if (other.region !== null) this.seeRegion(other.region, other.regionAtMs);
    for (const [boot, times] of other.errorTimes) {
      const mine = this.errorTimes.get(boot);
      if (mine) mine.push(...times);
      else this.errorTimes.set(boot, [...times]);
    }
    for (const [key, run] of other.runs) {
      const mine = this.runs.get(key);
      if (!mine) {
        this.runs.set(key, {
          span: { ...run.span },
          laterReadies: [...run.laterReadies],
          losses: run.losses.map((c) => WindowedCounter.from(c)),
          processLost: WindowedCounter.from(run.processLost),
          summarised: run.summarised,
          alive: run.alive.map((i) => ({ ...i })),
          statsIntervalMs: run.statsIntervalMs,
        });
        continue;
      }
      mine.summarised ||= run.summarised;
      mine.alive = unionOf([...mine.alive, ...run.alive]);
      mine.statsIntervalMs = Math.max(mine.statsIntervalMs, run.statsIntervalMs);
      const [a, b] = [mine.span, run.span];
      a.firstMs = Math.min(a.firstMs, b.firstMs);
      a.lastMs = Math.max(a.lastMs, b.lastMs);
      // As seeReady keeps them: the earliest ready line (the first read of equal ones) and every later one.
      const readies = [a.ready, ...mine.laterReadies, b.ready, ...run.laterReadies].filter((r) => r !== null);
      const first = readies.reduce<Ready | null>((f, r) => (f === null || r.atMs < f.atMs ? r : f), null);
      a.ready = first;
      mine.laterReadies = readies.filter(
        (r, i) => r.atMs !== first?.atMs && readies.findIndex((o) => o.atMs === r.atMs) === i,
      );
      // The latest stopping line stands.
      if (b.stop && (!a.stop || b.stop.atMs >= a.stop.atMs)) a.stop = b.stop;
      mine.losses.forEach((counter, i) => {
        const theirs = run.losses[i];
        if (theirs) counter.absorb(theirs);
      });
      mine.processLost.absorb(run.processLost);
    }
  }

  coverage(): Coverage {
    this.extendRunsByErrorLines();
    return coverageOf(
      [...this.runs.values()].flatMap(HostEvidence.spansOf),
      { earlyBootMs: EARLY_BOOT_MS, requireBootFromStart: this.rules.requireBootFromStart },
      this.rules,
    );
  }

  /** The conditions a YES needs that these lines do not meet, each with what to do. */
  missingEvidence(coverage: Coverage, unreadableOfAnyHost = 0): Reason[] {
    const reasons: Reason[] = [];
    const rules = this.rules;
    if (this.readies === 0) {
      reasons.push({
        code: 'no_daemon_start',
        message:
          'no daemon start (ready line) in the input: include the logs since the service started (rotated and .gz files too), or check that the service is enabled and running',
      });
    }
    // Before the gaps: lines deleted from the start of the logs are what leaves a boot's start unseen.
    reasons.push(...this.rotatedOut());
    const gapsOf = (kind: GapKind) => coverage.gaps.filter((g) => g.kind === kind);
    if (rules.requireBootFromStart && coverage.bootsFromStart === 0 && gapsOf('late_start').length === 0) {
      reasons.push({
        code: 'no_boot_from_start',
        message: `no boot start is in the window (a ready line at most ${EARLY_BOOT_MS / 1000} s after boot): boot-time callers such as cloud-init and user data may be missing; report over a window that holds a boot, reboot once with the service enabled, or pass --allow-no-boot`,
      });
    }
    for (const kind of Object.keys(GAP_REASONS) as GapKind[]) {
      const reason = gapReason(kind, gapsOf(kind));
      if (reason) reasons.push(reason);
    }
    const seconds = coverage.observedMs / 1000;
    if (coverage.observedMs < rules.minObservedMs) {
      reasons.push({
        code: 'short_window',
        message: `observed for only ${formatDuration(seconds)}, less than the ${formatDuration(rules.minObservedMs / 1000)} minimum: programs that run daily may not have run yet; keep observing, or pass --min-observed`,
      });
    }
    const runs = this.runsInWindow();
    LOSS_COUNTERS.forEach((counter, i) => {
      const n = runs.reduce((sum, r) => sum + (r.losses[i]?.inWindow ?? 0), 0);
      if (n > 0) reasons.push({ code: counter.code, message: counter.message(n) });
    });
    reasons.push(...this.summariesLost());
    const unreadable = this.unreadableLines + unreadableOfAnyHost;
    if (unreadable > 0) {
      reasons.push({
        code: 'unreadable_lines',
        message: `${plural(unreadable, 'line')} of this host (or naming none) could not be read (torn or not of the log contract) and may have been requests: any of them may be IMDSv1; read a complete copy of the logs`,
      });
    }
    if (this.unknownRequests > 0) {
      reasons.push({
        code: 'unclassified_requests',
        message: `${plural(this.unknownRequests, 'AWS-path request')} could not be classified as IMDSv1 or IMDSv2 (imds_version "unknown"): any of them may be IMDSv1; find the program in the "unknown" group and check how it calls IMDS`,
      });
    }
    return reasons;
  }

  /**
   * Lines of a run that must exist and are not in the input, from a time the window reaches:
   * a run whose ready line is missing (its lines begin mid-run), the first run of a boot
   * whose ready line says it continued a previous daemon's capture (that daemon's lines are
   * missing), or a stretch of a run without the stats lines it writes (a file deleted from
   * the middle). Rotation deleted them, someone else did, or they were not given to the report.
   */
  private rotatedOut(): Reason[] {
    const since = this.rules.sinceMs ?? -Infinity;
    const until = this.rules.untilMs ?? Infinity;
    const missing: string[] = [];
    const firstOfBoot = new Map<string, RunSpan>();
    for (const { span } of this.runs.values()) {
      const start = span.ready?.atMs ?? span.firstMs;
      const known = firstOfBoot.get(span.boot);
      if (!known || start < (known.ready?.atMs ?? known.firstMs)) firstOfBoot.set(span.boot, span);
      if (span.ready === null && span.firstMs > since && span.firstMs <= until)
        missing.push(
          `before ${iso(span.firstMs)} (boot ${span.boot}: the lines of a daemon begin without its ready line)`,
        );
    }
    for (const span of firstOfBoot.values()) {
      if (span.ready?.continued && span.ready.atMs > since && span.ready.atMs <= until)
        missing.push(
          `before ${iso(span.ready.atMs)} (boot ${span.boot}: a daemon continued the capture of one whose lines are missing)`,
        );
    }
    for (const run of this.runs.values())
      for (const hole of HostEvidence.holesOf(run))
        if (hole.toMs >= since && hole.fromMs <= until)
          missing.push(
            `${iso(hole.fromMs)} .. ${iso(hole.toMs)} (boot ${run.span.boot}: no line of a daemon that writes a stats line every ${formatDuration(run.statsIntervalMs / 1000)})`,
          );
    if (missing.length === 0) return [];
    const named = missing.slice(0, MAX_GAPS_NAMED).join(', ');
    const more = missing.length > MAX_GAPS_NAMED ? ` and ${missing.length - MAX_GAPS_NAMED} more` : '';
    return [
      {
        code: 'evidence_rotated_out',
        message: `log lines are missing: ${named}${more}; rotation or someone deleted them, or they were not given to the report; requests then are not counted, any may be IMDSv1; include the rotated files, report with --since after that time, or raise rotation.maxFiles / rotation.maxSizeMB`,
      },
    ];
  }

  /**
   * A run that counted requests into summaries and ended without a stopping line, followed by
   * another run: what it held since its last summary line (up to one interval) was not written.
   */
  private summariesLost(): Reason[] {
    const spans = [...this.runs.values()];
    const lost = spans.filter(
      (run) =>
        run.summarised &&
        run.span.stop === null &&
        this.inWindow(run.span.lastMs) &&
        spans.some((other) => (other.span.ready?.atMs ?? other.span.firstMs) > run.span.lastMs),
    );
    if (lost.length === 0) return [];
    const when = lost.map((run) => `${iso(run.span.lastMs)} (boot ${run.span.boot})`).slice(0, MAX_GAPS_NAMED);
    const more = lost.length > MAX_GAPS_NAMED ? ` and ${lost.length - MAX_GAPS_NAMED} more` : '';
    return [
      {
        code: 'summaries_lost',
        message: `${plural(lost.length, 'daemon')} that counted requests into summary lines ended without a stopping line (crash or kill) after ${when.join(', ')}${more}: the counts held since their last summary line (at most one summary interval) were not written, so request counts may be short; the programs' full lines of that interval are in the log; observe a window without a crash`,
      },
    ];
  }

  /** `unreadableOfAnyHost`: unreadable lines that may be requests and name no host (they may be this one's). */
  verdict(imdsv1Programs: string[], unreadableOfAnyHost = 0): HostVerdict {
    const coverage = this.coverage();
    const missing = this.missingEvidence(coverage, unreadableOfAnyHost);
    const callers: Reason[] =
      this.v1Requests > 0
        ? [{ code: 'imdsv1_callers', message: imdsv1Callers(imdsv1Programs.length, this.v1Requests) }]
        : [];
    const answer: Answer = this.v1Requests > 0 ? 'NO' : missing.length > 0 ? 'UNKNOWN' : 'YES';
    return {
      host: this.host,
      instance_id: this.instanceId,
      hostname: this.hostname,
      verdict: answer,
      reasons: [...callers, ...missing],
      imdsv1_programs: imdsv1Programs,
      imdsv1_requests: this.v1Requests,
      boots: coverage.boots,
      first_seen: iso(this.firstMs),
      last_seen: iso(this.lastMs),
      seconds: coverage.observedMs / 1000,
      coverage: coverage.perBoot.map((b) => ({
        boot_id: b.boot,
        from: iso(b.fromMs),
        to: iso(b.toMs),
        seconds: b.observedMs / 1000,
        from_start: b.fromStart,
        runs: b.runs,
        uncovered_gaps: b.gaps,
      })),
    };
  }
}
