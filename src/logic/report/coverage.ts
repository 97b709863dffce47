// When a host's daemons were capturing, computed from what each run's lines state: the
// coverage algebra behind a YES. A run covers [ready, its last line]; the time from the boot's
// start to its first ready only when that ready came early; the time between two runs only
// when the later ready says it took over with no window (capture_continued); the rest of a
// boot after its last run only when that run stopped because the system was shutting down.
// Everything else a boot needs is a named gap. Pure.

export interface Interval {
  fromMs: number;
  toMs: number;
}

/** One daemon run on one boot, as its lines describe it. */
export interface RunSpan {
  boot: string;
  /** Its ready line; null when the logs hold none (they begin while it was running). */
  ready: {
    atMs: number;
    /** Milliseconds since the kernel started, at READY; null from daemons that did not say. */
    uptimeMs: number | null;
    /** It took over the previous run's buffer and links with no window. */
    continued: boolean;
    /** Why the time before it was not seen, as the daemon names it (capture_gap). */
    gapCause: string | null;
  } | null;
  /** Its first and last line (ready, stats, stopping, error). */
  firstMs: number;
  lastMs: number;
  /** Its stopping line; null after a crash, a kill, or while it still runs. */
  stop: { atMs: number; systemShutdown: boolean } | null;
}

export interface CoverageRules {
  /** A ready at most this long after the kernel started covers the boot from its start. */
  earlyBootMs: number;
  /** Every boot must be covered from its start (else from its first run's start). */
  requireBootFromStart: boolean;
}

/** --since / --until: the part of the history the verdict is about. */
export interface TimeWindow {
  sinceMs?: number | undefined;
  untilMs?: number | undefined;
}

export type GapKind = 'late_start' | 'uncovered_restart' | 'boot_end_unseen';

export interface Gap {
  kind: GapKind;
  boot: string;
  /** null when it began at a boot start whose time is not known. */
  fromMs: number | null;
  toMs: number;
  /** What happened, in words. */
  cause: string;
}

/** One boot within the window: from its start (or its first run's, when that is all it needs or is known) to its last line. */
export interface BootSummary extends Interval {
  boot: string;
  observedMs: number;
  /** Covered from its start (its first daemon was ready early). */
  fromStart: boolean;
  runs: number;
  gaps: number;
}

export interface Coverage {
  /** When a daemon was capturing, within the window: sorted, disjoint. */
  covered: Interval[];
  observedMs: number;
  gaps: Gap[];
  /** Per boot that reaches into the window, earliest first. */
  perBoot: BootSummary[];
  /**
   * When the history ends with a daemon stopped other than for a shutdown (within the window):
   * nothing after is seen, though no later line says so. Null when it ends running or at shutdown.
   */
  stoppedAtEndMs: number | null;
  /** Boots that reach into the window. */
  boots: number;
  /** Boots whose start is in the window and covered. */
  bootsFromStart: number;
}

const startOf = (run: RunSpan): number => run.ready?.atMs ?? run.firstMs;

/** Sorted, disjoint intervals covering the same instants as the input. */
export function unionOf(intervals: readonly Interval[]): Interval[] {
  const sorted = intervals.filter((i) => i.toMs >= i.fromMs).sort((a, b) => a.fromMs - b.fromMs);
  const out: Interval[] = [];
  for (const next of sorted) {
    const last = out.at(-1);
    if (last && next.fromMs <= last.toMs) last.toMs = Math.max(last.toMs, next.toMs);
    else out.push({ ...next });
  }
  return out;
}

const measure = (intervals: Interval[]) => intervals.reduce((n, i) => n + (i.toMs - i.fromMs), 0);

function clip(interval: Interval, window: TimeWindow): Interval | null {
  const fromMs = Math.max(interval.fromMs, window.sinceMs ?? -Infinity);
  const toMs = Math.min(interval.toMs, window.untilMs ?? Infinity);
  return toMs >= fromMs ? { fromMs, toMs } : null;
}

function minutes(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
}

/** How a run's end reads in a gap's cause. */
function endOf(run: RunSpan): string {
  if (!run.stop) return 'its daemon ended without a stopping line (crash or kill)';
  return run.stop.systemShutdown ? 'its daemon stopped for a shutdown' : 'its daemon was stopped';
}

/** One boot: what its runs cover, and the gaps in what it needs. */
interface BootCoverage {
  boot: string;
  /** When the boot started, when known (from a ready line's uptime_ms). */
  startMs: number | null;
  /** The first instant the boot must be covered from (boot start or first run start). */
  requiredFromMs: number | null;
  firstRunMs: number;
  lastMs: number;
  covered: Interval[];
  gaps: Gap[];
  /** Its last run stopped for a shutdown: nothing of this boot came after. */
  endsAtShutdown: boolean;
  lastRun: RunSpan;
  runs: number;
  fromStart: boolean;
}

