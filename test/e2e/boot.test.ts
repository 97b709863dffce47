// Issue 4: the real systemd boot. scripts/e2e-boot.sh installs the RPM into a
// debootstrapped Debian, boots it with systemd-nspawn inside a test network namespace,
// and checks readiness before cloud-init-local and network-pre.target, the stand-in's
// IMDSv1 call in the log with its unit, a lossless stop and the watchdog restart.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const isRoot = process.getuid?.() === 0;
const script = new URL('../../scripts/e2e-boot.sh', import.meta.url).pathname;

describe.skipIf(!isRoot)('boot under systemd-nspawn', () => {
  it('is ready before cloud-init-local, catches its IMDSv1 call, stops cleanly, and is restarted by the watchdog', () => {
    const run = spawnSync('bash', [script], { encoding: 'utf8', timeout: 15 * 60_000 });
    process.stdout.write(run.stdout);
    if (run.status !== 0) process.stderr.write(run.stderr.split('\n').slice(-40).join('\n'));
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^boot: process start -> READY=1: \d+ ms$/m);
    expect(run.stdout).toMatch(/^boot: PASS/m);
  }, 16 * 60_000);
});
