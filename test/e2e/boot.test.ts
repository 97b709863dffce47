// Issue 4 and issue 14: the real systemd boot. scripts/e2e-boot.sh installs the RPM into a
// debootstrapped Debian, boots it with systemd-nspawn inside a test network namespace,
// and checks readiness before cloud-init-local and network-pre.target, the stand-in's
// IMDSv1 call in the log with its unit, a lossless stop, the watchdog restart, the RPM's
// upgrade and erase under the running systemd, and continuous capture (issue 12 item 7):
// a client's requests each logged once through SIGKILL, restart and an upgrade to a
// changed BPF object, and no link left after stop and erase. For the AL2023 package
// (Node.js 22 as /usr/bin/node-22, its compile cache) and the AL2 package (bundled
// Node.js and libbpf).
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const isRoot = process.getuid?.() === 0;
const script = new URL('../../scripts/e2e-boot.sh', import.meta.url).pathname;

/** Runs the script without blocking the test worker (it takes a minute or two). */
function runScript(flavour: 'al2023' | 'al2'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', [script, '--flavour', flavour], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), 15 * 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every request of the 20 ms client logged once through each fault, and no link left after erase. */
function expectContinuity(stdout: string): void {
  for (const phase of ['SIGKILL and the automatic restart', 'systemctl restart', 'rpm -U to a changed BPF object']) {
    expect(stdout).toMatch(
      new RegExp(`^boot: continuity through ${phase}: .* 0 missing, 0 logged twice, 0 failed`, 'm'),
    );
  }
  expect(stdout).toMatch(/^boot: rpm -e: bpftool link shows none of our links$/m);
}

describe.skipIf(!isRoot)('boot under systemd-nspawn', () => {
  it(
    'AL2023 package on Node.js 22: ready before cloud-init-local, catches its IMDSv1 call, stops cleanly, restarted by the watchdog',
    async () => {
      const run = await runScript('al2023');
      process.stdout.write(run.stdout);
      if (run.code !== 0) process.stderr.write(run.stderr.split('\n').slice(-40).join('\n'));
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^boot: process start -> READY=1: \d+ ms$/m);
      expect(run.stdout).toMatch(/^boot: flavour al2023: the daemon runs \/usr\/bin\/node-22 \(v22\.\d+\.\d+\)$/m);
      expect(run.stdout).toMatch(/^boot: compile cache: [1-9]\d* files/m);
      expect(run.stdout).toMatch(/^boot: rpm -U release 2: service restarted/m);
      expectContinuity(run.stdout);
      expect(run.stdout).toMatch(/^boot: PASS \(flavour: al2023/m);
    },
    16 * 60_000,
  );

  it(
    'AL2 package with its bundled Node.js and libbpf: the same checks',
    async () => {
      const run = await runScript('al2');
      process.stdout.write(run.stdout);
      if (run.code !== 0) process.stderr.write(run.stderr.split('\n').slice(-40).join('\n'));
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^boot: flavour al2: the daemon runs \/usr\/lib\/imds-analyzer\/runtime\/bin\/node /m);
      expect(run.stdout).toMatch(/^boot: rpm -U release 2: service restarted/m);
      expectContinuity(run.stdout);
      expect(run.stdout).toMatch(/^boot: PASS \(flavour: al2/m);
    },
    16 * 60_000,
  );
});
