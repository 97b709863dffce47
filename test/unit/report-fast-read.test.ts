// The fast report gives the full reader's answer. Three differential tests: the contract's
// compiled checks against zod (every fixture line, every line the sink writes, generated
// lines with any field changed), the report with the fast path against zod alone (every
// fixture), and parts read apart and added together (as worker threads do) against one
// reader (generated logs split anywhere; the CLI with workers against without).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReportBuilder, type ReportOptions } from '../../src/logic/report/aggregate.js';
import { countPath, emptyPathCounts, MAX_LISTED_PATHS, mergePathCounts } from '../../src/logic/report/path-counts.js';
import { compileCheck } from '../../src/model/fast-check.js';
import { lineSchemas } from '../../src/model/log-line.js';
import { messageOf, readStoredLine, readStoredLineByZod, storedSchemaOf } from '../../src/model/stored-line.js';
import { buildReport } from '../../src/report/index.js';
import { expandInputs } from '../../src/report/read.js';
import { requestLine } from '../helpers/request-line.js';
import { CLI, type LineOf } from '../rig/analyzer-process.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/report');
const DIRS = [
  join(FIXTURES, 'legacy-corrupt'),
  ...readdirSync(join(FIXTURES, 'verdict')).map((d) => join(FIXTURES, 'verdict', d)),
];

/** A line of one of the contract's events (others pass unread by either path). */
type Line = Record<string, unknown>;
const EVENTS = lineSchemas.map((s) => s.shape.event.value as string);
const ours = (line: Line) => typeof line.event === 'string' && EVENTS.includes(line.event);
const zodAccepts = (line: Line) => readStoredLineByZod(JSON.stringify(line)).kind === 'line';
/** What the reader gives with the fast path equals what it gives with zod alone. */
const sameReading = (line: Line) => {
  const text = JSON.stringify(line);
  expect(readStoredLine(text)).toEqual(readStoredLineByZod(text));
};
const fastAccepts = (line: Line) => {
  const schema = ours(line) ? storedSchemaOf(line.event as string) : undefined;
  return (schema && compileCheck(schema)?.(line)) ?? false;
};

/** Every JSON object line of the committed fixtures (gzip files cut short give what they hold). */
function fixtureLines(): Line[] {
  const lines: Line[] = [];
  for (const file of expandInputs([FIXTURES]).filter((f) => !f.includes('/status/'))) {
    let text: string;
    try {
      const raw = readFileSync(file);
      text = file.endsWith('.gz') ? gunzipSync(raw, { finishFlush: 2 }).toString('utf8') : raw.toString('utf8');
    } catch {
      continue;
    }
    for (const t of text.split('\n')) {
      try {
        const line = JSON.parse(messageOf(t)) as unknown;
        if (line && typeof line === 'object' && !Array.isArray(line)) lines.push(line as Line);
      } catch {}
    }
  }
  return lines;
}

