// Attribution for one request: who connected (process, user, start time), its parent
// chain, and where it runs (systemd unit or container). The kernel's socket owner and
// the process table answer first; /proc fills in what they cannot.
import { readdirSync } from 'node:fs';
import type { AncestorFields, Attribution, ProcessFields } from '../model/attribution.js';
import type { CgroupRecord, ProcessRecord, SocketOwner } from '../model/records.js';
import { cgroupPathFromProcFile, placementFromCgroupPath } from '../logic/cgroup-path.js';
import { CgroupPaths } from './cgroup-ids.js';
import { bootTimeMs, readProc } from './proc.js';
import { type ProcessEntry, ProcessTable } from './process-table.js';
import { UserNames } from './users.js';

export { readHostIdentity } from './host-identity.js';

function numericPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map(Number);
  } catch {
    return [];
  }
}

export class Enricher {
  readonly table: ProcessTable;
  private readonly users = new UserNames();
  private readonly cgroups: CgroupPaths;
  private readonly bootMs = bootTimeMs();

  /** `cgroupRoot`: the cgroup2 mount the socket programs are attached to, once it is mounted. */
  constructor(options: { maxProcesses: number; cgroupRoot: string | null }) {
    this.cgroups = new CgroupPaths(options.cgroupRoot);
    this.table = new ProcessTable(options.maxProcesses, (pid) => readProc(pid), numericPids);
  }

  seedFromProc(): void {
    this.table.seedFromProc();
  }

  /** A process the kernel sends when it or a descendant connects to IMDS. */
  apply(rec: ProcessRecord | CgroupRecord): void {
    if (rec.kind === 'cgroup') this.table.applyCgroup(rec);
    else this.table.apply(rec);
  }

  /** Learns a connecting process and its cgroup at first sight, while both most likely still exist. */
  observe(owner: SocketOwner): void {
    this.table.lookup(owner.pid);
    this.cgroups.learnFromProcess(owner.cgroupId, owner.pid);
  }

  describe(owner: SocketOwner | null, socketUid: number, socketCgroupId: bigint): Attribution {
    const truncated: string[] = [];
    // The process that held the pid at connect(), not one that took the pid over since. Start
    // times are boot time and connectNs monotonic, which only differ after a suspend; then the
    // current holder is the best answer left.
    const entry = owner ? (this.table.lookup(owner.pid, owner.connectNs) ?? this.table.lookup(owner.pid)) : null;
    if (entry?.argvTruncated) truncated.push('process.argv');
    const uid = owner?.uid ?? socketUid;
    const process: ProcessFields = {
      pid: owner?.pid ?? null,
      tid: owner?.tid ?? null,
      // The connecting thread's name as the kernel saw it at connect() (it may have renamed itself).
      comm: owner?.comm ?? entry?.comm ?? null,
      exe: entry?.exe ?? null,
      argv: entry?.argv ?? [],
      uid,
      user: this.users.name(uid),
      gid: owner?.gid ?? null,
      start_time: entry ? new Date(this.bootMs + Number(entry.startNs / 1_000_000n)).toISOString() : null,
      ns_pid: entry && entry.nsLevel > 0 ? entry.nsPid : null,
    };
    const ancestors = entry ? this.table.ancestorsOf(entry).map((a) => this.ancestor(a, truncated)) : [];

    const cgroup = this.cgroupOf(owner?.cgroupId ?? socketCgroupId, entry, owner);
    const placement = cgroup ? placementFromCgroupPath(cgroup) : { unit: null, container: null, userDelegated: false };
    return {
      key: `${owner?.pid ?? 'socket'}:${entry?.startNs ?? 0n}`,
      process,
      ancestors,
      unit: placement.unit,
      userDelegated: placement.userDelegated,
      container: placement.container ? { ...placement.container, pid: process.ns_pid } : null,
      cgroup,
      truncated: [...new Set(truncated)],
    };
  }

  /**
   * The kernel's cgroup v2 id at connect() names the cgroup once its path is learnt, unless it
   * is the v2 root: with cgroup v1 every process sits there, and the name=systemd path the
   * kernel sent at connect() tells the unit. That path (cut to its nearest levels when deeper
   * than the kernel keeps) answers for an id not learnt, /proc last, if the process still runs.
   */
  private cgroupOf(cgroupId: bigint, entry: ProcessEntry | null, owner: SocketOwner | null): string | null {
    const fromId = this.cgroups.pathOf(cgroupId);
    if (fromId !== null && fromId !== '/') return fromId;
    const recorded = entry?.cgroup ?? (owner ? cgroupPathFromProcFile(readProc(owner.pid)?.cgroup ?? '') : null);
    return recorded ?? fromId;
  }

  private ancestor(a: ProcessEntry, truncated: string[]): AncestorFields {
    if (a.argvTruncated) truncated.push('ancestors.argv');
    return { pid: a.pid, comm: a.comm, exe: a.exe, argv: a.argv, uid: a.uid };
  }
}
