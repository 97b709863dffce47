// The real systemd boot. scripts/e2e-boot.sh installs the RPM into a
// debootstrapped Debian, boots it with systemd-nspawn inside a test network namespace,
// and checks readiness before cloud-init-local and network-pre.target, the stand-in's
// IMDSv1 call in the log with its unit, a lossless stop, the watchdog restart, the RPM's
// upgrade and erase under the running systemd, and continuous capture: an IMDSv2 client's
// requests each logged once through SIGKILL, restart, an upgrade to a changed BPF object and
// one to maps of a changed layout, each takeover credited (or its gap named) so that the
// report answers YES over them, a stop and start named as a gap, a poweroff's stopping line
// saying system_shutdown, and no link left after stop and erase; a canary on one unit
// (`canary start --unit`) refused 401 there and not in another unit, and nothing of it left in
// bpftool after `systemctl stop`, `systemctl restart` and `rpm -e`. For the AL2023 package
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

/**
 * Every request of the 20 ms IMDSv2 client logged once through each fault; each takeover's
 * ready line says it continued (the changed layout: continued or a named gap); the report
 * over that window answers YES; a stop and start is a gap the report names (UNKNOWN); a
 * poweroff's stopping line says system_shutdown; no link left after erase.
 */
function expectContinuity(stdout: string): void {
  for (const phase of [
    'SIGKILL and the automatic restart',
    'systemctl restart',
    'rpm -U to a changed BPF object',
    'rpm -U to maps of a changed layout',
  ]) {
    expect(stdout).toMatch(
      new RegExp(`^boot: continuity through ${phase}: .* 0 missing, 0 logged twice, 0 failed`, 'm'),
    );
  }
  expect(stdout).toMatch(
    /^boot: takeovers in the window \(capture_continued\/capture_gap\/maps_reused\): kill true\/null\/true, restart true\/null\/true, upgrade true\/null\/true, relayout (true\/null|false\/[a-z_]+)\/false$/m,
  );
  expect(stdout).toMatch(/^boot: report over the crash, restart and upgrades: exit 0$/m);
  expect(stdout).toMatch(
    /^boot: systemctl stop: system_shutdown false; start: capture_continued false, capture_gap fresh_start$/m,
  );
  expect(stdout).toMatch(/^boot: report over a stop and start: exit 2$/m);
  expect(stdout).toMatch(/^boot: rpm -e: bpftool link shows none of our links$/m);
  expect(stdout).toMatch(/^boot: poweroff: the last stopping line \(SIGTERM\) says system_shutdown true$/m);
  // The canary phase (test/boot/canary-phase.ts): --unit under systemd; nothing of it in bpftool after each end.
  expect(stdout).toMatch(
    /^boot: canary under systemd: --unit imds-canary-app\.service: IMDS answered 401 401 401 401 in it \(line: v1 401 canary unit:imds-canary-app\.service\), 200 200 200 200 in imds-plain-app\.service; bpftool showed \d+ programs, \d+ maps, 1 link of it; the unit restarted: reattached, 401 401 401 401; none left after systemctl stop .*, systemctl restart \(the next daemon holds none; .*\), rpm -e \(.*\)$/m,
  );
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