function bootCoverage(boot: string, runs: RunSpan[], rules: CoverageRules): BootCoverage {
  // At the same instant, a run that continued another comes after it.
  const sorted = [...runs].sort(
    (a, b) => startOf(a) - startOf(b) || Number(a.ready?.continued ?? false) - Number(b.ready?.continued ?? false),
  );
  const first = sorted[0] as RunSpan;
  const lastRun = sorted.at(-1) as RunSpan;
  const firstRunMs = startOf(first);
  const withUptime = sorted.find((r) => r.ready?.uptimeMs != null)?.ready;
  const startMs = withUptime ? withUptime.atMs - (withUptime.uptimeMs ?? 0) : null;
  const early = first.ready !== null && first.ready.uptimeMs !== null && first.ready.uptimeMs <= rules.earlyBootMs;
  const covered: Interval[] = [];
  const gaps: Gap[] = [];
  if (early && startMs !== null) covered.push({ fromMs: startMs, toMs: firstRunMs });
  else if (rules.requireBootFromStart) {
    const cause = !first.ready
      ? 'the logs begin while a daemon was already running: its start is not in them'
      : first.ready.uptimeMs === null
        ? 'its first ready line carries no uptime_ms (an older daemon): when the boot started is not known'
        : `its daemon started ${minutes(first.ready.uptimeMs)} after the boot (later than ${minutes(rules.earlyBootMs)})`;
    gaps.push({ kind: 'late_start', boot, fromMs: startMs, toMs: firstRunMs, cause });
  }
  sorted.forEach((run, i) => {
    covered.push({ fromMs: startOf(run), toMs: run.lastMs });
    const previous = sorted[i - 1];
    if (!previous) return;
    // A takeover that overlaps the previous run is still a gap unless continued: its ring was not drained.
    const between = { fromMs: Math.min(previous.lastMs, startOf(run)), toMs: startOf(run) };
    if (run.ready?.continued) covered.push(between);
    else {
      const takeover = !run.ready
        ? 'the next run has no ready line in the logs'
        : `the next daemon did not continue its capture (${run.ready.gapCause ?? 'capture_continued is not true'})`;
      gaps.push({ kind: 'uncovered_restart', boot, ...between, cause: `${endOf(previous)}; ${takeover}` });
    }
  });
  const endsAtShutdown = lastRun.stop?.systemShutdown === true;
  return {
    boot,
    startMs,
    requiredFromMs: rules.requireBootFromStart ? startMs : firstRunMs,
    firstRunMs,
    lastMs: Math.max(...sorted.map((r) => r.lastMs)),
    covered,
    gaps,
    endsAtShutdown,
    lastRun,
    runs: sorted.length,
    fromStart: early && startMs !== null,
  };
}

function stoppedAtEnd(run: RunSpan | undefined, window: TimeWindow): number | null {
  const stop = run?.stop;
  if (!stop || stop.systemShutdown || stop.atMs > (window.untilMs ?? Infinity)) return null;
  return stop.atMs;
}

/** A gap with an unknown start reaches back past any window start. */
function clipGap(gap: Gap, window: TimeWindow): Gap | null {
  const fromMs = gap.fromMs ?? -Infinity;
  if (gap.toMs < (window.sinceMs ?? -Infinity) || fromMs > (window.untilMs ?? Infinity)) return null;
  const since = window.sinceMs;
  return {
    ...gap,
    fromMs: since !== undefined && fromMs < since ? since : gap.fromMs,
    toMs: Math.min(gap.toMs, window.untilMs ?? Infinity),
  };
}

/**
 * Coverage of a host's runs, over every boot they are on, within the window. Boots follow
 * one another in the order of their first run; the time after a boot's last run belongs to
 * that boot until the next boot starts, unless the run stopped for a shutdown.
 */
export function coverageOf(runs: readonly RunSpan[], rules: CoverageRules, window: TimeWindow = {}): Coverage {
  const byBoot = new Map<string, RunSpan[]>();
  for (const run of runs) {
    const same = byBoot.get(run.boot);
    if (same) same.push(run);
    else byBoot.set(run.boot, [run]);
  }
  const boots = [...byBoot].map(([boot, list]) => bootCoverage(boot, list, rules));
  boots.sort((a, b) => (a.startMs ?? a.firstRunMs) - (b.startMs ?? b.firstRunMs));
  const covered: Interval[] = [];
  const gaps: Gap[] = [];
  const perBoot: BootSummary[] = [];
  let fromStart = 0;
  boots.forEach((boot, i) => {
    covered.push(...boot.covered);
    gaps.push(...boot.gaps);
    const next = boots[i + 1];
    if (next && !boot.endsAtShutdown) {
      // The boot went on for an unknown time after its last line: unseen until the next one began.
      const toMs = Math.max(boot.lastMs, next.startMs ?? next.firstRunMs);
      gaps.push({
        kind: 'boot_end_unseen',
        boot: boot.boot,
        fromMs: boot.lastMs,
        toMs,
        cause: `${endOf(boot.lastRun)} and no daemon started again before the next boot (${next.boot})`,
      });
    }
    const span = clip({ fromMs: boot.requiredFromMs ?? boot.firstRunMs, toMs: boot.lastMs }, window);
    if (span) {
      const observedMs = measure(unionOf(boot.covered.flatMap((c) => clip(c, window) ?? [])));
      perBoot.push({ boot: boot.boot, ...span, observedMs, fromStart: boot.fromStart, runs: boot.runs, gaps: 0 });
    }
    const since = window.sinceMs ?? -Infinity;
    const until = window.untilMs ?? Infinity;
    if (boot.fromStart && boot.startMs !== null && boot.startMs >= since && boot.startMs <= until) fromStart++;
  });
  const clipped = unionOf(covered.flatMap((c) => clip(c, window) ?? []));
  const named = gaps.flatMap((g) => clipGap(g, window) ?? []);
  for (const summary of perBoot) summary.gaps = named.filter((g) => g.boot === summary.boot).length;
  return {
    covered: clipped,
    observedMs: measure(clipped),
    gaps: named.sort((a, b) => (a.fromMs ?? -Infinity) - (b.fromMs ?? -Infinity)),
    perBoot,
    stoppedAtEndMs: stoppedAtEnd(boots.at(-1)?.lastRun, window),
    boots: perBoot.length,
    bootsFromStart: fromStart,
  };
}
