// cgroup v2 id (what the kernel reports) -> cgroup path. The id is the inode number of
// the cgroup's directory on the cgroup2 mount; the mount is scanned into a cache, again
// the first time an id is not found (an id still unknown after that scan is not
// rescanned for a while). Paths of cgroups removed since are kept: a short-lived
// service's cgroup may be gone by the time its request is written.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cgroup2Mounts } from '../logic/mountinfo.js';

const MISS_RETRY_MS = 1000;
const MAX_SCANNED_DIRS = 100_000;
const MAX_REMEMBERED = 50_000;

export class CgroupPaths {
  private readonly mount: string | null;
  private readonly paths = new Map<bigint, string>();
  private readonly misses = new Map<bigint, number>();

  constructor(mountinfo = '/proc/self/mountinfo') {
    let mount: string | null = null;
    try {
      mount = cgroup2Mounts(readFileSync(mountinfo, 'utf8'))[0] ?? null;
    } catch {
      mount = null;
    }
    this.mount = mount;
  }

  pathOf(id: bigint): string | null {
    if (!this.mount || id === 0n) return null;
    const known = this.paths.get(id);
    if (known !== undefined) return known;
    const missedAt = this.misses.get(id);
    if (missedAt !== undefined && Date.now() - missedAt < MISS_RETRY_MS) return null;
    this.scan();
    const found = this.paths.get(id);
    if (found === undefined) this.misses.set(id, Date.now());
    if (this.misses.size > MAX_REMEMBERED) this.misses.clear();
    return found ?? null;
  }

  private scan(): void {
    const mount = this.mount as string;
    const stack = [''];
    let scanned = 0;
    while (stack.length > 0 && scanned++ < MAX_SCANNED_DIRS) {
      const rel = stack.pop() as string;
      const abs = join(mount, rel);
      try {
        const ino = statSync(abs, { bigint: true }).ino;
        this.paths.delete(ino);
        this.paths.set(ino, rel === '' ? '/' : `/${rel}`);
        for (const entry of readdirSync(abs, { withFileTypes: true })) {
          if (entry.isDirectory()) stack.push(rel === '' ? entry.name : `${rel}/${entry.name}`);
        }
      } catch {
        // a cgroup removed while scanning
      }
    }
    // Oldest first in insertion order: forget the oldest beyond the bound.
    for (const ino of this.paths.keys()) {
      if (this.paths.size <= MAX_REMEMBERED) break;
      this.paths.delete(ino);
    }
  }
}
