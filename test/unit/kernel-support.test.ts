// A kernel that cannot run the object (Amazon Linux 2's 4.14: no BTF, no raw
// tracepoints, no cgroup connect hooks) is named in one line, with faked probes and BTF paths.
import { describe, expect, it } from 'vitest';
import { UnsupportedHostError, kernelFacts, requireKernelSupport } from '../../src/capture/kernel-support.js';
import { missingKernelFeatures } from '../../src/logic/kernel-support.js';

const probes = (prog: boolean | null, map: boolean | null) => ({ probeProgType: () => prog, probeMapType: () => map });
const HERE = new URL(import.meta.url).pathname;

describe('kernel support', () => {
  it('AL2 4.14 without BTF and without the hooks: one line naming all, and the 5.10 kernel', () => {
    const fail = () =>
      requireKernelSupport(probes(false, false), {
        release: '4.14.355-275.572.amzn2.x86_64',
        btfPath: '/nonexistent/vmlinux',
      });
    expect(fail).toThrow(UnsupportedHostError);
    expect(fail).toThrow(
      'kernel 4.14.355-275.572.amzn2.x86_64 cannot run imds-analyzer: no BTF (/sys/kernel/btf/vmlinux), no raw tracepoints, ' +
        'no cgroup connect hooks, no socket-local storage; use a kernel with BTF, 5.10 or newer ' +
        '(on Amazon Linux 2, use the 5.10 kernel: `amazon-linux-extras install kernel-5.10`)',
    );
  });

  it('a new kernel built without /sys/kernel/btf/vmlinux: only BTF is missing', () => {
    expect(() =>
      requireKernelSupport(probes(true, true), { release: '6.1.0', btfPath: '/nonexistent/vmlinux' }),
    ).toThrow(/^kernel 6\.1\.0 cannot run imds-analyzer: no BTF \(\/sys\/kernel\/btf\/vmlinux\); use/);
  });

  it('passes when everything is there', () => {
    expect(() => requireKernelSupport(probes(true, true), { release: '5.10.0', btfPath: HERE })).not.toThrow();
  });

  it('a libbpf that cannot probe falls back on the kernel version', () => {
    const facts = (release: string) => kernelFacts(probes(null, null), { release, btfPath: HERE });
    expect(missingKernelFeatures(facts('4.14.1'))).toEqual([
      'raw tracepoints',
      'cgroup connect hooks',
      'socket-local storage',
    ]);
    expect(missingKernelFeatures(facts('5.4.0'))).toEqual([]);
  });
});
