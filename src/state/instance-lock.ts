// One analyzer per host: an flock(2) on a lock file in the run directory. The kernel
// drops the lock when its holder exits, however it exits, so a crash never leaves a
// stale lock and no process is mistaken for an analyzer by its command line.
//
// Only root can open the lock file (mode 0600, owned by the daemon's user, in a directory
// only it can write): a lock someone else may hold would let any local user block the next
// start. A file that fails that test (another owner, readable by others: left by an older
// version, or planted) is unlinked and made afresh, so that whoever holds a lock on the old
// inode holds nothing that matters. A non-root `status` tells whether the analyzer runs from
// the pid and the start time it wrote to status.json (processIdentity).
import {
  closeSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  constants as fs,
  readFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
// (libuv opens every file with O_CLOEXEC: children such as mount(8) never inherit the lock.)
import { join } from 'node:path';
import koffi from 'koffi';
import { parseProcStat } from '../logic/proc-stat.js';

export const LOCK_FILE_NAME = 'imds-analyzer.pid';

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;
const OWNER_ONLY = 0o600;

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

/** Opens the lock file as one only we could have opened before, making it afresh if need be. */
function openOwnLockFile(path: string): number {
  const flags = fs.O_RDWR | fs.O_CREAT | fs.O_NOFOLLOW;
  const fd = openSync(path, flags, OWNER_ONLY);
  const st = fstatSync(fd);
  if (st.isFile() && st.uid === process.geteuid?.() && (st.mode & 0o077) === 0) return fd;
  closeSync(fd);
  unlinkSync(path);
  return openSync(path, flags | fs.O_EXCL, OWNER_ONLY);
}

export function acquireInstanceLock(runDir: string): { release(): void } {
  mkdirSync(runDir, { recursive: true, mode: 0o755 });
  const path = join(runDir, LOCK_FILE_NAME);
  const fd = openOwnLockFile(path);
  if (!tryLock(fd, LOCK_EX)) {
    closeSync(fd);
    const holder = pidIn(path);
    throw new Error(
      `another imds-analyzer is already running (pid ${holder ?? 'unknown'}, lock ${path}); ` +
        `stop it first ("systemctl stop imds-analyzer"${holder ? ` or "kill ${holder}"` : ''})`,
    );
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`, 0);
  return {
    release() {
      closeSync(fd); // closing the only descriptor drops the lock
    },
  };
}

/** A process's start time (clock ticks since boot, /proc/<pid>/stat), or null when it is gone. */
export function processStartTicks(pid: number, procRoot = '/proc'): number | null {
  try {
    const stat = parseProcStat(readFileSync(`${procRoot}/${pid}/stat`, 'utf8'));
    return stat && stat.state !== 'Z' ? Number(stat.startTicks) : null;
  } catch {
    return null;
  }
}

/** Is the process that wrote `pid` and `startTicks` still running (not another that took the pid)? */
export function isProcessRunning(pid: number, startTicks: number, procRoot = '/proc'): boolean {
  return processStartTicks(pid, procRoot) === startTicks;
}
