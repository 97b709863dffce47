// The coverage algebra over generated run histories: boots one after another, each with
// daemons that start early or late, crash, are stopped, stop at shutdown, or hand over with
// or without continued capture. The lines each history leaves (typed from the contract, in
// any order) go through the per-host verdict; the answer is YES exactly when the runs cover
// every boot from its start to its end and the union meets the minimum window.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { coverageOf, type Interval, type RunSpan, unionOf } from '../../src/logic/report/coverage.js';
import { EARLY_BOOT_MS, type EvidenceRules, HostEvidence } from '../../src/logic/report/host-evidence.js';
import type { StoredLogLine } from '../../src/model/stored-line.js';

const SEC = 1000;
const MIN = 60 * SEC;
const H = 60 * MIN;
const T0 = Date.parse('2026-11-20T00:00:00Z');

type End = 'crash' | 'stop' | 'shutdown';
interface RunPlan {
  /** Before the first run: its uptime at ready. Later runs: time after the previous run's last line. */
  delayMs: number;
  durationMs: number;
  end: End;
  continued: boolean;
}
interface BootPlan {
  offMs: number;
  runs: RunPlan[];
}

const runPlan = fc.record({
  delayMs: fc.oneof(fc.integer({ min: 0, max: EARLY_BOOT_MS }), fc.integer({ min: EARLY_BOOT_MS + 1, max: 2 * H })),
  durationMs: fc.integer({ min: 0, max: 30 * H }),
  end: fc.constantFrom<End>('crash', 'stop', 'shutdown'),
  continued: fc.boolean(),
});
const bootPlan = fc.record({
  offMs: fc.integer({ min: SEC, max: 48 * H }),
  runs: fc.array(runPlan, { minLength: 1, maxLength: 4 }),
});
const history = fc.array(bootPlan, { minLength: 1, maxLength: 4 });

interface Built {
  lines: Array<{ line: StoredLogLine; t: number }>;
  spans: RunSpan[];
  /** Each boot: when it started, when its first daemon was ready, its last line. */
  boots: Array<{ startMs: number; firstReadyMs: number; lastMs: number }>;
}

/** What a history writes: a ready line per run, a stats line at its last instant, a stopping line unless it crashed. */
function build(plan: BootPlan[]): Built {
  const lines: Built['lines'] = [];
  const spans: RunSpan[] = [];
  const boots: Built['boots'] = [];
  let t = T0;
  let pid = 100;
  plan.forEach((boot, b) => {
    const boot_id = `b-${b}`;
    const startMs = t + boot.offMs;
    let previousEnd = startMs;
    let firstReadyMs = 0;
    boot.runs.forEach((run, r) => {
      pid++;
      const readyMs = previousEnd + run.delayMs;
      if (r === 0) firstReadyMs = readyMs;
      const lastMs = readyMs + run.durationMs;
      // Only a boot's last run can stop for a shutdown; a stopped run before another is a plain stop.
      const end: End = run.end === 'shutdown' && r < boot.runs.length - 1 ? 'stop' : run.end;
      const continued = r > 0 && run.continued;
      lines.push({
        t: readyMs,
        line: {
          event: 'ready',
          time: readyMs,
          boot_id,
          pid,
          uptime_ms: readyMs - startMs,
          capture_continued: continued,
          capture_gap: continued ? null : 'fresh_start',
        },
      });
      if (end === 'crash') lines.push({ t: lastMs, line: { event: 'stats', time: lastMs, boot_id, pid } });
      else
        lines.push({
          t: lastMs,
          line: { event: 'stopping', time: lastMs, boot_id, pid, system_shutdown: end === 'shutdown' },
        });
      spans.push({
        boot: boot_id,
        ready: { atMs: readyMs, uptimeMs: readyMs - startMs, continued, gapCause: continued ? null : 'fresh_start' },
        firstMs: readyMs,
        lastMs,
        stop: end === 'crash' ? null : { atMs: lastMs, systemShutdown: end === 'shutdown' },
      });
      previousEnd = lastMs;
    });
    boots.push({ startMs, firstReadyMs, lastMs: previousEnd });
    t = previousEnd;
  });
  return { lines, spans, boots };
}

/** The answer the rules give, worked out from the plan rather than from the lines. */
function expected(plan: BootPlan[], built: Built, rules: EvidenceRules): { gapFree: boolean; observedMs: number } {
  const gapFree = plan.every((boot, b) => {
    const firstEarly = (boot.runs[0]?.delayMs ?? 0) <= EARLY_BOOT_MS;
    const takeovers = boot.runs.slice(1).every((run) => run.continued);
    const last = boot.runs.at(-1);
    const endsAtShutdown = last?.end === 'shutdown' || b === plan.length - 1;
    return (firstEarly || !rules.requireBootFromStart) && takeovers && endsAtShutdown;
  });
  // Gap-free, each boot is covered from its start (early) or first ready to its last line.
  const observedMs = built.boots.reduce((n, boot, b) => {
    const early = (plan[b]?.runs[0]?.delayMs ?? 0) <= EARLY_BOOT_MS;
    return n + boot.lastMs - (early ? boot.startMs : boot.firstReadyMs);
  }, 0);
  return { gapFree, observedMs };
}

function verdictOf(built: Built, rules: EvidenceRules, order: number[]) {
  const host = new HostEvidence('h', null, 'h', rules);
  for (const i of order) {
    const entry = built.lines[i];
    if (entry) host.see(entry.line, entry.t);
  }
  return host.verdict([]);
}

