// The cache and state directories hold what the daemon trusts at its next start: the
// cut-down BTF libbpf relocates against, the lock, status.json. Whoever can write there (or
// rename a directory on the way there) could feed it a file or a link, so each is refused
// unless it and every directory above it are root's and writable by nobody else. Above the
// first directory that exists (the setting's, or where mkdir will make it), a world-writable
// directory with the sticky bit (/tmp) is allowed: nobody else may rename or replace root's
// directory in it.
import { realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { DirectorySetting } from './writable-dirs.js';

const STICKY = 0o1000;
const GROUP_WRITE = 0o020;
const OTHER_WRITE = 0o002;

/** The real path of the directory, else of its nearest existing ancestor. */
function firstExisting(path: string): string {
  let current = resolve(path);
  for (;;) {
    try {
      return realpathSync(current);
    } catch {
      const parent = dirname(current);
      if (parent === current) return current;
      current = parent;
    }
  }
}

/** Why `dir` is not root's alone, or null (`first`: the first existing directory of the chain). */
function problemWith(dir: string, first: boolean): string | null {
  const st = statSync(dir);
  if (st.uid !== 0) return `${dir} is owned by uid ${st.uid}`;
  if (st.mode & GROUP_WRITE && st.gid !== 0) return `${dir} is writable by group ${st.gid}`;
  if (st.mode & OTHER_WRITE && (first || !(st.mode & STICKY))) return `${dir} is writable by others`;
  return null;
}

/** One line per cache or state directory that someone other than root could write or swap. */
export function untrustedDirectories(settings: DirectorySetting[]): string[] {
  const problems: string[] = [];
  for (const { key, path } of settings) {
    const first = firstExisting(path);
    let problem: string | null = null;
    for (let dir = first; problem === null; dir = dirname(dir)) {
      problem = problemWith(dir, dir === first);
      if (dir === '/') break;
    }
    if (problem)
      problems.push(
        `${key} ${resolve(path)} is not safe: ${problem}. It and every directory above it must be owned by root ` +
          'and writable by nobody else (the daemon trusts the files it keeps there).',
      );
  }
  return problems;
}
