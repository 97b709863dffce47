// cgroup v2 directories the testbed creates for clients (tests name them like docker
// scopes, systemd services or kubepods so attribution can be checked). Only directories
// this tracker created are removed, deepest first, after killing what runs in them.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { cgroup2Mounts } from '../../src/logic/mountinfo.js';
import { sleepSync } from './exec.js';

export function cgroup2Root(): string {
  const root = cgroup2Mounts(readFileSync('/proc/self/mountinfo', 'utf8'))[0];
  if (!root) throw new Error('no cgroup2 hierarchy is mounted (looked in /proc/self/mountinfo)');
  return root;
}

function pidsIn(directory: string): number[] {
  try {
    return readFileSync(join(directory, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Removes cgroup directories given parents first (creation order), killing what runs in
 * them. Returns the ones that still exist afterwards.
 */
export function removeCgroups(createdInOrder: readonly string[]): string[] {
  for (const directory of [...createdInOrder].reverse()) {
    for (let attempt = 0; attempt < 50 && existsSync(directory); attempt++) {
      for (const pid of pidsIn(directory)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      try {
        rmdirSync(directory);
      } catch {
        sleepSync(20);
      }
    }
  }
  return createdInOrder.filter((directory) => existsSync(directory));
}

export class CgroupTracker {
  private readonly created: string[] = [];
  private rootPath: string | undefined;

  constructor(private readonly onCreate: (created: readonly string[]) => void = () => undefined) {}

  /** Absolute path of `name` (relative to the cgroup2 root), created with any missing parents. */
  ensure(name: string): string {
    const relative = normalize(name).replace(/^\/+|\/+$/g, '');
    if (relative === '' || relative === '.' || relative.split('/').includes('..')) {
      throw new Error(`cgroup name must be a path below the cgroup2 root: ${JSON.stringify(name)}`);
    }
    this.rootPath ??= cgroup2Root();
    let current = this.rootPath;
    for (const part of relative.split('/')) {
      current = join(current, part);
      if (!existsSync(current)) {
        mkdirSync(current);
        this.created.push(current);
        this.onCreate(this.created);
      }
    }
    return current;
  }

  /** Directories this tracker created and has not removed yet. */
  list(): readonly string[] {
    return this.created;
  }

  /**
   * Kills every process left in the created cgroups and removes them, deepest first.
   * Returns the directories that could not be removed. Safe to call twice.
   */
  removeAll(): string[] {
    const leftovers = removeCgroups(this.created);
    this.created.splice(0, this.created.length, ...leftovers);
    return leftovers;
  }
}

/**
 * Starts `argv` the way a service manager does: the process first moves into the cgroup
 * whose `cgroup.procs` is given (v1 or v2), then execs, so it is born there.
 */
export function spawnInCgroup(procsFile: string, argv: string[]): ChildProcess {
  return spawn('sh', ['-c', 'echo $$ > "$1" && shift && exec "$@"', 'sh', procsFile, ...argv], { stdio: 'ignore' });
}
