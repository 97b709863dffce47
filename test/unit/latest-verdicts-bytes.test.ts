// The fleet answer's byte path (LatestVerdicts.offerChunk over readLineChunks) keeps exactly
// the lines the text path (offer over readLines) keeps, whatever the lines and however the
// input is cut into chunks; and `report --verdicts` gives the answer the full reader gives.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { readLineChunks, readLines } from '../../src/logging/read-lines.js';
import { LatestVerdicts } from '../../src/logic/report/latest-verdicts.js';
import { buildReport } from '../../src/report/read.js';
import { latestVerdictsOf } from '../../src/report/workers.js';

const root = mkdtempSync(join(tmpdir(), 'latest-verdicts-bytes-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const T0 = Date.parse('2026-11-01T00:00:00Z');

interface Shape {
  host: number;
  t: number;
  /** null: the host is named by its hostname only. */
  withInstanceId: boolean;
  answer: 'YES' | 'NO' | 'UNKNOWN';
  /** How the line departs from the sink's usual shape. */
  variant:
    | 'usual'
    | 'crlf'
    | 'export'
    | 'event-early'
    | 'escaped-id'
    | 'non-ascii'
    | 'not-verdict'
    | 'torn'
    | 'long-time';
}

/** A verdict line as the sink writes it (pino's fields first, event and msg last), or one of its variants. */
function lineOf(s: Shape): string {
  const id = s.variant === 'escaped-id' ? 'i-0\\u0061bc' : s.variant === 'non-ascii' ? 'i-0é' : `i-0${s.host}`;
  const time = s.variant === 'long-time' ? `${s.t}${s.t}` : String(s.t);
  const base = `{"level":30,"time":${time},"timestamp":"${new Date(s.t).toISOString()}","hostname":"ip-${s.host}","instance_id":${s.withInstanceId ? `"${id}"` : 'null'},"boot_id":"b"`;
  const body = `"version":"0.1.0","pid":7,"answer":"${s.answer}","reasons":[],"window":{"from":"${new Date(T0).toISOString()}","to":"${new Date(s.t).toISOString()}","seconds":1,"boots":1},"coverage":[],"imdsv1_programs":[],"programs":0,"imdsv1_requests":0,"evidence_gaps":0,"tokenless_ok":0,"tokenless_ok_periods":[]`;
  switch (s.variant) {
    case 'not-verdict':
      return `${base},"event":"stats","msg":"stats"}`;
    case 'event-early':
      return `${base},"event":"verdict",${body},"msg":"verdict"}`;
    case 'export':
      return `${new Date(s.t).toISOString()} ${base},${body},"event":"verdict","msg":"verdict"}`;
    case 'torn':
      return `${base},${body.slice(0, 40)}`;
    default:
      return `${base},${body},"event":"verdict","msg":"verdict"}${s.variant === 'crlf' ? '\r' : ''}`;
  }
}

const shape = fc.record({
  host: fc.integer({ min: 0, max: 5 }),
  t: fc.integer({ min: T0, max: T0 + 10_000 }),
  withInstanceId: fc.boolean(),
  answer: fc.constantFrom('YES', 'NO', 'UNKNOWN'),
  variant: fc.constantFrom(
    'usual',
    'usual',
    'usual',
    'crlf',
    'export',
    'event-early',
    'escaped-id',
    'non-ascii',
    'not-verdict',
    'torn',
    'long-time',
  ),
}) as fc.Arbitrary<Shape>;

const window = fc.record({
  sinceMs: fc.option(fc.integer({ min: T0, max: T0 + 10_000 }), { nil: undefined }),
  untilMs: fc.option(fc.integer({ min: T0, max: T0 + 10_000 }), { nil: undefined }),
});

describe('LatestVerdicts on bytes', () => {
  it('keeps the lines the text path keeps, in the same order, however the lines are cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(shape, { maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        window,
        (shapes, cuts, w) => {
          const lines = shapes.map(lineOf);
          const text = new LatestVerdicts(w);
          for (const line of lines) text.offer(line.endsWith('\r') ? line.slice(0, -1) : line);
          // Chunks hold whole lines: cut at line ends only.
          const ends = [...new Set(cuts.map((c) => (lines.length > 0 ? c % lines.length : 0)))].sort((a, b) => a - b);
          const bytes = new LatestVerdicts(w);
          let from = 0;
          for (const end of [...ends, lines.length]) {
            if (end <= from) continue;
            bytes.offerChunk(Buffer.from(`${lines.slice(from, end).join('\n')}\n`));
            from = end;
          }
          expect([...bytes.lines()]).toEqual([...text.lines()]);
          expect(bytes.skipped).toBe(text.skipped);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('the usual line is not sent down the text path (the byte path is taken)', () => {
    const verdicts = new LatestVerdicts();
    const usual = lineOf({ host: 1, t: T0, withInstanceId: true, answer: 'YES', variant: 'usual' });
    const offer = verdicts.offer.bind(verdicts);
    let byText = 0;
    verdicts.offer = (line: string) => {
      byText++;
      offer(line);
    };
    verdicts.offerChunk(Buffer.from(`${usual}\n${usual}\n`));
    expect(byText).toBe(0);
    expect([...verdicts.lines()]).toEqual([usual]);
  });

  it('two hosts whose ids hash alike stay two hosts', () => {
    // "Aa" and "BB" have the same 31-multiplier hash.
    const line = (id: string, t: number) =>
      lineOf({ host: 1, t, withInstanceId: true, answer: 'YES', variant: 'usual' }).replace('i-01', id);
    const lines = [line('i-0Aa', T0), line('i-0BB', T0 + 1), line('i-0Aa', T0 + 2), line('i-0BB', T0 - 1)];
    const bytes = new LatestVerdicts();
    bytes.offerChunk(Buffer.from(`${lines.join('\n')}\n`));
    const text = new LatestVerdicts();
    for (const l of lines) text.offer(l);
    expect([...bytes.lines()]).toEqual([lines[2], lines[1]]);
    expect([...bytes.lines()]).toEqual([...text.lines()]);
  });
});

describe('readLineChunks', () => {
  it('gives the lines readLines gives: CR, a last line without LF, gzip, a line across the 4 MiB read', async () => {
    const long = `{"pad":"${'x'.repeat(5 * 1048576)}"}`;
    const text = ['{"a":1}\r', '', '{"b":2}', long, 'é', 'last without LF'].join('\n');
    for (const [name, data] of [
      ['plain.log', Buffer.from(text)],
      ['zipped.log.gz', gzipSync(text)],
    ] as const) {
      const file = join(root, name);
      writeFileSync(file, data);
      const expected: string[] = [];
      for await (const line of readLines(file)) expected.push(line);
      const got: string[] = [];
      for await (const chunk of readLineChunks(file)) {
        const parts = chunk.toString('utf8').split('\n');
        if (parts.at(-1) === '') parts.pop();
        got.push(...parts.map((p) => (p.endsWith('\r') ? p.slice(0, -1) : p)));
      }
      expect(got).toEqual(expected);
    }
  });
});

describe('report --verdicts', () => {
  it('answers as the full reader does over the same verdict lines (files read on this thread or on workers)', async () => {
    const dir = join(root, 'fleet');
    const shapes = fc.sample(
      shape.filter((s) => s.variant !== 'torn' && s.variant !== 'not-verdict' && s.variant !== 'long-time'),
      { numRuns: 300, seed: 24 },
    );
    rmSync(dir, { recursive: true, force: true });
    for (let f = 0; f < 3; f++) {
      const part = shapes.filter((_, i) => i % 3 === f).map(lineOf);
      writeFileSync(join(`${dir}-${f}.log`), `${part.join('\n')}\n`);
    }
    const files = [0, 1, 2].map((f) => `${dir}-${f}.log`);
    const full = await buildReport(files, {}, { workers: 0 });
    for (const workers of [0, 2]) {
      const fast = await buildReport(files, {}, { verdictsOnly: true, workers });
      expect(fast.verdict).toEqual(full.verdict);
      expect(fast.hosts).toEqual(full.hosts);
      expect(fast.hosts.length).toBeGreaterThan(3);
    }
    const one = await latestVerdictsOf(files[0] as string, {});
    expect(one.unreadable).toBeNull();
  });
});
