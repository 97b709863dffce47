// The cgroup v2 root the socket programs attach to. Programs attached there run for
// every socket of every process in the hierarchy. Hosts with only cgroup v1 (Amazon
// Linux 2) still have a v2 hierarchy holding every process: it just is not mounted,
// so the analyzer mounts a private one.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CgroupRoot {
  path: string;
  fd: number;
  close(): void;
}

/** Mount points of cgroup2 whose root is the hierarchy's root, from /proc/self/mountinfo. */
export function cgroup2Mounts(mountinfo: string): string[] {
  const mounts: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fields = left.split(' ');
    if (right.split(' ')[0] === 'cgroup2' && fields[3] === '/' && fields[4]) {
      mounts.push(fields[4].replace(/\\040/g, ' '));
    }
  }
  return mounts;
}

export function openCgroupRoot(stateDir: string): CgroupRoot {
  let path = cgroup2Mounts(readFileSync('/proc/self/mountinfo', 'utf8'))[0];
  if (!path) {
    path = join(stateDir, 'cgroup2');
    mkdirSync(path, { recursive: true, mode: 0o700 });
    execFileSync('mount', ['-t', 'cgroup2', 'none', path], { stdio: 'pipe' });
  }
  const fd = openSync(path, 'r');
  return { path, fd, close: () => closeSync(fd) };
}
