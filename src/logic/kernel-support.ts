// Whether this kernel can run the BPF object at all, and the one line that says what is
// missing when it cannot (Amazon Linux 2's 4.14 kernel has no BTF, no raw tracepoints and
// no cgroup connect hooks). Pure: the facts are probed in src/capture.

export interface KernelFacts {
  /** `uname -r`. */
  release: string;
  /** /sys/kernel/btf/vmlinux exists (CO-RE needs the kernel's BTF). */
  btf: boolean;
  /** Probe results; null when this libbpf cannot probe (then the version decides). */
  rawTracepoints: boolean | null;
  cgroupConnectHooks: boolean | null;
  socketStorage: boolean | null;
}

/** Kernel versions that brought each feature, for when no probe can tell. */
const SINCE: Record<'rawTracepoints' | 'cgroupConnectHooks' | 'socketStorage', [number, number]> = {
  rawTracepoints: [4, 17],
  cgroupConnectHooks: [4, 17],
  socketStorage: [5, 2],
};

const FEATURE_NAMES = {
  btf: 'BTF (/sys/kernel/btf/vmlinux)',
  rawTracepoints: 'raw tracepoints',
  cgroupConnectHooks: 'cgroup connect hooks',
  socketStorage: 'socket-local storage',
} as const;

function atLeast(release: string, [major, minor]: [number, number]): boolean {
  const [have = 0, haveMinor = 0] = release.split(/[.-]/).map((part) => Number.parseInt(part, 10) || 0);
  return have > major || (have === major && haveMinor >= minor);
}

/** Names of the features the object needs and this kernel lacks, in a fixed order. */
export function missingKernelFeatures(facts: KernelFacts): string[] {
  const missing: string[] = [];
  if (!facts.btf) missing.push(FEATURE_NAMES.btf);
  for (const feature of ['rawTracepoints', 'cgroupConnectHooks', 'socketStorage'] as const) {
    const present = facts[feature] ?? atLeast(facts.release, SINCE[feature]);
    if (!present) missing.push(FEATURE_NAMES[feature]);
  }
  return missing;
}

/** The one line the daemon prints before it exits for good. */
export function unsupportedKernelMessage(release: string, missing: string[]): string {
  return (
    `kernel ${release} cannot run imds-analyzer: no ${missing.join(', no ')}; ` +
    'use a kernel with BTF, 5.10 or newer (on Amazon Linux 2, use the 5.10 kernel: `amazon-linux-extras install kernel-5.10`)'
  );
}
