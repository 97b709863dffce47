// cgroup v2 id (what the kernel reports) -> cgroup path. The id is the inode number of
// the cgroup's directory on the cgroup2 mount; the mount is scanned into a cache,
// again (at most every 50 ms) when an id is not found.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cgroup2Mounts } from '../capture/cgroup-root.js';

const RESCAN_INTERVAL_MS = 50;
const MAX_SCANNED_DIRS = 100_000;

export class CgroupPaths {
  private readonly mount: string | null;
  private paths = new Map<bigint, string>();
  private lastScanMs = 0;

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
    if (Date.now() - this.lastScanMs < RESCAN_INTERVAL_MS) return null;
    this.scan();
    return this.paths.get(id) ?? null;
  }

  private scan(): void {
    const mount = this.mount as string;
    this.lastScanMs = Date.now();
    const paths = new Map<bigint, string>();
    const stack = [''];
    while (stack.length > 0 && paths.size < MAX_SCANNED_DIRS) {
      const rel = stack.pop() as string;
      const abs = join(mount, rel);
      try {
        paths.set(statSync(abs, { bigint: true }).ino, rel === '' ? '/' : `/${rel}`);
        for (const entry of readdirSync(abs, { withFileTypes: true })) {
          if (entry.isDirectory()) stack.push(rel === '' ? entry.name : `${rel}/${entry.name}`);
        }
      } catch {
        // a cgroup removed while scanning
      }
    }
    this.paths = paths;
  }
}
