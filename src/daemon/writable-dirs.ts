// Before anything else starts: can the daemon write its log and state directories? Under
// the unit's sandbox (ProtectSystem=) a directory outside the defaults is read-only, and a
// daemon that only finds out when it opens a file fails with EROFS and restarts forever.
// Probed with access(2), without creating anything: the log sink creates the log
// directory itself with its own mode.
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface DirectorySetting {
  /** The config key, as the user wrote it. */
  key: string;
  path: string;
}

/** The directory itself if it exists, else its nearest existing ancestor (where mkdir would write). */
function nearestExisting(path: string): string {
  let current = resolve(path);
  for (;;) {
    try {
      statSync(current);
      return current;
    } catch (err) {
      const parent = dirname(current);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === current) return current;
      current = parent;
    }
  }
}

/** Why the daemon could not create or write `path`: an errno code and where it hit, or null. */
function probe(path: string): { code: string; at: string } | null {
  const at = nearestExisting(path);
  try {
    if (!statSync(at).isDirectory()) return { code: 'ENOTDIR', at };
    accessSync(at, constants.W_OK | constants.X_OK);
    return null;
  } catch (err) {
    return { code: (err as NodeJS.ErrnoException).code ?? 'EIO', at };
  }
}

/** One line per directory the daemon cannot write; a read-only one names the drop-in that allows it. */
export function unwritableDirectories(settings: DirectorySetting[]): string[] {
  const problems: string[] = [];
  for (const { key, path } of settings) {
    const problem = probe(path);
    if (problem === null) continue;
    const dir = resolve(path);
    const what = `${key} ${dir} is not writable (${problem.code} on ${problem.at})`;
    if (problem.code !== 'EROFS') {
      problems.push(`${what}.`);
      continue;
    }
    problems.push(
      `${what}. Under systemd the service's sandbox (ProtectSystem=) makes it read-only: ` +
        `create the directory (mkdir -p ${dir}), run "systemctl edit imds-analyzer", ` +
        `add "[Service]" and "ReadWritePaths=${dir}" (systemd 219, Amazon Linux 2: "ReadWriteDirectories=${dir}"), ` +
        'then "systemctl restart imds-analyzer".',
    );
  }
  return problems;
}
