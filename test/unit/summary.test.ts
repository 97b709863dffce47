// Bounded evidence: which requests the daemon writes in full and which it counts into a
// summary line (src/logic/summary.ts), and the report over both: every request counted once,
// per program exactly as over full lines, whatever the mix of programs, versions, paths,
// statuses and times.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReportBuilder } from '../../src/logic/report/aggregate.js';
import { EvidenceSummariser, MAX_SUMMARISED_PROGRAMS, type SummaryRules } from '../../src/logic/summary.js';
import type { RequestLine, SummaryFields } from '../../src/model/log-line.js';
import { requestLine } from '../helpers/request-line.js';

const RULES: SummaryRules = { intervalMs: 300_000, fullLinesPerInterval: 3, graceMs: 12_000 };
const T0 = Date.parse('2026-11-28T14:00:00.000Z');
const PINO = { level: 30, hostname: 'ip-10-0-1-5', instance_id: 'i-0123456789abcdef0', boot_id: 'b-1', msg: '' };

interface Call {
  program: number;
  version: 'v1' | 'v2' | 'unknown';
  path: number;
  status: number | null;
  atMs: number;
  fallback: boolean;
}

function lineOf(call: Call): RequestLine {
  const line = requestLine();
  const path = `/latest/meta-data/p${call.path}`;
  line.imds_version = call.version;
  line.request.path = path;
  line.process.argv = ['python3', `/opt/app/job${call.program}.py`, `--n=${call.atMs % 7}`];
  line.process.comm = 'python3';
  line.process.exe = '/usr/bin/python3';
  line.unit = `job${call.program}.service`;
  line.response = call.status === null ? null : { status: call.status };
  line.fallback = call.fallback ? { reason: 'token request failed' } : null;
  line.request_time = new Date(call.atMs).toISOString();
  return line;
}

/** The summariser over calls in time order, due() called as the daemon's timer would; the lines it leaves. */
function summarised(calls: Call[], rules = RULES): { full: RequestLine[]; summaries: SummaryFields[] } {
  const summariser = new EvidenceSummariser(rules, 4242);
  const full: RequestLine[] = [];
  const summaries: SummaryFields[] = [];
  for (const call of calls) {
    summaries.push(...summariser.due(call.atMs));
    const line = lineOf(call);
    if (summariser.writeInFull(line, call.atMs)) full.push(line);
  }
  summaries.push(...summariser.flushAll());
  return { full, summaries };
}

function report(lines: Array<RequestLine | SummaryFields>) {
  const builder = new ReportBuilder({ includeV2: true, allowNoBoot: true, minObservedMs: 0 });
  // The daemon that wrote them started before them.
  builder.add({ ...PINO, time: T0 - 1000, event: 'ready', pid: 4242, uptime_ms: 5000, capture_continued: false });
  for (const line of lines) {
    const time = line.event === 'summary' ? Date.parse(line.to) + 15_000 : Date.parse(line.request_time);
    builder.add({ ...PINO, timestamp: new Date(time).toISOString(), time, ...line });
  }
  return builder.result();
}

const call = (program: number, atMs: number, over: Partial<Call> = {}): Call => ({
  program,
  version: 'v1',
  path: 0,
  status: 200,
  atMs,
  fallback: false,
  ...over,
});

