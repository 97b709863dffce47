// The probe itself (no root needed): a writable directory, one still to be
// created under a writable parent, and a path through a regular file.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unwritableDirectories } from '../../src/daemon/writable-dirs.js';

const dir = mkdtempSync(join(tmpdir(), 'imds-writable-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('unwritableDirectories', () => {
  it('accepts an existing directory and one that mkdir can create, creating nothing', () => {
    expect(
      unwritableDirectories([
        { key: 'logDir', path: dir },
        { key: 'stateDir', path: join(dir, 'not/yet/there') },
      ]),
    ).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('names the key and the path when a regular file is in the way', () => {
    writeFileSync(join(dir, 'file'), '');
    const problems = unwritableDirectories([{ key: 'logDir', path: join(dir, 'file/logs') }]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^logDir ${join(dir, 'file/logs')} is not writable \\(ENOTDIR on `));
    // Not a sandbox problem: no drop-in advice.
    expect(problems[0]).not.toContain('ReadWritePaths');
  });
});
