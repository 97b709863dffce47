// Attaching every program, and taking over what a previous daemon left attached: a link
// it left is kept when it runs the same code on the same maps; a cgroup link is otherwise
// switched to the new program in one step (no window, no overlap); a raw_tp link cannot be
// switched, so the new program is attached beside it (process records may then arrive
// twice: harmless).
import { closeSync } from 'node:fs';
import type { BpfObject, Libbpf } from '../libbpf/libbpf.js';
import { type Inherited, describeProgram } from './handover.js';
import type { ProgramSpec } from './object-layout.js';

/** How the programs came to be attached, for the ready line. */
export interface LinkCounts {
  /** Links of a previous daemon kept as they were (same program code, same maps). */
  links_kept: number;
  /** Cgroup links of a previous daemon switched atomically to this object's program. */
  links_updated: number;
  /** Links attached by this daemon. */
  links_attached: number;
}

export interface AttachedProgram {
  name: string;
  id: number;
  attachedTo: string;
}

/** Every link this daemon holds. */
export class Links {
  readonly programs: AttachedProgram[] = [];
  readonly counts: LinkCounts = { links_kept: 0, links_updated: 0, links_attached: 0 };
  /** Each link's kernel fd and how to let go of it. */
  private readonly held: Array<{ fd: number; release: () => void }> = [];

  /**
   * Attaches `programs` (the object's, ./object-layout.ts): the cgroup ones to the cgroup2
   * root `cgroup`. `mapsReused`: links of the previous daemon may be kept.
   */
  constructor(
    libbpf: Libbpf,
    obj: BpfObject,
    programs: ProgramSpec[],
    cgroup: { path: string; fd: number },
    inherited: Inherited,
    mapsReused: boolean,
  ) {
    try {
      const byName = new Map(libbpf.programs(obj).map((p) => [p.name, p.program]));
      for (const { name, attach } of programs) {
        const program = byName.get(name);
        if (!program) throw new Error(`BPF object has no program ${name}`);
        const fresh = describeProgram(libbpf, libbpf.programFd(program));
        const previous = inherited.links.get(name) ?? [];
        const same = mapsReused ? previous.find((l) => l.programTag === fresh.tag) : undefined;
        const switchable = attach.kind === 'cgroup' ? previous[0] : undefined;
        let id = fresh.id;
        let kept: number | null = null;
        if (same) {
          kept = same.fd;
          id = same.programId;
          this.counts.links_kept++;
        } else if (switchable) {
          libbpf.linkUpdate(switchable.fd, libbpf.programFd(program));
          kept = switchable.fd;
          this.counts.links_updated++;
        } else {
          const link =
            attach.kind === 'cgroup'
              ? libbpf.attachCgroup(program, cgroup.fd)
              : libbpf.attachRawTracepoint(program, attach.tracepoint);
          this.held.push({ fd: libbpf.linkFd(link), release: () => libbpf.destroyLink(link) });
          this.counts.links_attached++;
        }
        if (kept !== null) {
          const fd = kept;
          this.held.push({ fd, release: () => closeSync(fd) });
        }
        // The others stay attached only as long as systemd's store holds them.
        for (const other of previous) if (other.fd !== kept) closeSync(other.fd);
        this.programs.push({
          name,
          id,
          attachedTo: attach.kind === 'cgroup' ? `cgroup:${cgroup.path}` : `raw_tp:${attach.tracepoint}`,
        });
      }
    } catch (err) {
      this.detach();
      throw err;
    }
  }

  get fds(): number[] {
    return this.held.map((l) => l.fd);
  }

  /** Detaches every program. Safe to call twice. */
  detach(): void {
    for (const link of this.held.splice(0)) link.release();
  }
}
