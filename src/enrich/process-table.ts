// Every process the daemon has heard of: fed by the kernel's process records, which come
// only for processes that touch IMDS and their ancestors (the kernel remembers argv and
// parentage of every process, so both survive processes that exit before anyone reads
// /proc), seeded from /proc at start, with /proc as the fallback for a pid it never heard of.
// Bounded: least recently used entries go first beyond `maxEntries`.
//
// Each entry also keeps a cgroup path. With cgroup v1 (Amazon Linux 2) the kernel's cgroup
// id names only the root of the v2 hierarchy, so the systemd unit comes from the
// name=systemd hierarchy: the kernel sends a caller's path there at connect() (a
// short-lived caller takes its /proc/<pid>/cgroup with it), /proc gives it for the others.
import type { CgroupRecord, ProcessRecord } from '../model/records.js';
import { CUT_PATH, cgroupPathFromProcFile } from '../logic/cgroup-path.js';
import { type ProcSnapshot, TICK_NS, readProc } from './proc.js';

export interface ProcessEntry {
  pid: number;
  ppid: number;
  startNs: bigint;
  comm: string;
  exe: string | null;
  argv: string[];
  argvTruncated: boolean;
  uid: number;
  gid: number;
  nsPid: number;
  nsLevel: number;
  /** Kernel time of its exit, or null while it runs (as far as we know). */
  exitedNs: bigint | null;
  /** cgroup path (v1 name=systemd, else v2) as of its connect() to IMDS or its /proc read; null: unknown. */
  cgroup: string | null;
}

export const DEFAULT_MAX_PROCESSES = 32768;
/** How long a process that exited stays resolvable after its pid was given to a new one. */
export const EXITED_GRACE_NS = 30_000_000_000n;

export type ProcReader = (pid: number) => ProcSnapshot | null;

function fromSnapshot(s: ProcSnapshot): ProcessEntry {
  return {
    pid: s.pid,
    ppid: s.ppid,
    startNs: s.startNs,
    comm: s.comm,
    exe: s.exe,
    argv: s.argv,
    argvTruncated: s.argvTruncated,
    uid: s.uid,
    gid: s.gid,
    nsPid: s.nsPid,
    nsLevel: s.nsLevel,
    exitedNs: null,
    cgroup: s.cgroup === null ? null : cgroupPathFromProcFile(s.cgroup),
  };
}

/** Whether the process had started by `atNs` (to /proc's one-tick precision); no time: yes. */
function startedBy(entry: ProcessEntry, atNs: bigint | undefined): boolean {
  return atNs === undefined || entry.startNs <= atNs + TICK_NS;
}

/** Map insertion order is recency order here: drops the least recent beyond `max`. */
function evictOldest<K, V>(map: Map<K, V>, max: number): void {
  for (const key of map.keys()) {
    if (map.size <= max) break;
    map.delete(key);
  }
}

export class ProcessTable {
  private readonly entries = new Map<number, ProcessEntry>();
  /** The previous holder of a reused pid, kept for EXITED_GRACE_NS after its exit. */
  private readonly retired = new Map<number, ProcessEntry>();
  /** Share of `maxEntries` the retired may take; together with the current ones they never exceed it. */
  private readonly retiredCap: number;

  constructor(
    private readonly maxEntries = DEFAULT_MAX_PROCESSES,
    private readonly readProcess: ProcReader = (pid) => readProc(pid),
    private readonly listPids: () => number[] = () => [],
  ) {
    this.retiredCap = Math.floor(maxEntries / 8);
  }

  /** Processes held: current holders of their pid plus retired ones in their grace period. */
  get size(): number {
    return this.entries.size + this.retired.size;
  }

  seedFromProc(): void {
    for (const pid of this.listPids()) {
      // The kernel's record of a process is more exact than /proc's (start time, parent at fork).
      if (this.entries.has(pid)) continue;
      const snapshot = this.readProcess(pid);
      if (snapshot) this.put(fromSnapshot(snapshot));
    }
  }

