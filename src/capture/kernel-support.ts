// Probes what the BPF object needs from the kernel before loading it, so that a kernel that
// cannot run it is named in one line instead of a verifier or libbpf error.
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import type { Libbpf } from '../libbpf/libbpf.js';
import { type KernelFacts, missingKernelFeatures, unsupportedKernelMessage } from '../logic/kernel-support.js';

export const KERNEL_BTF_PATH = '/sys/kernel/btf/vmlinux';
const BPF_PROG_TYPE_RAW_TRACEPOINT = 17;
const BPF_PROG_TYPE_CGROUP_SOCK_ADDR = 18;
const BPF_MAP_TYPE_SK_STORAGE = 24;

/** The host can never run the object: restarting does not help. */
export class UnsupportedHostError extends Error {}

export interface KernelProbe {
  release: string;
  btfPath: string;
}

export function kernelFacts(libbpf: Pick<Libbpf, 'probeProgType' | 'probeMapType'>, probe: KernelProbe): KernelFacts {
  return {
    release: probe.release,
    btf: existsSync(probe.btfPath),
    rawTracepoints: libbpf.probeProgType(BPF_PROG_TYPE_RAW_TRACEPOINT),
    cgroupConnectHooks: libbpf.probeProgType(BPF_PROG_TYPE_CGROUP_SOCK_ADDR),
    socketStorage: libbpf.probeMapType(BPF_MAP_TYPE_SK_STORAGE),
  };
}

/** Throws UnsupportedHostError naming what this kernel lacks. */
export function requireKernelSupport(
  libbpf: Pick<Libbpf, 'probeProgType' | 'probeMapType'>,
  probe: KernelProbe = { release: release(), btfPath: KERNEL_BTF_PATH },
): void {
  const missing = missingKernelFeatures(kernelFacts(libbpf, probe));
  if (missing.length > 0) throw new UnsupportedHostError(unsupportedKernelMessage(probe.release, missing));
}
