// Every process the daemon has heard of: fed by the kernel's exec/fork/exit records (so
// argv and parentage survive processes that exit before anyone reads /proc), seeded
// from /proc at start, with /proc as the fallback for a pid it never heard of.
// Bounded: least recently used entries go first beyond `maxEntries`.
import type { ProcessIdentity, ProcessRecord } from '../capture/records.js';
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
}

export const DEFAULT_MAX_PROCESSES = 32768;

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
  };
}

/** The entry fields an exec or fork record fills in the same way. */
function identity(rec: ProcessIdentity) {
  const { pid, ppid, startNs, comm, uid, gid, nsPid, nsLevel } = rec;
  return { pid, ppid, startNs, comm, uid, gid, nsPid, nsLevel, exitedNs: null };
}

export class ProcessTable {
  private readonly entries = new Map<number, ProcessEntry>();

  constructor(
    private readonly maxEntries = DEFAULT_MAX_PROCESSES,
    private readonly readProcess: ProcReader = (pid) => readProc(pid),
    private readonly listPids: () => number[] = () => [],
  ) {}

  get size(): number {
    return this.entries.size;
  }

  seedFromProc(): void {
    for (const pid of this.listPids()) {
      const snapshot = this.readProcess(pid);
      if (snapshot) this.put(fromSnapshot(snapshot));
    }
  }

  apply(rec: ProcessRecord): void {
    switch (rec.kind) {
      case 'exec': {
        const previous = this.entries.get(rec.pid);
        // The parent recorded at fork survives re-parenting: if it exited before this
        // exec, the kernel's real_parent is already init or a subreaper.
        const forked = previous && previous.startNs === rec.startNs ? previous : null;
        this.put({
          ...identity(rec),
          ppid: forked?.ppid ?? rec.ppid,
          exe: rec.filename.startsWith('/') ? rec.filename : (previous?.exe ?? rec.filename),
          argv: rec.argvUnreadable ? (this.readProcess(rec.pid)?.argv ?? []) : rec.argv,
          argvTruncated: rec.argvTruncated,
        });
        break;
      }
      case 'fork': {
        // A child runs its parent's program until it execs.
        const parent = this.entries.get(rec.ppid);
        this.put({
          ...identity(rec),
          exe: parent?.exe ?? null,
          argv: parent?.argv ?? [],
          argvTruncated: parent?.argvTruncated ?? false,
        });
        break;
      }
      case 'exit': {
        const entry = this.entries.get(rec.pid);
        if (entry && entry.startNs === rec.startNs) entry.exitedNs = rec.tsNs;
        break;
      }
    }
  }

  /** The process with this pid (the latest one to carry it), from the table or /proc. */
  lookup(pid: number): ProcessEntry | null {
    const entry = this.entries.get(pid);
    if (entry) {
      this.touch(entry);
      return entry;
    }
    const snapshot = pid > 0 ? this.readProcess(pid) : null;
    if (!snapshot) return null;
    const fresh = fromSnapshot(snapshot);
    this.put(fresh);
    return fresh;
  }

  /** Parent chain, nearest first, as recorded when each process was born (not re-parented). */
  ancestors(pid: number, max = 5): ProcessEntry[] {
    const out: ProcessEntry[] = [];
    let current = this.entries.get(pid) ?? this.lookup(pid);
    while (current && out.length < max && current.ppid > 0) {
      const parent = this.lookup(current.ppid);
      if (!parent || out.includes(parent)) break;
      // A parent that started after its child is a reused pid: the chain ends there.
      if (parent.startNs > current.startNs + TICK_NS) break;
      out.push(parent);
      current = parent;
    }
    return out;
  }

  private put(entry: ProcessEntry): void {
    this.entries.delete(entry.pid);
    this.entries.set(entry.pid, entry);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  private touch(entry: ProcessEntry): void {
    this.entries.delete(entry.pid);
    this.entries.set(entry.pid, entry);
  }
}
