// The real daemon learns its region from cloud-init's instance data after it started, as it
// does at boot (it starts before cloud-init writes /run/cloud-init): run in a mount namespace
// whose /run is a fresh tmpfs (systemd's /run/systemd bound back in), the daemon's first lines
// say "region": null; a file a user owns there changes nothing; once root's file is there, the
// next stats line and every request line after it carry the region. The file is written
// through /proc/<pid>/root, into the daemon's own /run: the machine's /run is not touched.
import { chownSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../rig/compiled.js';
import { type RunningDaemon, startAnalyzer, until } from '../rig/analyzer-process.js';
import { type Testbed, createTestbed, curlV1 } from '../rig/index.js';

const isRoot = process.getuid?.() === 0;
const FIXTURE = join(REPO_ROOT, 'test/fixtures/cloud-init/instance-data-ec2.json');

describe.skipIf(!isRoot)('the daemon records the region cloud-init writes after it started', () => {
  let bed: Testbed;
  let daemon: RunningDaemon;
  const work = mkdtempSync(join(tmpdir(), 'imds-host-region-'));
  const oldRun = join(work, 'old-run');

  beforeAll(async () => {
    mkdirSync(oldRun);
    bed = await createTestbed({ prefix: 'hreg' });
    const freshRun = [
      `mount --bind /run ${oldRun}`,
      'mount -t tmpfs -o mode=0755 imds-test-run /run',
      `{ [ ! -d ${oldRun}/systemd ] || { mkdir /run/systemd && mount --bind ${oldRun}/systemd /run/systemd; }; }`,
      'exec "$@"',
    ].join(' && ');
    daemon = await startAnalyzer({
      launcher: ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', freshRun, 'sh'],
      dieWithParent: true,
    });
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await bed?.teardown();
    rmSync(work, { recursive: true, force: true });
  });

  const statsAfter = (t: number) => daemon.lines().filter((l) => l.event === 'stats' && l.time > t);

  it('null before the file, the region once root has written it, on stats and request lines', async () => {
    expect(daemon.ready.region).toBeNull();
    expect((await bed.run(curlV1().argv)).code).toBe(0);
    const [before] = await daemon.waitForRequests((r) => r.length >= 1);
    expect(before?.region).toBeNull();

    // A user's file where cloud-init writes: ignored, stats lines go on without a region.
    const dir = `/proc/${daemon.process.pid}/root/run/cloud-init`;
    mkdirSync(dir, { mode: 0o755 });
    copyFileSync(FIXTURE, join(dir, 'instance-data.json'));
    chownSync(join(dir, 'instance-data.json'), 65534, 65534);
    const planted = Date.now();
    const ignored = await until('two stats lines after the user file', 10_000, () => {
      const s = statsAfter(planted);
      return s.length >= 2 ? s : undefined;
    });
    expect(ignored.map((l) => l.region)).toEqual([null, null]);

    // cloud-init (root) writes it.
    chownSync(join(dir, 'instance-data.json'), 0, 0);
    const written = Date.now();
    const stats = await until('a stats line with the region', 10_000, () =>
      statsAfter(written).find((l) => l.region !== null),
    );
    expect(stats.region).toBe('eu-central-1');
    expect((await bed.run(curlV1().argv)).code).toBe(0);
    const after = await daemon.waitForRequests((r) => r.length >= 2);
    expect(after.at(-1)?.region).toBe('eu-central-1');
  }, 60_000);
});
