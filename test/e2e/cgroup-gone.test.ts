// A short-lived unit on a cgroup v2 host: its process exits and its cgroup is removed (as
// systemd does when a oneshot such as cloud-init-local ends) before the daemon reads the
// connection. The kernel sent the caller's cgroup path at connect(), so the unit is still
// named. The daemon is stopped (SIGSTOP) meanwhile, so user space can have seen neither
// the process nor the cgroup. Needs root.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cgroup2Root, removeCgroups, spawnInCgroup } from '../rig/cgroups.js';
import { useTestHost } from '../rig/test-host.js';

const isRoot = process.getuid?.() === 0;
const URL = 'http://169.254.169.254/latest/meta-data/instance-id?t=cgroup-gone'; // dialled only inside the test netns

describe.skipIf(!isRoot)('cgroup v2: the unit of a caller whose cgroup is gone', () => {
  const slice = join(cgroup2Root(), `imds-test-gone-${process.pid}.slice`);
  const unit = `imds-test-oneshot-${process.pid}.service`;
  const created: string[] = [];
  afterAll(() => {
    removeCgroups(created);
  });
  const host = useTestHost({ prefix: 'cggone' });

  it('curl exits and its unit cgroup is removed before the daemon runs again: the line still names the unit', async () => {
    for (const dir of [slice, join(slice, unit)]) {
      mkdirSync(dir);
      created.push(dir);
    }
    const curlPid = await host.daemon.whilePaused(async () => {
      const oneshot = spawnInCgroup(join(slice, unit, 'cgroup.procs'), [
        'ip',
        'netns',
        'exec',
        host.bed.clientNs,
        'curl',
        '-s',
        '-o',
        '/dev/null',
        URL,
      ]);
      expect(await new Promise((resolve) => oneshot.on('exit', resolve))).toBe(0);
      expect(host.bed.serverRequests().some((r) => r.path.endsWith('?t=cgroup-gone'))).toBe(true);
      expect(removeCgroups(created.splice(0))).toEqual([]);
      expect(existsSync(join(slice, unit))).toBe(false);
      return oneshot.pid as number;
    });
    const line = await host.daemon.requestOf(curlPid);
    expect(line.unit).toBe(unit);
    expect(line.cgroup).toMatch(new RegExp(`/imds-test-gone-${process.pid}\\.slice/${unit.replace(/\./g, '\\.')}$`));
  });
});
