// The cache and state directories are refused unless root's alone, up to /: owned by another
// uid, writable by others or by a non-root group, or below such a directory. (Root only:
// making a directory another user's takes chown.)
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { untrustedDirectories } from '../../src/daemon/owned-dirs.js';

const isRoot = process.getuid?.() === 0;
const base = mkdtempSync(join(tmpdir(), 'imds-owned-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function fresh(name: string): string {
  const dir = join(base, name);
  mkdirSync(dir, { mode: 0o755 });
  return dir;
}
const check = (path: string) => untrustedDirectories([{ key: 'cacheDir', path }]);

describe.skipIf(!isRoot)('untrustedDirectories', () => {
  it("accepts root's own directories, existing or still to be made, and an existing one below sticky /tmp", () => {
    expect(check(fresh('ok'))).toEqual([]);
    expect(check(join(base, 'ok/not/yet'))).toEqual([]);
    expect(check('/run')).toEqual([]);
  });

  it('refuses a directory another uid owns, or one below it', () => {
    const dir = fresh('theirs');
    chownSync(dir, 65534, 65534);
    expect(check(dir)).toEqual([
      expect.stringMatching(new RegExp(`^cacheDir ${dir} is not safe: ${dir} is owned by uid 65534\\.`)),
    ]);
    mkdirSync(join(dir, 'inner'));
    expect(check(join(dir, 'inner'))[0]).toContain(`${dir} is owned by uid 65534`);
    expect(check(join(dir, 'to-be-made'))[0]).toContain(`${dir} is owned by uid 65534`);
  });

  it('refuses one writable by others or a non-root group, and one to be made in a world-writable directory', () => {
    const open = fresh('open');
    chmodSync(open, 0o777);
    expect(check(open)[0]).toContain(`${open} is writable by others`);
    const sticky = fresh('sticky');
    chmodSync(sticky, 0o1777);
    expect(check(join(sticky, 'cache'))[0]).toContain(`${sticky} is writable by others`);
    mkdirSync(join(sticky, 'made'), { mode: 0o700 });
    expect(check(join(sticky, 'made'))).toEqual([]);
    const group = fresh('group');
    chownSync(group, 0, 65534);
    chmodSync(group, 0o775);
    expect(check(group)[0]).toContain(`${group} is writable by group 65534`);
  });

  it('judges where a link leads, not the link', () => {
    const target = fresh('target');
    chownSync(target, 65534, 65534);
    const link = join(base, 'link');
    symlinkSync(target, link);
    expect(check(link)[0]).toContain(`${target} is owned by uid 65534`);
  });
});