  apply(rec: ProcessRecord): void {
    const { pid, ppid, startNs, comm, uid, gid, nsPid, nsLevel, exitedNs } = rec;
    const known = this.entries.get(pid);
    const same = known && known.startNs === startNs ? known : null;
    // A relative execve() path says less than a path seen before; a child that has not
    // exec'd since a fork the kernel saw without its parent runs its parent's program.
    let exe = rec.filename.startsWith('/') ? rec.filename : (same?.exe ?? (rec.filename || null));
    if (exe === null && !rec.execed) exe = this.lookup(ppid, startNs)?.exe ?? null;
    this.put({
      pid,
      ppid,
      startNs,
      comm,
      uid,
      gid,
      nsPid,
      nsLevel,
      exitedNs,
      exe,
      argv: rec.argvUnreadable ? (this.readProcess(pid)?.argv ?? []) : rec.argv,
      argvTruncated: rec.argvTruncated,
      cgroup: same?.cgroup ?? null,
    });
  }

  /** The cgroup v1 path the kernel saw a process in at connect(): it names the unit. */
  applyCgroup(rec: CgroupRecord): void {
    const entry = this.lookup(rec.pid, rec.tsNs);
    // A path cut to its nearest levels starts anywhere in the tree: CUT_PATH marks it.
    if (entry && entry.startNs === rec.startNs) entry.cgroup = rec.truncated ? `${CUT_PATH}${rec.path}` : rec.path;
  }

  /**
   * The process with this pid: the latest to carry it, or, given the time of an event,
   * the one that was running then (a pid reused since still resolves to its old owner
   * for a grace period). /proc answers for a pid the table never heard of, unless the
   * process there started after the event (a different process with the same pid).
   */
  lookup(pid: number, atNs?: bigint): ProcessEntry | null {
    const entry = this.entries.get(pid);
    if (entry && startedBy(entry, atNs)) {
      this.touch(entry);
      return entry;
    }
    const previous = this.retired.get(pid);
    if (previous && startedBy(previous, atNs)) return previous;
    if (entry) return null;
    const snapshot = pid > 0 ? this.readProcess(pid) : null;
    if (!snapshot) return null;
    const fresh = fromSnapshot(snapshot);
    this.put(fresh);
    return startedBy(fresh, atNs) ? fresh : null;
  }

  /** Parent chain, nearest first, as recorded when each process was born (not re-parented). */
  ancestors(pid: number, max = 5): ProcessEntry[] {
    const entry = this.entries.get(pid) ?? this.lookup(pid);
    return entry ? this.ancestorsOf(entry, max) : [];
  }

  /** Parent chain of this very process (which may be the retired holder of a reused pid). */
  ancestorsOf(entry: ProcessEntry, max = 5): ProcessEntry[] {
    const out: ProcessEntry[] = [];
    let current: ProcessEntry | null = entry;
    while (current && out.length < max && current.ppid > 0) {
      // The parent had started by the child's birth: a later holder of its pid is not it.
      const parent = this.lookup(current.ppid, current.startNs);
      if (!parent || out.includes(parent)) break;
      out.push(parent);
      current = parent;
    }
    return out;
  }

  private put(entry: ProcessEntry): void {
    const replaced = this.entries.get(entry.pid);
    if (replaced && replaced.startNs !== entry.startNs) this.retire(replaced, entry.startNs);
    this.entries.delete(entry.pid);
    this.entries.set(entry.pid, entry);
    evictOldest(this.entries, this.maxEntries - this.retired.size);
  }

  /** Keeps a pid's previous holder while late events about it may still arrive. */
  private retire(old: ProcessEntry, successorStartNs: bigint): void {
    this.retired.delete(old.pid);
    // An exit we never saw happened before the successor started. (Exit times are
    // CLOCK_MONOTONIC, start times boot time: equal unless the host was suspended, and
    // then the grace only ends sooner.)
    const exitedNs = old.exitedNs ?? successorStartNs;
    if (successorStartNs - exitedNs > EXITED_GRACE_NS) return;
    this.retired.set(old.pid, { ...old, exitedNs });
    for (const [pid, e] of this.retired) {
      if (successorStartNs - (e.exitedNs ?? successorStartNs) <= EXITED_GRACE_NS) break;
      this.retired.delete(pid);
    }
    evictOldest(this.retired, this.retiredCap);
  }

  private touch(entry: ProcessEntry): void {
    this.entries.delete(entry.pid);
    this.entries.set(entry.pid, entry);
  }
}
