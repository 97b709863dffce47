// The report's fast path reads request lines by templates learnt from lines the contract
// accepted (src/model/line-scanner.ts). What it gives must be what the full read gives (JSON
// and the contract): on the lines the real sink writes (its key order, its escaping), and on
// lines that look like the common shape but are not (escapes, whitespace, odd numbers, keys
// twice or unknown, control characters, cut lines), where it must give nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as z from 'zod';
import { REQUEST_FIELDS_READ, ReportBuilder, type ReportOptions } from '../../src/logic/report/aggregate.js';
import { defOf } from '../../src/model/fast-check.js';
import type { RequestLine } from '../../src/model/log-line.js';
import { messageOf, readStoredLineByZod, storedLineTemplates, storedSchemaOf } from '../../src/model/stored-line.js';
import { requestLine } from '../helpers/request-line.js';
import { sinkLines as writtenBySink } from '../helpers/sink-lines.js';

const REQUEST_SCHEMA = storedSchemaOf('imds_request') as z.ZodType;

/** The fields of `value` that `projection` names, as the schema knows them (unknown keys left out on both sides). */
function projected(value: unknown, projection: unknown, schema: z.ZodType): unknown {
  if (value === null || value === undefined) return value;
  const def = defOf(schema);
  if ((def.type === 'optional' || def.type === 'nullable') && def.innerType)
    return projected(value, projection, def.innerType);
  if (def.type === 'array' && def.element && Array.isArray(value))
    return value.map((v) => projected(v, true, def.element as z.ZodType));
  if (def.type === 'object' && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(def.shape ?? {})) {
      const wanted = projection === true ? true : (projection as Record<string, unknown>)[key];
      if (wanted === undefined) continue;
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = projected(v, wanted, field);
    }
    return out;
  }
  return value;
}

/** The fast path's reading of a line agrees with the full read: nothing, or the full read's fields. */
function agrees(templates: ReturnType<typeof newTemplates>, text: string): boolean {
  const fast = templates.match(text);
  const full = readStoredLineByZod(text);
  if (fast === null) return false;
  expect(full.kind).toBe('line');
  if (full.kind !== 'line') return true;
  expect(projected(fast, REQUEST_FIELDS_READ, REQUEST_SCHEMA)).toEqual(
    projected(full.line, REQUEST_FIELDS_READ, REQUEST_SCHEMA),
  );
  return true;
}

const newTemplates = () => {
  const templates = storedLineTemplates('imds_request', REQUEST_FIELDS_READ);
  if (!templates) throw new Error('the request schema compiles');
  return templates;
};

/** Feeds lines as the report does: a line no template matches is read in full and, when valid, teaches one. */
function feed(templates: ReturnType<typeof newTemplates>, texts: string[]): number {
  let matched = 0;
  for (const text of texts) {
    if (agrees(templates, text)) matched++;
    else if (readStoredLineByZod(text).kind === 'line') templates.learn(text, messageOf(text));
  }
  return matched;
}

/** Requests of many shapes: argv lengths, ancestors, containers, SDKs, fallbacks, nulls. */
function variedRequests(): RequestLine[] {
  const base = requestLine();
  const out: RequestLine[] = [];
  for (let i = 0; i < 40; i++) {
    out.push({
      ...base,
      imds_version: (['v1', 'v2', 'unknown'] as const)[i % 3] as RequestLine['imds_version'],
      request: { ...base.request, path: `/latest/meta-data/p${i}`, user_agent: i % 4 === 0 ? null : `agent/${i}` },
      process: {
        ...base.process,
        pid: i % 5 === 0 ? null : 100 + i,
        comm: i % 7 === 0 ? null : 'python3',
        argv: ['python3', `/opt/job-${i}.py`, ...Array.from({ length: i % 4 }, (_, k) => `--n=${k}`)],
      },
      ancestors: Array.from({ length: i % 3 }, (_, k) => ({
        pid: k + 1,
        comm: 'bash',
        exe: k % 2 === 0 ? null : '/bin/bash',
        argv: ['bash', `/opt/run-${k}.sh`],
        uid: 0,
      })),
      container: i % 6 === 0 ? { runtime: 'docker', id: 'c'.repeat(64), pid: 7 } : null,
      sdk:
        i % 5 === 1
          ? { name: 'botocore', version: '1.12.0', min_imdsv2_version: '1.13.25', supports_imdsv2: false }
          : null,
      response: i % 8 === 3 ? null : { status: i % 2 === 0 ? 200 : 401 },
      fallback: i % 9 === 2 ? { reason: 'token_put_failed' } : null,
      advice: i % 2 === 0 ? 'upgrade' : null,
    });
  }
  return out;
}

