// One analyzer per host: a pid file created exclusively (O_EXCL) in the state directory.
// A pid file whose process is gone, or is no longer an imds-analyzer, is stale (a
// crash) and is replaced.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE_NAME = 'imds-analyzer.pid';

/** Is `pid` a running imds-analyzer (other than this process)? */
export function isRunningAnalyzer(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('imds-analyzer') || cmdline.includes('cli/main.js');
  } catch {
    return false;
  }
}

export function acquireInstanceLock(runDir: string): { release(): void } {
  mkdirSync(runDir, { recursive: true, mode: 0o755 });
  const path = join(runDir, LOCK_FILE_NAME);
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (isRunningAnalyzer(holder)) {
        throw new Error(
          `another imds-analyzer is already running (pid ${holder}, lock ${path}); ` +
            'stop it first ("systemctl stop imds-analyzer" or "kill ' + holder + '")',
        );
      }
      rmSync(path, { force: true }); // stale: left by a process that is gone
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return {
      release() {
        try {
          if (Number.parseInt(readFileSync(path, 'utf8'), 10) === process.pid) rmSync(path, { force: true });
        } catch {
          // already gone
        }
      },
    };
  }
  throw new Error(`could not take the instance lock ${path}`);
}
