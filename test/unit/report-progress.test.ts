// Progress of a long report: on stderr only when it is a terminal (files, lines, rate, time left).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Progress } from '../../src/report/progress.js';

const EDGE = join(import.meta.dirname, '../fixtures/report/legacy-corrupt');
const FILES = [join(EDGE, 'imds-analyzer.2026-11-20.1.log.gz'), join(EDGE, 'imds-analyzer.2026-11-20.2.log')];

function run(isTTY: boolean): string[] {
  const written: string[] = [];
  let now = 1_000_000;
  const progress = new Progress({ isTTY, write: (t: string) => written.push(t) }, () => now);
  progress.start(FILES);
  now += 2000;
  progress.file({ file: FILES[0]!, lines: 3000 });
  now += 2000;
  progress.file({ file: FILES[1]!, lines: 5000 });
  progress.finish();
  return written;
}

describe('report progress', () => {
  it('writes nothing when stderr is not a terminal', () => {
    expect(run(false)).toEqual([]);
  });

  it('on a terminal: files, lines, rate and time left, redrawn in place, erased at the end', () => {
    const [first, second, end] = run(true);
    const [a, b] = FILES.map((f) => statSync(f).size) as [number, number];
    // After the first file: its share of the bytes took 2 s, the rest takes the same pace.
    const left = Math.round((2 * b) / a);
    expect(first).toBe(
      `\r\u001b[Kreport: 1/2 files, 3,000 lines, 1,500 lines/s, 2s elapsed, ${left >= 60 ? `${Math.floor(left / 60)}m${String(left % 60).padStart(2, '0')}s` : `${left}s`} left`,
    );
    expect(second).toBe('\r\u001b[Kreport: 2/2 files, 8,000 lines, 2,000 lines/s, 4s elapsed, 0s left');
    expect(end).toBe('\r\u001b[K');
  });
});
