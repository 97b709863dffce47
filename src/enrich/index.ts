// Attribution for one request: who connected (process, user, start time), its parent
// chain, and where it runs (systemd unit or container). The kernel's socket owner and
// the process table answer first; /proc fills in what they cannot.
import { readdirSync } from 'node:fs';
import type { AncestorFields, Attribution, ProcessFields } from '../model/attribution.js';
import type { ProcessRecord, SocketOwner } from '../model/records.js';
import { cgroupPathFromProcFile, placementFromCgroupPath } from '../logic/cgroup-path.js';
import { redactArgv } from '../logic/redact.js';
import { CgroupPaths } from './cgroup-ids.js';
import { bootTimeMs, readProc } from './proc.js';
import { type ProcessEntry, ProcessTable } from './process-table.js';
import { UserNames } from './users.js';

function numericPids(): number[] {
  try {
    return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
  } catch {
    return [];
  }
}

export class Enricher {
  readonly table: ProcessTable;
  private readonly users = new UserNames();
  private readonly cgroups = new CgroupPaths();
  private readonly bootMs = bootTimeMs();

  constructor(options: { maxProcesses: number }) {
    this.table = new ProcessTable(options.maxProcesses, (pid) => readProc(pid), numericPids);
  }

  seedFromProc(): void {
    this.table.seedFromProc();
  }

  /** A process the kernel sends when it or a descendant connects to IMDS: the first moment user
   * space hears of it, while the caller still runs (the place to read what only /proc holds). */
  apply(rec: ProcessRecord): void {
    this.table.apply(rec);
  }

  /** Learns a connecting process and its cgroup while both surely still exist. */
  observe(owner: SocketOwner): void {
    this.table.lookup(owner.pid);
    this.cgroups.pathOf(owner.cgroupId);
  }

  describe(owner: SocketOwner | null, socketUid: number, socketCgroupId: bigint): Attribution {
    const truncated: string[] = [];
    // The process that held the pid at connect(), not one that took the pid over since. Start
    // times are boot time and connectNs monotonic, which only differ after a suspend; then the
    // current holder is the best answer left.
    const entry = owner ? (this.table.lookup(owner.pid, owner.connectNs) ?? this.table.lookup(owner.pid)) : null;
    const argv = redactArgv(entry?.argv ?? []);
    if (argv.redacted) truncated.push('process.argv');
    if (entry?.argvTruncated) truncated.push('process.argv');
    const uid = owner?.uid ?? socketUid;
    const process: ProcessFields = {
      pid: owner?.pid ?? null,
      tid: owner?.tid ?? null,
      // The connecting thread's name as the kernel saw it at connect() (it may have renamed itself).
      comm: owner?.comm ?? entry?.comm ?? null,
      exe: entry?.exe ?? null,
      argv: argv.argv,
      uid,
      user: this.users.name(uid),
      gid: owner?.gid ?? null,
      start_time: entry ? new Date(this.bootMs + Number(entry.startNs / 1_000_000n)).toISOString() : null,
      ns_pid: entry && entry.nsLevel > 0 ? entry.nsPid : null,
    };
    const ancestors = entry ? this.table.ancestorsOf(entry).map((a) => this.ancestor(a, truncated)) : [];

    const cgroupId = owner?.cgroupId ?? socketCgroupId;
    let cgroup = this.cgroups.pathOf(cgroupId);
    if (cgroup === null && owner) cgroup = cgroupPathFromProcFile(readProc(owner.pid)?.cgroup ?? '');
    const placement = cgroup ? placementFromCgroupPath(cgroup) : { unit: null, container: null };
    return {
      key: `${owner?.pid ?? 'socket'}:${entry?.startNs ?? 0n}`,
      process,
      ancestors,
      unit: placement.unit,
      container: placement.container ? { ...placement.container, pid: process.ns_pid } : null,
      cgroup,
      truncated: [...new Set(truncated)],
    };
  }

  private ancestor(a: ProcessEntry, truncated: string[]): AncestorFields {
    const argv = redactArgv(a.argv);
    if (argv.redacted || a.argvTruncated) truncated.push('ancestors.argv');
    return { pid: a.pid, comm: a.comm, exe: a.exe, argv: argv.argv, uid: a.uid };
  }
}
