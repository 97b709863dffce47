// The cgroup v2 root the socket programs attach to. Programs attached there run for
// every socket of every process in the hierarchy. Hosts with only cgroup v1 (Amazon
// Linux 2) still have a v2 hierarchy holding every process: it just is not mounted,
// so the analyzer mounts a private one.
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { cgroup2Mounts } from '../logic/mountinfo.js';

export interface CgroupRoot {
  path: string;
  fd: number;
  close(): void;
}

export function openCgroupRoot(stateDir: string): CgroupRoot {
  let path = cgroup2Mounts(readFileSync('/proc/self/mountinfo', 'utf8'))[0];
  if (!path) {
    path = join(stateDir, 'cgroup2');
    mkdirSync(path, { recursive: true, mode: 0o700 });
    // Loaded only here (cgroup v1 hosts): node:child_process brings net and dgram, which every
    // other start would compile for nothing.
    const { execFileSync } = createRequire(import.meta.url)(
      'node:child_process',
    ) as typeof import('node:child_process');
    execFileSync('mount', ['-t', 'cgroup2', 'none', path], { stdio: 'pipe' });
  }
  const fd = openSync(path, 'r');
  return { path, fd, close: () => closeSync(fd) };
}
