// The canary's kernel side (bpf/imds_canary.bpf.c): one loaded object per canary target.
// Its sk_msg program is attached to its own sockhash, its sockops program to the
// target's cgroup; closing the object detaches both and lets go of every socket in the
// map, so nothing of a canary outlives it (nor the process that holds it).
import { closeSync, constants, openSync } from 'node:fs';
import type { BpfLink, BpfObject, Libbpf } from '../libbpf/libbpf.js';

/** enum bpf_attach_type / bpf_prog_type / bpf_map_type values (include/uapi/linux/bpf.h). */
const BPF_SK_MSG_VERDICT = 7;
const BPF_PROG_TYPE_SOCK_OPS = 13;
const BPF_PROG_TYPE_SK_MSG = 16;
const BPF_MAP_TYPE_SOCKHASH = 18;
const BPF_MAP_TYPE_SK_STORAGE = 24;

/** The canary's counters, in the order of enum canary_stat (bpf/imds_canary.h). */
export const CANARY_STATS = [
  'sockets',
  'socket_not_added',
  'refused',
  'passed_token',
  'corked',
  'left_alone_long',
  'left_alone_body',
  'left_alone_pull',
  'left_alone_push',
  'left_alone_no_state',
  'left_alone_pipelined',
] as const;
export type CanaryStatName = (typeof CANARY_STATS)[number];

/** This kernel cannot run a canary; the message is the one line `canary start` prints. */
export class CanaryUnsupportedError extends Error {}

/** Why this kernel cannot run the canary's programs, or null (probed, or libbpf cannot tell). */
export function canaryKernelProblem(libbpf: Libbpf): string | null {
  const missing = [
    libbpf.probeProgType(BPF_PROG_TYPE_SOCK_OPS) === false ? 'sock_ops programs' : null,
    libbpf.probeProgType(BPF_PROG_TYPE_SK_MSG) === false ? 'sk_msg programs' : null,
    libbpf.probeMapType(BPF_MAP_TYPE_SOCKHASH) === false ? 'sockhash maps' : null,
    libbpf.probeMapType(BPF_MAP_TYPE_SK_STORAGE) === false ? 'socket storage' : null,
  ].filter((what) => what !== null);
  return missing.length === 0 ? null : `this kernel has no ${missing.join(', ')}`;
}

export class CanaryProgram {
  private link: BpfLink | null = null;
  private closed = false;
  private readonly socketsFd: number;
  private readonly statsFd: number;
  private readonly cpus: number;

  private constructor(
    private readonly libbpf: Libbpf,
    private readonly obj: BpfObject,
  ) {
    this.socketsFd = libbpf.mapFd(libbpf.findMap(obj, 'canary_socks'));
    this.statsFd = libbpf.mapFd(libbpf.findMap(obj, 'canary_stats'));
    this.cpus = libbpf.numPossibleCpus();
  }

  /**
   * Loads the object, writes the header line it inserts and attaches its sk_msg program to
   * its sockhash; nothing is attached to a cgroup yet. Throws CanaryUnsupportedError when the
   * kernel lacks what it needs or refuses the programs.
   */
  static load(libbpf: Libbpf, objectPath: string, headerLine: Uint8Array): CanaryProgram {
    const problem = canaryKernelProblem(libbpf);
    if (problem) throw new CanaryUnsupportedError(problem);
    const obj = libbpf.openObject(objectPath);
    let program: CanaryProgram | null = null;
    try {
      try {
        libbpf.loadObject(obj);
      } catch (err) {
        throw new CanaryUnsupportedError(`this kernel refused the canary's programs (${(err as Error).message})`);
      }
      program = new CanaryProgram(libbpf, obj);
      libbpf.update(libbpf.mapFd(libbpf.findMap(obj, 'canary_config')), new Uint8Array(4), headerLine);
      const msg = libbpf.programs(obj).find((p) => p.name === 'imds_canary_msg');
      if (!msg) throw new Error('the canary object has no program imds_canary_msg');
      try {
        libbpf.attachToMap(libbpf.programFd(msg.program), program.socketsFd, BPF_SK_MSG_VERDICT);
      } catch (err) {
        throw new CanaryUnsupportedError(`this kernel cannot attach an sk_msg program (${(err as Error).message})`);
      }
      return program;
    } catch (err) {
      if (program) program.close();
      else libbpf.closeObject(obj);
      throw err;
    }
  }

  /** Attaches the sockops program to this cgroup directory (instead of the one before, if any). */
  attach(cgroupDir: string): void {
    if (this.closed) throw new Error('canary closed');
    const sockops = this.libbpf.programs(this.obj).find((p) => p.name === 'imds_canary_sockops');
    if (!sockops) throw new Error('the canary object has no program imds_canary_sockops');
    const fd = openSync(cgroupDir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      const link = this.libbpf.attachCgroup(sockops.program, fd);
      if (this.link) this.libbpf.destroyLink(this.link);
      this.link = link;
    } finally {
      closeSync(fd);
    }
  }

  /** Puts a connected TCP socket (by fd) in the canary's map, as the sockops program does (self-test). */
  addSocket(socketFd: number, key: bigint): void {
    const keyBytes = new Uint8Array(8);
    new DataView(keyBytes.buffer).setBigUint64(0, key, true);
    const value = new Uint8Array(8);
    new DataView(value.buffer).setBigUint64(0, BigInt(socketFd), true);
    this.libbpf.update(this.socketsFd, keyBytes, value);
  }

  /** Kernel ids of the loaded programs (what bpftool shows). */
  programIds(): number[] {
    return this.libbpf.programs(this.obj).map((p) => this.libbpf.programId(p.program));
  }

  /** The counters summed over CPUs. */
  stats(): Record<CanaryStatName, number> {
    const out = {} as Record<CanaryStatName, number>;
    const key = new Uint8Array(4);
    const values = new Uint8Array(8 * this.cpus);
    const view = new DataView(values.buffer);
    CANARY_STATS.forEach((name, index) => {
      new DataView(key.buffer).setUint32(0, index, true);
      let sum = 0n;
      if (!this.closed && this.libbpf.lookup(this.statsFd, key, values))
        for (let cpu = 0; cpu < this.cpus; cpu++) sum += view.getBigUint64(cpu * 8, true);
      out[name] = Number(sum);
    });
    return out;
  }

  /** Detaches everything and frees the map (its sockets go back to plain TCP). Safe twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.link) this.libbpf.destroyLink(this.link);
    this.link = null;
    this.libbpf.closeObject(this.obj);
  }
}
