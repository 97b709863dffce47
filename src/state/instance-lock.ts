// One analyzer per host: an flock(2) on a pid file in the run directory. The kernel
// drops the lock when its holder exits, however it exits, so a crash never leaves a
// stale lock and no process is mistaken for an analyzer by its command line.
import { closeSync, fchmodSync, ftruncateSync, mkdirSync, openSync, constants as fs, readFileSync, writeSync } from 'node:fs';
// (libuv opens every file with O_CLOEXEC: children such as mount(8) never inherit the lock.)
import { join } from 'node:path';
import koffi from 'koffi';

export const LOCK_FILE_NAME = 'imds-analyzer.pid';

const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;

let flockCall: ((fd: number, operation: number) => number) | null = null;

/** flock(fd, operation): true when taken, false when another holder has it. */
function tryLock(fd: number, operation: number): boolean {
  flockCall ??= koffi.load('libc.so.6').func('int flock(int fd, int operation)') as (fd: number, op: number) => number;
  if (flockCall(fd, operation | LOCK_NB) === 0) return true;
  const errno = koffi.errno();
  if (errno === EWOULDBLOCK) return false;
  throw new Error(`flock failed (errno ${errno})`);
}

function pidIn(path: string): number | null {
  const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

export function acquireInstanceLock(runDir: string): { release(): void } {
  mkdirSync(runDir, { recursive: true, mode: 0o755 });
  const path = join(runDir, LOCK_FILE_NAME);
  const fd = openSync(path, fs.O_RDWR | fs.O_CREAT | fs.O_NOFOLLOW, 0o644);
  if (!tryLock(fd, LOCK_EX)) {
    closeSync(fd);
    const holder = pidIn(path);
    throw new Error(
      `another imds-analyzer is already running (pid ${holder ?? 'unknown'}, lock ${path}); ` +
        `stop it first ("systemctl stop imds-analyzer"${holder ? ` or "kill ${holder}"` : ''})`,
    );
  }
  // Readable by a non-root `imds-analyzer status` whatever the service's UMask.
  fchmodSync(fd, 0o644);
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`, 0);
  return {
    release() {
      closeSync(fd); // closing the only descriptor drops the lock
    },
  };
}

/** Does a running analyzer hold the lock in `runDir`? */
export function isLockHeld(runDir: string): boolean {
  let fd: number;
  try {
    fd = openSync(join(runDir, LOCK_FILE_NAME), fs.O_RDONLY | fs.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    return !tryLock(fd, LOCK_SH); // when we get it, nobody held it; closing drops our probe
  } finally {
    closeSync(fd);
  }
}
