// The kernel's counters: the per-CPU `stats` array map (bpf/imds_events.h, enum imds_stat),
// summed over CPUs.
import type { BpfObject, Libbpf } from '../libbpf/libbpf.js';
import { KERNEL_STATS, type KernelStatName } from './abi.js';
import { MAPS } from './object-layout.js';

export class KernelStats {
  private readonly fd: number;
  private readonly cpus: number;

  constructor(
    private readonly libbpf: Libbpf,
    obj: BpfObject,
  ) {
    this.fd = libbpf.mapFd(libbpf.findMap(obj, MAPS.stats));
    this.cpus = libbpf.numPossibleCpus();
  }

  read(): Record<KernelStatName, bigint> {
    const key = new Uint8Array(4);
    const values = new Uint8Array(8 * this.cpus);
    const view = new DataView(values.buffer);
    const out = {} as Record<KernelStatName, bigint>;
    KERNEL_STATS.forEach((name, index) => {
      new DataView(key.buffer).setUint32(0, index, true);
      let sum = 0n;
      if (this.libbpf.lookup(this.fd, key, values)) {
        for (let cpu = 0; cpu < this.cpus; cpu++) sum += view.getBigUint64(cpu * 8, true);
      }
      out[name] = sum;
    });
    return out;
  }
}
