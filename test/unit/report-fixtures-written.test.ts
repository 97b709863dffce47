// The report's fixtures are written by the code (test/helpers/report-fixtures.ts, through the
// daemon's log sink and status writer), never by hand: the committed files are exactly what it
// writes now.
// After a change to the contract or the sink: `npm run fixtures:report`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readStoredLine } from '../../src/model/stored-line.js';
import { FIXTURES, fixtureFiles } from '../helpers/report-fixtures.js';

const REPORT = join(import.meta.dirname, '../fixtures/report');
const VERDICT = join(REPORT, 'verdict');
/** Hand-made on purpose, and named so: a state file that is not JSON, and one that is not the daemon's. */
const HAND_MADE = ['status/corrupt.json', 'status/not-state.json'];

function committed(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? committed(path) : [relative(REPORT, path)];
  });
}

describe('report fixtures', () => {
  it('are exactly what the fixture writer writes, and nothing else is there', async () => {
    const written = await fixtureFiles();
    const files = [...committed(VERDICT), ...committed(join(REPORT, 'status'))].filter((f) => !HAND_MADE.includes(f));
    expect(files.sort()).toEqual([...written.keys()].sort());
    // gzip files by their content: another zlib (Node 20, 22) may compress the same text differently.
    const content = (path: string, bytes: Buffer) => (path.endsWith('.gz') ? gunzipSync(bytes) : bytes);
    for (const [path, bytes] of written) {
      const same = content(path, readFileSync(join(REPORT, path))).equals(content(path, bytes));
      expect([path, same], 'after a change to the contract or the sink: npm run fixtures:report').toEqual([path, true]);
    }
  });

  it('follow the log contract, but for those whose name says they do not', () => {
    for (const name of Object.keys(FIXTURES)) {
      const lines = readFileSync(join(VERDICT, name, 'imds-analyzer.log'), 'utf8')
        .split('\n')
        .filter(Boolean);
      const kinds = new Set(lines.map((text) => readStoredLine(text).kind));
      expect([name, [...kinds].sort()]).toEqual([name, name.startsWith('corrupt-') ? ['corrupt', 'line'] : ['line']]);
    }
  });
});
