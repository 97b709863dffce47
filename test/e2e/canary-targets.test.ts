// `canary start --container ID` and a pod's canary (docs/canary.md), without a container
// runtime: this host has none, so the cgroups are laid out where and as docker (systemd and
// cgroupfs drivers) and containerd under Kubernetes make them, with real curl processes in
// them, the real daemon and canary object in this kernel and the test IMDS (`optional`, 401
// for an invalid token). The daemon must find the container's cgroup from a prefix of its id,
// refuse a prefix that names two, refuse the canary in every container of the target and in
// no other, and after `canary stop` nothing of it may stay in the kernel.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, type RunningDaemon, startAnalyzer } from '../rig/analyzer-process.js';
import { canaryObjects, canaryObjectsGone, noCanaryObjects } from '../rig/canary-objects.js';
import { type Testbed, createTestbed, curlV1 } from '../rig/index.js';

const isRoot = process.getuid?.() === 0;
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

describe.skipIf(!isRoot)('canary targets: containers and pods as their runtimes lay out the cgroups', () => {
  let testbed: Testbed;
  let daemon: RunningDaemon;
  // Two docker containers whose ids share their first 12 digits: a 12-digit prefix names both.
  const shared = hex(6);
  const docker = `${shared}${hex(26)}`;
  const dockerTwin = `${shared}${hex(26)}`;
  const cgroupfs = hex(32);
  const podUid = [hex(4), hex(2), hex(2), hex(2), hex(6)].join('_');
  const pod = `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${podUid}.slice`;
  const inPod = hex(32);
  const inPodToo = hex(32);
  const layout = {
    docker: `system.slice/docker-${docker}.scope`,
    dockerTwin: `system.slice/docker-${dockerTwin}.scope`,
    cgroupfs: `docker/${cgroupfs}`,
    inPod: `${pod}/cri-containerd-${inPod}.scope`,
    inPodToo: `${pod}/cri-containerd-${inPodToo}.scope`,
  };

  const canary = (...args: string[]) => {
    const run = spawnSync(process.execPath, [CLI, 'canary', ...args, '--config', join(daemon.dir, 'config.json')], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { code: run.status, stdout: run.stdout, stderr: run.stderr };
  };

  /** What the test IMDS answered a tokenless curl run in each of these cgroups. */
  async function answers(...cgroups: Array<keyof typeof layout>): Promise<Record<string, Array<number | null>>> {
    const out: Record<string, Array<number | null>> = {};
    for (const name of cgroups) {
      const before = testbed.serverRequests().length;
      await testbed.run(curlV1().argv, { cgroup: layout[name], timeoutMs: 30_000 });
      out[name] = testbed
        .serverRequests()
        .slice(before)
        .map((s) => s.status);
    }
    return out;
  }

  async function expectGone(): Promise<void> {
    const { left } = await canaryObjectsGone();
    expect(noCanaryObjects(left), JSON.stringify(left)).toBe(true);
  }

  beforeAll(async () => {
    testbed = await createTestbed({ prefix: 'cct', imds: { tokens: 'optional' } });
    daemon = await startAnalyzer({ dieWithParent: true });
    for (const path of Object.values(layout)) testbed.cgroupPath(path);
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await testbed?.teardown();
  });

  it('a prefix naming two containers, an unknown id and a short id are refused with one line', () => {
    const twins = canary('start', '--container', shared);
    expect(twins.code).toBe(1);
    expect(twins.stderr.trim().split('\n')).toEqual([
      `imds-analyzer canary: refused: --container ${shared}: names 2 containers, give more of the id`,
    ]);
    const unknown = canary('start', '--container', hex(32));
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^imds-analyzer canary: refused: --container [0-9a-f]{64}: no such cgroup under /);
    expect(canary('start', '--container', docker.slice(0, 8)).stderr).toMatch(
      /refused: --container [0-9a-f]{8}: no such/,
    );
    expect(canary('status').stdout).toBe('0 canaries active\n');
  });

  it('docker (systemd driver): the container named by a prefix is refused, its twin is not', async () => {
    const prefix = docker.slice(0, 16);
    const started = canary('start', '--container', prefix, '--for', '5m');
    expect(started.stderr).toBe('');
    expect(started.stdout).toMatch(new RegExp(`^canary for container:${prefix} \\(cgroup /${layout.docker}\\) until `));
    expect(await answers('docker', 'dockerTwin', 'cgroupfs', 'inPod')).toEqual({
      docker: [401],
      dockerTwin: [200],
      cgroupfs: [200],
      inPod: [200],
    });
    // The daemon's own attribution of the refused request names the same container.
    const lines = await daemon.waitForRequests((r) => r.some((l) => l.canary !== undefined));
    expect(lines.find((l) => l.canary !== undefined)).toMatchObject({
      imds_version: 'v1',
      response: { status: 401 },
      canary: { target: `container:${prefix}`, mode: 'required' },
      container: { id: docker },
      cgroup: `/${layout.docker}`,
    });
    expect(canary('stop', '--container', prefix).stdout).toBe('stopped 1 canary\n');
    await expectGone();
    expect(await answers('docker')).toEqual({ docker: [200] });
  }, 60_000);

  it('docker (cgroupfs driver) and containerd in a Kubernetes pod, by id', async () => {
    expect(canary('start', '--container', cgroupfs.slice(0, 12), '--for', '5m').code).toBe(0);
    expect(canary('start', '--container', inPod, '--for', '5m').code).toBe(0);
    const status = canary('status').stdout;
    expect(status).toMatch(new RegExp(`^container:${cgroupfs.slice(0, 12)}  cgroup /${layout.cgroupfs} `, 'm'));
    expect(status).toMatch(new RegExp(`^container:${inPod}  cgroup /${layout.inPod} `, 'm'));
    expect(await answers('cgroupfs', 'inPod', 'inPodToo', 'docker')).toEqual({
      cgroupfs: [401],
      inPod: [401],
      inPodToo: [200],
      docker: [200],
    });
    expect(canary('stop').stdout).toBe('stopped 2 canaries\n');
    await expectGone();
  }, 60_000);

  it('a pod: its cgroup as the target refuses every container in it, and none outside', async () => {
    expect(canary('start', '--cgroup', `/${pod}`, '--for', '5m').code).toBe(0);
    expect((await canaryObjects()).links).toHaveLength(1);
    expect(await answers('inPod', 'inPodToo', 'docker')).toEqual({ inPod: [401], inPodToo: [401], docker: [200] });
    expect(canary('stop').stdout).toBe('stopped 1 canary\n');
    await expectGone();
  }, 60_000);
});
