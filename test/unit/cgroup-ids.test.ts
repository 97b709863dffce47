// cgroup id -> path with no tree walk on the drain path: the caller's /proc/<pid>/cgroup at
// first sight, proven by the directory's inode; an unknown id asks for one background scan
// (not more than one per interval) and gets null at once. On a stand-in mount and /proc.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CgroupPaths } from '../../src/enrich/cgroup-ids.js';

const base = mkdtempSync(join(tmpdir(), 'imds-cgroup-ids-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const mount = join(base, 'cgroup');
const proc = join(base, 'proc');
const idOf = (path: string) => statSync(join(mount, path), { bigint: true }).ino;

function cgroup(path: string): bigint {
  mkdirSync(join(mount, path), { recursive: true });
  return idOf(path);
}
function processIn(pid: number, path: string): void {
  mkdirSync(join(proc, String(pid)), { recursive: true });
  writeFileSync(join(proc, String(pid), 'cgroup'), `12:memory:/elsewhere\n0::${path}\n`);
}

describe('CgroupPaths', () => {
  it("learns an id from the caller's /proc/<pid>/cgroup when that directory has the id", () => {
    const paths = new CgroupPaths(mount, proc);
    const id = cgroup('user.slice/user-1000.slice/user@1000.service/app.slice/a.scope');
    processIn(100, '/user.slice/user-1000.slice/user@1000.service/app.slice/a.scope');
    paths.learnFromProcess(id, 100);
    expect(paths.pathOf(id)).toBe('/user.slice/user-1000.slice/user@1000.service/app.slice/a.scope');
    expect(paths.scans).toBe(0);
  });

  it('does not take a cgroup the process moved to since (another id) for this one', () => {
    const paths = new CgroupPaths(mount, proc);
    const old = cgroup('old.scope');
    cgroup('new.scope');
    processIn(101, '/new.scope');
    paths.learnFromProcess(old, 101);
    paths.learnFromProcess(old, 99_999); // no such process
    expect(paths.pathOf(old)).toBeNull();
  });

  it('an unknown id gets null at once and one background scan, which later lines use', async () => {
    const paths = new CgroupPaths(mount, proc);
    const ids = Array.from({ length: 50 }, (_, i) => cgroup(`many/c${i}`));
    for (const id of ids) expect(paths.pathOf(id)).toBeNull();
    expect(paths.scans).toBe(1);
    await paths.scanned();
    expect(paths.pathOf(ids[7] as bigint)).toBe('/many/c7');
    // Within the interval no other scan starts, whatever is asked.
    const late = cgroup('many/late');
    expect(paths.pathOf(late)).toBeNull();
    expect(paths.scans).toBe(1);
  });
});
