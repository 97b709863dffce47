// The boot test's analyses (test/rig/boot/checks.ts) over lines the real sink wrote: each
// check passes what the boot test requires and fails, saying why, on what it must refuse.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Counters } from '../../src/model/log-line.js';
import { counters } from '../helpers/report-fixtures.js';
import { readLogLines } from '../rig/analyzer-process.js';
import { continuity, parseClientRecord, stopLossless } from '../rig/boot/checks.js';
import { daemonDescription } from '../helpers/lifecycle.js';
import { requestLine } from '../helpers/request-line.js';
import { openTestSink } from '../helpers/test-sink.js';

const root = mkdtempSync(join(tmpdir(), 'imds-boot-checks-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

/** Writes the client's numbered requests (each number as often as `times` says) and, with `counted`, a stopping line. */
async function logOf(times: number[], counted?: Counters['requests']) {
  const dir = join(root, `logs-${dirs++}`);
  const sink = await openTestSink(dir);
  times.forEach((count, i) => {
    for (let k = 0; k < count; k++) {
      const line = requestLine();
      sink.request({ ...line, request: { ...line.request, path: `/latest/meta-data/ami-id?n=${i + 1}` } });
    }
  });
  if (counted) {
    const stopping = { signal: 'SIGTERM', system_shutdown: false };
    sink.lifecycle('stopping', { ...daemonDescription(42, dir), ...counters(), requests: counted, ...stopping });
  }
  await sink.close();
  return readLogLines(dir).sort((a, b) => a.time - b.time);
}

describe('boot checks', () => {
  it('continuity: each request logged once in every phase passes', async () => {
    const lines = await logOf([1, 1, 1, 1]);
    const result = continuity(lines, parseClientRecord('1 200\n2 200\n3 200\n4 200\n'), ['start 2']);
    expect(result).toEqual({
      ok: true,
      lines: [
        'continuity before the faults: requests 1..2: 2 made, 2 logged once, 0 missing, 0 logged twice, 0 failed at the client',
        'continuity after the upgrades: requests 3..4: 2 made, 2 logged once, 0 missing, 0 logged twice, 0 failed at the client',
      ],
    });
  });

  it('continuity: a request missing, one logged twice and one the client got no answer to each fail, named', async () => {
    const lines = await logOf([1, 2, 0, 1]);
    const result = continuity(lines, parseClientRecord('1 200\n2 200\n3 200\n4 000\n'), ['kill 4']);
    expect(result.ok).toBe(false);
    expect(result.lines[0]).toBe(
      'continuity through SIGKILL and the automatic restart: requests 1..4: 3 made, 1 logged once, 1 missing 3, 1 logged twice 2, 1 failed at the client',
    );
  });

  it('stop: every counted request logged passes; one counted but not logged fails', async () => {
    expect(stopLossless(await logOf([1, 1], { v1: 2, v2: 0, unknown: 0 }))).toEqual({
      ok: true,
      lines: ['stop: 2 request lines, 2 counted by the daemon, kernel lost 0'],
    });
    expect(stopLossless(await logOf([1], { v1: 1, v2: 1, unknown: 0 })).ok).toBe(false);
    expect(stopLossless(await logOf([1])).lines).toEqual(['stop: no stopping line']);
  });
});