describe('which requests are written in full', () => {
  it('IMDSv2: the first of each program in each interval, the rest counted', () => {
    const calls = Array.from({ length: 6000 }, (_, i) => call(1, T0 + i * 100, { version: 'v2' }));
    const { full, summaries } = summarised(calls);
    // 600 s at 10 requests/s: two intervals.
    expect(full.map((l) => l.request_time)).toEqual([new Date(T0).toISOString(), new Date(T0 + 300_000).toISOString()]);
    expect(summaries.map((s) => [s.requests, s.from, s.to, s.statuses])).toEqual([
      [2999, new Date(T0 + 100).toISOString(), new Date(T0 + 299_900).toISOString(), [{ status: 200, requests: 2999 }]],
      [
        2999,
        new Date(T0 + 300_100).toISOString(),
        new Date(T0 + 599_900).toISOString(),
        [{ status: 200, requests: 2999 }],
      ],
    ]);
    expect(summaries[0]).toMatchObject({ event: 'summary', pid: 4242, imds_version: 'v2', unit: 'job1.service' });
  });

  it('IMDSv1: full lines up to the rate, every new path and status in full, the rest counted with paths and statuses', () => {
    const calls = [
      ...Array.from({ length: 5 }, (_, i) => call(2, T0 + i * 1000)),
      call(2, T0 + 6000, { path: 9 }),
      call(2, T0 + 7000, { status: 404 }),
      call(2, T0 + 8000, { status: null }),
      call(2, T0 + 9000, { path: 9 }),
      call(2, T0 + 10_000, { fallback: true }),
    ];
    const { full, summaries } = summarised(calls);
    expect(full.map((l) => [l.request.path, l.response?.status ?? null])).toEqual([
      ['/latest/meta-data/p0', 200],
      ['/latest/meta-data/p0', 200],
      ['/latest/meta-data/p0', 200],
      ['/latest/meta-data/p9', 200],
      ['/latest/meta-data/p0', 404],
      ['/latest/meta-data/p0', null],
    ]);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({
      imds_version: 'v1',
      requests: 4,
      statuses: [{ status: 200, requests: 4 }],
      paths: [
        { path: '/latest/meta-data/p0', requests: 3 },
        { path: '/latest/meta-data/p9', requests: 1 },
      ],
      paths_unlisted: 0,
      fallbacks: 1,
    });
  });

  it('writes an interval summary once its grace is over, not before', () => {
    const summariser = new EvidenceSummariser(RULES, 1);
    for (let i = 0; i < 4; i++) summariser.writeInFull(lineOf(call(3, T0 + i, { version: 'v2' })), T0 + i);
    expect(summariser.due(T0 + 300_000 + RULES.graceMs - 1)).toEqual([]);
    expect(summariser.due(T0 + 300_000 + RULES.graceMs).map((s) => s.requests)).toEqual([3]);
    expect(summariser.flushAll()).toEqual([]);
    expect(summariser.summarised).toBe(3);
  });

  it('writes in full a late request of an interval already over, and every request of programs beyond its bound', () => {
    const summariser = new EvidenceSummariser(RULES, 1);
    summariser.writeInFull(lineOf(call(4, T0 + 300_000, { version: 'v2' })), T0 + 300_000);
    expect(summariser.writeInFull(lineOf(call(4, T0 + 1000, { version: 'v2' })), T0 + 1000)).toBe(true);
    const many = new EvidenceSummariser(RULES, 1);
    for (let p = 0; p < MAX_SUMMARISED_PROGRAMS; p++)
      many.writeInFull(lineOf(call(100 + p, T0, { version: 'v2' })), T0);
    const beyond = lineOf(call(99, T0, { version: 'v2' }));
    expect([many.writeInFull(beyond, T0), many.writeInFull(beyond, T0)]).toEqual([true, true]);
  });
});

const calls = fc
  .array(
    fc.record({
      program: fc.integer({ min: 0, max: 3 }),
      version: fc.constantFrom('v1' as const, 'v2' as const, 'unknown' as const),
      path: fc.integer({ min: 0, max: 80 }),
      status: fc.constantFrom(200, 200, 200, 401, 404, null),
      gapMs: fc.integer({ min: 0, max: 200_000 }),
      fallback: fc.boolean(),
    }),
    { maxLength: 400 },
  )
  .map((drawn) => {
    let at = T0;
    return drawn.map(({ gapMs, ...rest }) => {
      at += gapMs;
      return { ...rest, atMs: at };
    });
  });

describe('the report over full and summary lines', () => {
  it('counts every request as over full lines: per program, response, path, fallback, and the verdict', () => {
    fc.assert(
      fc.property(calls, fc.integer({ min: 1, max: 4 }), (drawn, rate) => {
        const { full, summaries } = summarised(drawn, { ...RULES, fullLinesPerInterval: rate });
        expect(full.length + summaries.reduce((n, s) => n + s.requests, 0)).toBe(drawn.length);
        const everyLine = report(drawn.map(lineOf));
        const bounded = report([...full, ...summaries]);
        const counts = (r: ReturnType<typeof report>) =>
          r.groups
            .map((g) => ({
              kind: g.kind,
              command: g.command,
              unit: g.unit,
              count: g.count,
              responses: g.responses,
              paths: g.paths,
              paths_unlisted: g.paths_unlisted,
              fallbacks: g.fallbacks,
              timeline: g.timeline,
            }))
            .sort((a, b) => `${a.kind}${a.unit}`.localeCompare(`${b.kind}${b.unit}`));
        expect(counts(bounded)).toEqual(counts(everyLine));
        expect(bounded.verdict.imdsv1_requests).toBe(everyLine.verdict.imdsv1_requests);
        expect(bounded.verdict.reasons.map((r) => r.code)).toEqual(everyLine.verdict.reasons.map((r) => r.code));
      }),
      { numRuns: 150 },
    );
  });

  it('writes the first request of each program and interval in full, and of IMDSv1 each new path and status within the bound', () => {
    fc.assert(
      fc.property(calls, (drawn) => {
        const { full } = summarised(drawn);
        const written = new Set(
          full.map((l) => `${l.unit} ${l.imds_version} ${Math.floor(Date.parse(l.request_time) / 300_000)}`),
        );
        for (const c of drawn)
          expect(written.has(`job${c.program}.service ${c.version} ${Math.floor(c.atMs / 300_000)}`)).toBe(true);
        const perInterval = new Map<string, number>();
        for (const l of full) {
          const key = `${l.unit} ${l.imds_version} ${Math.floor(Date.parse(l.request_time) / 300_000)}`;
          perInterval.set(key, (perInterval.get(key) ?? 0) + 1);
        }
        for (const [key, n] of perInterval)
          expect(n).toBeLessThanOrEqual(key.includes(' v2 ') ? 1 : 2 * RULES.fullLinesPerInterval);
      }),
      { numRuns: 150 },
    );
  });
});
