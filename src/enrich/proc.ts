// Readers for /proc/<pid>: they never throw, a process that is gone reads as null.
import { type Stats, closeSync, constants, fstatSync, openSync, readFileSync, readSync, readlinkSync } from 'node:fs';
import { parseProcStat } from '../logic/proc-stat.js';
import { splitArgv } from '../logic/text.js';

export const MAX_ARGS = 256;
export const MAX_ARG_CHARS = 4096;
/** Bytes of /proc/<pid>/cmdline read: as many as the kernel copies at exec (IMDS_MAX_ARGS). */
export const MAX_CMDLINE_BYTES = 4096;
/** USER_HZ: the unit of /proc/<pid>/stat times on every Linux architecture we ship for. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcSnapshot {
  pid: number;
  ppid: number;
  comm: string;
  /** Start time since boot in ns, to tick precision (compare with one tick tolerance). */
  startNs: bigint;
  argv: string[];
  argvTruncated: boolean;
  exe: string | null;
  uid: number;
  gid: number;
  /** pid in the innermost pid namespace (last NSpid value). */
  nsPid: number;
  nsLevel: number;
  cgroup: string | null;
}

export const TICK_NS = BigInt(1_000_000_000 / CLOCK_TICKS_PER_SECOND);

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * The first `maxBytes` of a file (argv can be megabytes long), and whether there was more.
 * With `admit`, a symbolic link is not followed and the file opened is read only if `admit`
 * accepts what fstat says of it.
 */
export function readHead(
  path: string,
  maxBytes: number,
  admit?: (stats: Stats) => boolean,
): { bytes: Uint8Array; more: boolean } | null {
  let fd: number;
  try {
    fd = admit ? openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK) : openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    if (admit && !admit(fstatSync(fd))) return null;
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    return { bytes: buffer.subarray(0, Math.min(length, maxBytes)), more: length > maxBytes };
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** /proc/<pid>/cgroup, null when the process is gone. */
function readProcCgroup(pid: number, root = '/proc'): string | null {
  return read(`${root}/${pid}/cgroup`);
}

/** Everything about one process, or null when it is gone or its stat is malformed. */
export function readProc(pid: number, root = '/proc'): ProcSnapshot | null {
  const stat = read(`${root}/${pid}/stat`);
  const status = read(`${root}/${pid}/status`);
  if (stat === null || status === null) return null;
  const parsed = parseProcStat(stat);
  if (!parsed) return null;
  const { comm, ppid, startTicks } = parsed;
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim().split(/\s+/) ?? [];
  const nsPids = field('NSpid')
    .filter((v) => /^\d+$/.test(v))
    .map(Number);
  const cmdline = readHead(`${root}/${pid}/cmdline`, MAX_CMDLINE_BYTES);
  const argv = cmdline ? splitArgv(cmdline.bytes, MAX_ARGS, MAX_ARG_CHARS) : { argv: [], truncated: false };
  let exe: string | null = null;
  try {
    exe = readlinkSync(`${root}/${pid}/exe`);
  } catch {
    exe = null;
  }
  return {
    pid,
    ppid,
    comm,
    startNs: startTicks * TICK_NS,
    argv: argv.argv,
    argvTruncated: argv.truncated || (cmdline?.more ?? false),
    exe,
    uid: idField(field('Uid')),
    gid: idField(field('Gid')),
    nsPid: nsPids.at(-1) ?? pid,
    nsLevel: Math.max(0, nsPids.length - 1),
    cgroup: readProcCgroup(pid, root),
  };
}

/** The real id (first of real, effective, saved, fs), -1 when absent or malformed. */
function idField(values: string[]): number {
  const real = values[0] ?? '';
  return /^\d+$/.test(real) ? Number(real) : -1;
}

/** Wall-clock time of boot in ms, from /proc/stat's btime. */
export function bootTimeMs(root = '/proc'): number {
  const btime = /^btime (\d+)$/m.exec(read(`${root}/stat`) ?? '')?.[1];
  return btime ? Number(btime) * 1000 : 0;
}