const rulesArb = fc.record({
  minObservedMs: fc.constantFrom(0, H, 24 * H, 72 * H),
  requireBootFromStart: fc.boolean(),
});

/** A permutation of 0..n-1 from fast-check's random keys: the lines arrive in any order. */
const orderOf = (keys: number[], n: number) =>
  Array.from({ length: n }, (_, i) => i).sort((a, b) => (keys[a] ?? 0) - (keys[b] ?? 0) || a - b);

const measure = (intervals: Interval[]) => intervals.reduce((n, i) => n + i.toMs - i.fromMs, 0);

describe('coverage algebra (property)', () => {
  it('YES exactly when every boot is covered from its start to its end and the union meets the minimum', () => {
    fc.assert(
      fc.property(history, rulesArb, fc.array(fc.nat(), { minLength: 40, maxLength: 40 }), (plan, rules, keys) => {
        const built = build(plan);
        const verdict = verdictOf(built, rules, orderOf(keys, built.lines.length));
        const want = expected(plan, built, rules);
        const yes = want.gapFree && want.observedMs >= rules.minObservedMs;
        expect(verdict.verdict).toBe(yes ? 'YES' : 'UNKNOWN');
        if (want.gapFree) expect(verdict.seconds).toBe(want.observedMs / 1000);
        if (!want.gapFree) {
          const gapCodes = ['late_start', 'uncovered_restart', 'boot_end_unseen'];
          expect(verdict.reasons.some((r) => gapCodes.includes(r.code))).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never counts a gap as observed, and covers every run from its ready to its last line', () => {
    fc.assert(
      fc.property(history, rulesArb, (plan, rules) => {
        const built = build(plan);
        const coverage = coverageOf(built.spans, {
          earlyBootMs: EARLY_BOOT_MS,
          requireBootFromStart: rules.requireBootFromStart,
        });
        const covers = (t: number) => coverage.covered.some((c) => c.fromMs <= t && t <= c.toMs);
        for (const gap of coverage.gaps) {
          // A gap's inside is not covered (its ends may touch a run's).
          if (gap.fromMs !== null && gap.toMs - gap.fromMs > 2) expect(covers((gap.fromMs + gap.toMs) / 2)).toBe(false);
        }
        for (const span of built.spans) {
          expect(covers(span.ready?.atMs ?? span.firstMs)).toBe(true);
          expect(covers(span.lastMs)).toBe(true);
        }
        // Observed time never exceeds the boots' own time.
        const bootTime = built.boots.reduce((n, b) => n + b.lastMs - b.startMs, 0);
        expect(coverage.observedMs).toBeLessThanOrEqual(bootTime);
      }),
      { numRuns: 300 },
    );
  });

  it('a window only clips: what is covered inside --since/--until is the full coverage cut to it', () => {
    fc.assert(
      fc.property(history, fc.boolean(), fc.nat(), fc.nat(), (plan, requireBootFromStart, a, b) => {
        const built = build(plan);
        const span = (built.boots.at(-1)?.lastMs ?? T0) - T0 + 1;
        const [sinceMs, untilMs] = [T0 + (a % span), T0 + (b % span)].sort((x, y) => x - y) as [number, number];
        const rules = { earlyBootMs: EARLY_BOOT_MS, requireBootFromStart };
        const full = coverageOf(built.spans, rules);
        const cut = coverageOf(built.spans, rules, { sinceMs, untilMs });
        const clipped = unionOf(
          full.covered.map((c) => ({ fromMs: Math.max(c.fromMs, sinceMs), toMs: Math.min(c.toMs, untilMs) })),
        );
        expect(cut.covered).toEqual(clipped);
        expect(cut.observedMs).toBe(measure(clipped));
        // Every gap of the window is a gap of the whole history, cut to the window.
        for (const gap of cut.gaps) {
          expect(gap.toMs).toBeLessThanOrEqual(untilMs);
          expect(full.gaps.some((g) => g.kind === gap.kind && g.boot === gap.boot && g.toMs >= gap.toMs)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a stop, a crash or a takeover without continued capture anywhere keeps a boot from YES', () => {
    fc.assert(
      fc.property(history, fc.nat(), fc.constantFrom<End>('crash', 'stop'), (plan, pick, end) => {
        // Make the history perfect, then break one boot: its last run does not stop at shutdown
        // (and is followed by another boot), or one of its takeovers is not continued.
        const perfect: BootPlan[] = plan.map((boot) => ({
          offMs: boot.offMs,
          runs: boot.runs.map((run, r) => ({
            ...run,
            delayMs: r === 0 ? 6400 : run.delayMs,
            continued: true,
            end: 'shutdown',
          })),
        }));
        const rules: EvidenceRules = { minObservedMs: 0, requireBootFromStart: true };
        const order = (built: Built) => built.lines.map((_, i) => i);
        expect(verdictOf(build(perfect), rules, order(build(perfect))).verdict).toBe('YES');
        const b = pick % perfect.length;
        const broken = structuredClone(perfect);
        const boot = broken[b] as BootPlan;
        if (boot.runs.length > 1 && pick % 2 === 0)
          (boot.runs[1 + (pick % (boot.runs.length - 1))] as RunPlan).continued = false;
        else if (b < broken.length - 1) (boot.runs.at(-1) as RunPlan).end = end;
        else (boot.runs[0] as RunPlan).delayMs = EARLY_BOOT_MS + 1;
        const built = build(broken);
        expect(verdictOf(built, rules, order(built)).verdict).toBe('UNKNOWN');
      }),
      { numRuns: 300 },
    );
  });
});