describe('the compiled contract checks', () => {
  it('compile for every event of the contract', () => {
    for (const event of EVENTS) expect([event, compileCheck(storedSchemaOf(event)!) !== null]).toEqual([event, true]);
  });

  it('agree with zod on every fixture line: the valid ones take the fast path', () => {
    const lines = fixtureLines().filter(ours);
    expect(lines.length).toBeGreaterThan(100);
    for (const line of lines) {
      expect([line, fastAccepts(line)]).toEqual([line, zodAccepts(line)]);
      sameReading(line);
    }
  });

  /** A whole request line as the sink writes it (pino's fields too), typed by the contract. */
  const base: LineOf<'imds_request'> = {
    ...requestLine(),
    level: 40,
    time: 1795132800000,
    timestamp: '2026-11-20T00:00:00.000Z',
    hostname: 'h',
    instance_id: null,
    region: null,
    boot_id: 'b',
    msg: 'm',
  };

  /** Every path to a value in a JSON value. */
  function paths(value: unknown, prefix: string[] = []): string[][] {
    if (value === null || typeof value !== 'object') return [prefix];
    return [prefix, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...prefix, k]))];
  }

  function withValue(line: Line, path: string[], value: unknown): Line {
    const copy = structuredClone(line) as Record<string, unknown>;
    let node = copy;
    for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
    const last = path.at(-1);
    if (last === undefined) return copy;
    if (value === undefined) delete node[last];
    else node[last] = value;
    return copy;
  }

  it('agree with zod on generated lines with any field changed, removed or added', () => {
    const all = paths(base).filter((p) => p.length > 0);
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom(undefined, -1, 0.5, 2 ** 53, '', 'v1', 'v9', 'docker', [], {}),
    );
    fc.assert(
      fc.property(fc.constantFrom(...all), value, fc.option(fc.string({ maxLength: 8 })), (path, v, extra) => {
        let line = withValue(base, path, v);
        if (extra !== null) line = withValue(line, [...path.slice(0, -1), extra], 1);
        // The fast check only ever says "certainly valid"; on our events it says so whenever zod does.
        if (fastAccepts(line)) expect(zodAccepts(line)).toBe(true);
        if (ours(line)) expect(fastAccepts(line)).toBe(zodAccepts(line));
        sameReading(line);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('the report with the fast path', () => {
  it('equals the report with zod alone on every fixture directory', async () => {
    for (const dir of DIRS) {
      const options: ReportOptions = { includeV2: true };
      const fast = await buildReport([dir], options, { workers: 0 });
      const zod = await buildReport([dir], { ...options, zodOnly: true }, { workers: 0 });
      expect([dir, fast]).toEqual([dir, zod]);
    }
  });
});

// Generated logs: hosts, boots, daemon runs, lifecycle lines with counters, requests of every kind.
const T0 = Date.parse('2026-11-20T00:00:00Z');
const lineArb = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      event: fc.constantFrom('ready', 'stats', 'stopping', 'error'),
      host: fc.integer({ min: 0, max: 2 }),
      boot: fc.integer({ min: 0, max: 1 }),
      pid: fc.integer({ min: 1, max: 3 }),
      at: fc.integer({ min: 0, max: 48 * 3600 }),
      uptime: fc.option(fc.integer({ min: 0, max: 120_000 })),
      lost: fc.integer({ min: 0, max: 3 }),
      continued: fc.boolean(),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      event: fc.constant('imds_request'),
      host: fc.integer({ min: 0, max: 2 }),
      boot: fc.integer({ min: 0, max: 1 }),
      pid: fc.integer({ min: 1, max: 3 }),
      at: fc.integer({ min: 0, max: 48 * 3600 }),
      version: fc.constantFrom('v1', 'v1', 'v2', 'unknown'),
      // The first program most often: its paths overflow the list.
      program: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 4 })),
      path: fc.integer({ min: 0, max: 120 }),
      status: fc.option(fc.constantFrom(200, 401, 404)),
      advice: fc.option(fc.constantFrom('a', 'b')),
    }),
  },
  {
    arbitrary: fc.constantFrom(
      'not json',
      '',
      '{"event":"ready","time":"x"}',
      '[1]',
      // Torn request lines that name their host, and a newer version's event.
      '{"level":40,"time":1795132800000,"hostname":"host-1","instance_id":"i-1","boot_id":"b-0","event":"imds_req',
      '{"level":30,"time":1795140000000,"hostname":"host-2","instance_id":"i-2","boot_id":"b-1","event":"future"}',
    ),
    weight: 1,
  },
);

