// cgroup v2 id (what the kernel reports) -> cgroup path. The id is the inode number of the
// cgroup's directory on the cgroup2 mount. Nothing here walks the tree on the drain path:
// - at a connection's first record the caller's /proc/<pid>/cgroup names its cgroup, and a
//   stat of that directory proves the id (learnFromProcess);
// - an id still unknown when its line is written asks for a scan of the mount, which runs
//   in the background (asynchronous reads) at most once per SCAN_INTERVAL_MS, for later lines.
// Paths of cgroups removed since are kept: a short-lived service's cgroup may be gone by the
// time its request is written.
import { readFileSync, statSync } from 'node:fs';
import { opendir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const SCAN_INTERVAL_MS = 10_000;
const MAX_SCANNED_DIRS = 100_000;
const MAX_REMEMBERED = 50_000;

/** The cgroup v2 line of /proc/<pid>/cgroup ("0::/path"), or null. */
function v2PathOf(procCgroup: string): string | null {
  const line = procCgroup.split('\n').find((l) => l.startsWith('0::'));
  return line ? line.slice(3) : null;
}

export class CgroupPaths {
  private readonly paths = new Map<bigint, string>();
  private scanning = false;
  private lastScanEndMs = Number.NEGATIVE_INFINITY;
  /** Full scans started (for tests and the bench: they never run on the drain path). */
  scans = 0;

  /** `mount`: the cgroup2 hierarchy the socket programs are attached to (the daemon may have mounted it). */
  constructor(
    private readonly mount: string | null,
    private readonly procRoot = '/proc',
  ) {}

  /** The path of a cgroup id already learnt, or null (then a background scan is asked for). */
  pathOf(id: bigint): string | null {
    if (!this.mount || id === 0n) return null;
    const known = this.paths.get(id);
    if (known !== undefined) return known;
    this.requestScan();
    return null;
  }

  /** Learns `id` from the cgroup `pid` is in now, if that cgroup's directory has this id. */
  learnFromProcess(id: bigint, pid: number): void {
    if (!this.mount || id === 0n || this.paths.has(id)) return;
    try {
      const path = v2PathOf(readFileSync(`${this.procRoot}/${pid}/cgroup`, 'utf8'));
      if (path === null) return;
      if (statSync(join(this.mount, path), { bigint: true }).ino === id) this.remember(id, path);
    } catch {
      // the process or its cgroup is gone: a scan may still find the cgroup
    }
  }

  /** Starts a background scan unless one runs or the last ended less than SCAN_INTERVAL_MS ago. */
  requestScan(): void {
    if (!this.mount || this.scanning || Date.now() - this.lastScanEndMs < SCAN_INTERVAL_MS) return;
    this.scanning = true;
    this.scans++;
    void this.scan(this.mount).finally(() => {
      this.scanning = false;
      this.lastScanEndMs = Date.now();
    });
  }

  /** Resolves once no scan is running (tests). */
  async scanned(): Promise<void> {
    while (this.scanning) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  private remember(id: bigint, path: string): void {
    this.paths.delete(id);
    this.paths.set(id, path);
    // Oldest first in insertion order: forget the oldest beyond the bound.
    if (this.paths.size > MAX_REMEMBERED) {
      const oldest = this.paths.keys().next();
      if (!oldest.done) this.paths.delete(oldest.value);
    }
  }

  private async scan(mount: string): Promise<void> {
    const stack = [''];
    let scanned = 0;
    while (stack.length > 0 && scanned++ < MAX_SCANNED_DIRS) {
      const rel = stack.pop() as string;
      const abs = join(mount, rel);
      try {
        this.remember((await stat(abs, { bigint: true })).ino, rel === '' ? '/' : `/${rel}`);
        for await (const entry of await opendir(abs)) {
          if (entry.isDirectory()) stack.push(rel === '' ? entry.name : `${rel}/${entry.name}`);
        }
      } catch {
        // a cgroup removed while scanning
      }
    }
  }
}
