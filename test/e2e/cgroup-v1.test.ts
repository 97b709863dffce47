// On a cgroup v1 host (Amazon Linux 2) a short-lived caller in a systemd
// unit keeps its unit. The daemon runs where no cgroup2 hierarchy is mounted (a private mount
// namespace without this host's /sys/fs/cgroup/unified), so it mounts its own, as on AL2, and
// every process sits at that hierarchy's root: the unit is only in the v1 name=systemd
// hierarchy. The daemon is stopped (SIGSTOP) while curl runs in a name=systemd cgroup named
// like a service and exits, so user space hears of curl only after it is gone. Needs root
// and this host's v1 name=systemd hierarchy.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startAnalyzer } from '../rig/analyzer-process.js';
import { removeCgroups, spawnInCgroup } from '../rig/cgroups.js';
import { type Testbed, createTestbed } from '../rig/index.js';

const isRoot = process.getuid?.() === 0;
const SYSTEMD_V1 = '/sys/fs/cgroup/systemd';
const URL = 'http://169.254.169.254/latest/meta-data/instance-id?t=cgroup-v1'; // dialled only inside the test netns
/** Unmounts every cgroup2 mount in the daemon's own mount namespace, then execs the daemon. */
const WITHOUT_CGROUP2 = [
  'unshare',
  '-m',
  '--propagation',
  'private',
  'sh',
  '-c',
  'for m in $(grep " - cgroup2 " /proc/self/mountinfo | cut -d" " -f5); do umount "$m"; done; exec "$@"',
  'sh',
];

async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!isRoot)('cgroup v1 host: unit of a short-lived caller', () => {
  let bed: Testbed;
  let daemon: RunningDaemon;
  const work = mkdtempSync(join(tmpdir(), 'imds-cgv1-'));
  const unit = `imds-test-v1-${process.pid}.service`;
  const created: string[] = [];

  beforeAll(async () => {
    if (!existsSync(join(SYSTEMD_V1, 'cgroup.procs')))
      throw new Error(`no cgroup v1 name=systemd hierarchy at ${SYSTEMD_V1}`);
    for (const dir of [join(SYSTEMD_V1, 'system.slice'), join(SYSTEMD_V1, 'system.slice', unit)]) {
      if (existsSync(dir)) continue;
      mkdirSync(dir);
      created.push(dir);
    }
    bed = await createTestbed({ prefix: 'cgv1' });
    daemon = await startAnalyzer({ launcher: WITHOUT_CGROUP2 });
  });
  afterAll(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await bed?.teardown();
    removeCgroups(created);
    rmSync(work, { recursive: true, force: true });
  });

  it('mounts its own cgroup2 hierarchy and names the unit of a curl that exited before the daemon heard of it', async () => {
    expect(daemon.ready.cgroup_root).toBe(join(daemon.stateDir, 'cgroup2'));
    const done = join(work, 'curl-pid');
    // The unit's shell runs curl and outlives it; curl is born in the unit and exits at once.
    const inUnit = `curl -s -o /dev/null '${URL}' & c=$!; wait $c; echo $c > '${done}'; sleep 30`;
    const procs = join(SYSTEMD_V1, 'system.slice', unit, 'cgroup.procs');
    const curlPid = await daemon.whilePaused(async () => {
      spawnInCgroup(procs, ['ip', 'netns', 'exec', bed.clientNs, 'sh', '-c', inUnit]);
      await until('curl to finish', () => existsSync(done) && readFileSync(done, 'utf8').endsWith('\n'));
      const pid = Number(readFileSync(done, 'utf8'));
      // The scenario of the issue: curl is gone before user space could look at /proc.
      expect(existsSync(`/proc/${pid}`)).toBe(false);
      expect(bed.serverRequests().some((r) => r.path.endsWith('?t=cgroup-v1'))).toBe(true);
      return pid;
    });
    const line = await daemon.requestOf(curlPid);
    expect(line.process.argv).toEqual(['curl', '-s', '-o', '/dev/null', URL]);
    expect(line.unit).toBe(unit);
  });
});