function textOf(g: typeof lineArb extends fc.Arbitrary<infer T> ? T : never): string {
  if (typeof g === 'string') return g;
  const host = { hostname: `host-${g.host}`, instance_id: g.host === 3 ? null : `i-${g.host}`, boot_id: `b-${g.boot}` };
  const time = T0 + g.at * 1000;
  if (g.event !== 'imds_request') {
    return JSON.stringify({
      level: 30,
      time,
      ...host,
      pid: g.pid,
      event: g.event,
      ...(g.event === 'ready' ? { uptime_ms: g.uptime, capture_continued: g.continued } : {}),
      ...(g.event === 'stopping' ? { system_shutdown: g.continued } : {}),
      ...(g.event === 'error' ? { message: 'x', pid: undefined } : {}),
      kernel: { events_lost: g.lost, process_events_lost: g.lost },
      decode_errors: 0,
      lines_not_written: g.lost > 2 ? 1 : 0,
    });
  }
  const line = requestLine();
  const argv = [
    ['curl', '-s', `http://169.254.169.254/latest/meta-data/p${g.path}`],
    ['python3', '/opt/app/job.py', '--id', String(g.path)],
    ['/usr/bin/agent'],
    ['wget', '-q', `http://169.254.169.254/x/${g.path}`],
    ['node', '/srv/app.js'],
  ][g.program] as string[];
  return JSON.stringify({
    ...line,
    level: g.version === 'v1' ? 40 : 30,
    time,
    ...host,
    pid: g.pid,
    imds_version: g.version,
    request: { ...line.request, path: `/latest/meta-data/p${g.path}` },
    process: { ...line.process, argv, comm: argv[0] },
    ancestors: g.program === 0 ? [{ pid: 9, comm: 'bash', exe: null, argv: ['bash', '/opt/collect.sh'], uid: 0 }] : [],
    response: g.status === null ? null : { status: g.status },
    advice: g.advice,
    request_time: new Date(time).toISOString(),
  });
}

describe('parts read apart and added together', () => {
  it('give the report of one reader, wherever the input is split', () => {
    fc.assert(
      fc.property(
        fc.array(lineArb, { minLength: 150, maxLength: 400 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        (lines, cuts) => {
          const texts = lines.map(textOf);
          const options: ReportOptions = { includeV2: true, minObservedMs: 3600_000 };
          const one = new ReportBuilder(options);
          for (const t of texts) one.addText(t);
          const bounds = [...new Set(cuts.map((c) => c % (texts.length + 1)))].sort((a, b) => a - b);
          const reader = new ReportBuilder(options);
          const merged = new ReportBuilder(options);
          let from = 0;
          for (const to of [...bounds, texts.length]) {
            reader.addFile();
            for (const t of texts.slice(from, to)) reader.addText(t);
            // What a worker posts is a structured clone: data, no methods.
            merged.absorb(structuredClone(reader.takePartial()));
            from = to;
          }
          const expected = one.result();
          expected.input.files = bounds.length + 1;
          // Lines of the contract, mostly: the generator is not testing corrupt-line counting alone.
          expect(expected.input.corrupt_lines).toBeLessThanOrEqual(
            texts.filter((t) => !t.startsWith('{"level')).length,
          );
          expect(merged.result()).toEqual(expected);
        },
      ),
      { numRuns: 100, endOnFailure: true },
    );
  });

  it('count the paths of a program exactly, listing the first in sort order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 60, maxLength: 300 }),
        fc.nat(),
        (paths, cut) => {
          const names = paths.map((p) => `/p/${p}`);
          const whole = emptyPathCounts();
          for (const n of names) countPath(whole, n);
          const at = cut % (names.length + 1);
          const [a, b] = [emptyPathCounts(), emptyPathCounts()];
          for (const n of names.slice(0, at)) countPath(a, n);
          for (const n of names.slice(at)) countPath(b, n);
          mergePathCounts(a, b);
          expect([...a.listed].sort()).toEqual([...whole.listed].sort());
          expect(a.others).toBe(whole.others);
          const distinct = [...new Set(names)].sort();
          expect([...whole.listed.keys()].sort()).toEqual(distinct.slice(0, MAX_LISTED_PATHS));
          expect(whole.others).toBe(names.filter((n) => !distinct.slice(0, MAX_LISTED_PATHS).includes(n)).length);
        },
      ),
    );
  });

  it('on worker threads beside this one: the CLI gives the same JSON as reading in one thread, over every fixture', () => {
    const run = (workers: string) =>
      spawnSync(process.execPath, [CLI, 'report', '--format', 'json', '--include-v2', '--workers', workers, ...DIRS], {
        encoding: 'utf8',
      });
    const alone = run('0');
    expect(JSON.parse(alone.stdout).input.files).toBeGreaterThan(10);
    // 2: this thread and one worker; 3: and two workers.
    for (const readers of ['2', '3']) {
      const workers = run(readers);
      expect(workers.stderr).toBe('');
      expect(workers.status).toBe(alone.status);
      expect(JSON.parse(workers.stdout)).toEqual(JSON.parse(alone.stdout));
    }
  });
});