let sinkLines: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'templates-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  const requests = variedRequests();
  sinkLines = await writtenBySink(dir, (sink) => {
    // Twice over: the second round's lines are of shapes the first taught.
    for (const line of [...requests, ...requests]) sink.request(line);
    // Strings the writer escapes: a quote, a backslash, a newline, a tab, a control character.
    sink.request({
      ...requestLine(),
      process: { ...requestLine().process, argv: ['sh', '-c', 'echo "a\\b"\n\tx\u0001'] },
    });
    sink.request({ ...requestLine(), request: { ...requestLine().request, user_agent: 'ua "quoted"' } });
  });
});

describe('request line templates on the lines the sink writes', () => {
  it("match the writer's lines once a line of their shape was read, with the full read's fields", () => {
    expect(sinkLines).toHaveLength(82);
    const templates = newTemplates();
    const matched = feed(templates, sinkLines.slice(0, 80));
    // Every line of the second round matches: the writer's key order is stable for a shape.
    expect(matched).toBeGreaterThanOrEqual(40);
    for (const text of sinkLines.slice(40, 80)) expect(templates.match(text)).not.toBeNull();
  });

  it('leave lines with escaped strings to the full read', () => {
    const templates = newTemplates();
    feed(templates, sinkLines.slice(0, 80));
    const escaped = sinkLines.slice(80);
    for (const text of escaped) {
      expect(text).toContain('\\');
      expect(templates.match(text)).toBeNull();
      expect(readStoredLineByZod(text).kind).toBe('line');
    }
  });

  it('read CloudWatch Logs export lines (ISO time, space, the line) like the line itself', () => {
    const templates = newTemplates();
    feed(templates, sinkLines.slice(0, 40));
    for (const text of sinkLines.slice(40, 80)) {
      const exported = `2026-11-20T00:00:00.000Z ${text}`;
      expect(agrees(templates, exported)).toBe(true);
    }
  });
});

/** Text edits that make a line of the common shape into something else (or keep it valid). */
const EDITS = [
  ' ',
  '\\',
  '\\u0041',
  '\\"',
  '\t',
  '\u0001',
  '\n',
  '"',
  ',',
  ':',
  '{',
  '}',
  '[',
  ']',
  '0',
  '9',
  '-',
  '.5',
  'e3',
  'null',
  'x',
  'é',
  '\u2028',
  ',"extra":1',
  ',"extra":{"a":[1]}',
  ',"time":5',
  ',"__proto__":{}',
  ',"event":"imds_request"',
  '1234567890123456',
];

describe('request line templates on lines that look like the common shape', () => {
  it("give nothing, or exactly the full read's fields, whatever is edited where", () => {
    const templates = newTemplates();
    const sample = sinkLines.slice(0, 80);
    feed(templates, sample);
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...sample),
        fc.array(
          fc.record({
            at: fc.nat(),
            insert: fc.constantFrom(...EDITS),
            remove: fc.integer({ min: 0, max: 3 }),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        (line, edits) => {
          let text = line;
          for (const { at, insert, remove } of edits) {
            const i = at % (text.length + 1);
            text = text.slice(0, i) + insert + text.slice(i + remove);
          }
          if (agrees(templates, text)) accepted++;
          else refused++;
        },
      ),
      { numRuns: 4000 },
    );
    // Both ways are exercised: edits inside string values keep lines valid and of their shape.
    expect(accepted).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(50);
  });

  it('give the report of the full read on logs mixing common lines and edited ones', () => {
    const options: ReportOptions = { includeV2: true, minObservedMs: 0 };
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            line: fc.nat(),
            at: fc.nat(),
            insert: fc.option(fc.constantFrom(...EDITS), { freq: 3 }),
          }),
          { minLength: 20, maxLength: 120 },
        ),
        (picks) => {
          const texts = picks.map(({ line, at, insert }) => {
            const text = sinkLines[line % sinkLines.length] as string;
            if (insert === null) return text;
            const i = at % (text.length + 1);
            return text.slice(0, i) + insert + text.slice(i);
          });
          const fast = new ReportBuilder(options);
          const full = new ReportBuilder({ ...options, zodOnly: true });
          for (const text of texts) {
            fast.addText(text);
            full.addText(text);
          }
          expect(fast.result()).toEqual(full.result());
        },
      ),
      { numRuns: 200 },
    );
  });
});
