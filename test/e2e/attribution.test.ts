// Ancestry that survives exit, botocore's IMDSv1 fallback, units and
// containers from real cgroup membership, in-namespace pids, and response statuses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RequestLine, type RunningDaemon, startAnalyzer } from '../rig/analyzer-process.js';
import { botocoreCredentials, createTestbed, curlV1 } from '../rig/index.js';
import { useTestHost } from '../rig/test-host.js';

type Line = RequestLine;

const isRoot = process.getuid?.() === 0;
const URL = 'http://169.254.169.254/latest/meta-data/instance-id'; // dialled only via bed.run, inside the test netns

async function linesWhere(daemon: RunningDaemon, match: (l: Line) => boolean, count = 1): Promise<Line[]> {
  const all = await daemon.waitForRequests((lines) => lines.filter(match).length >= count);
  return all.filter(match);
}

/** A marker in the request path tells each test's requests apart. */
const marked = (marker: string) => `${URL}?t=${marker}`;
const byMarker = (marker: string) => (l: Line) => l.request.path.endsWith(`?t=${marker}`);

describe.skipIf(!isRoot)('attribution end to end', () => {
  const host = useTestHost({ prefix: 'attr' });

  it("keeps curl's argv and the exited `sh -c` parent when both are gone", async () => {
    const script = `sleep 0.2; curl -s -o /dev/null '${marked('orphan')}' & exit`;
    const result = await host.bed.run(['sh', '-c', script]);
    expect(result.code).toBe(0);
    const [line] = await linesWhere(host.daemon, byMarker('orphan'));
    expect(line!.process.argv).toEqual(['curl', '-s', '-o', '/dev/null', marked('orphan')]);
    expect(line!.process.exe).toBe('/usr/bin/curl');
    expect(line!.ancestors[0]).toMatchObject({ pid: result.pid, argv: ['sh', '-c', script] });
    expect(line!.ancestors.length).toBeGreaterThanOrEqual(2);
    expect(line!.process.user).toBe('root');
    expect(line!.process.start_time).toMatch(/^\d{4}-/);
  });

  it.each([
    [
      'a docker container',
      `system.slice/docker-${'ab12'.repeat(16)}.scope`,
      { unit: null, container: { runtime: 'docker', id: 'ab12'.repeat(16) } },
    ],
    [
      'a systemd service',
      'system.slice/imds-test-backup.service',
      { unit: 'imds-test-backup.service', container: null },
    ],
    [
      'a Kubernetes pod',
      `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice/cri-containerd-${'cd34'.repeat(16)}.scope`,
      {
        unit: null,
        container: { runtime: 'kubernetes', id: 'cd34'.repeat(16), pod_uid: '1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901' },
      },
    ],
  ])('names %s from the cgroup the client runs in', async (name, cgroup, expected) => {
    const marker = name.replace(/\W+/g, '-');
    const result = await host.bed.run(['curl', '-s', '-o', '/dev/null', marked(marker)], { cgroup });
    expect(result.code).toBe(0);
    const [line] = await linesWhere(host.daemon, byMarker(marker));
    expect(line).toMatchObject(expected);
    expect(line!.process.pid).toBe(result.pid);
  });

  it('gives the pid a client has inside its own pid namespace', async () => {
    const result = await host.bed.run(['curl', '-s', '-o', '/dev/null', marked('pidns')], { pidNs: true });
    expect(result.code).toBe(0);
    const [line] = await linesWhere(host.daemon, byMarker('pidns'));
    // unshare --fork: curl is the first process, pid 1, of the new namespace.
    expect(line!.process.ns_pid).toBe(1);
    expect(line!.process.pid).not.toBe(1);
  });

  it('reports 401 for IMDSv1 when tokens are required', async () => {
    await host.bed.restartServer({ tokens: 'required' });
    try {
      const result = await host.bed.run(['curl', '-s', '-o', '/dev/null', marked('required')]);
      expect(result.code).toBe(0);
      const [line] = await linesWhere(host.daemon, byMarker('required'));
      expect(line).toMatchObject({ imds_version: 'v1', response: { status: 401 } });
      expect(line!.advice).toContain('already rejects it');
    } finally {
      await host.bed.restartServer({ tokens: 'optional' });
    }
  });

  it('records the status of a plain v1 GET', async () => {
    const client = curlV1();
    const result = await host.bed.run(client.argv);
    const [line] = await linesWhere(host.daemon, (l) => l.process.pid === result.pid);
    expect(line!.response).toEqual({ status: 200 });
  });
});

describe.skipIf(!isRoot)("botocore's IMDSv1 fallback", () => {
  let daemon: RunningDaemon;

  beforeAll(async () => {
    daemon = await startAnalyzer();
  });
  afterAll(async () => {
    await daemon?.stop();
    daemon?.cleanup();
  });

  async function runBotocore(tokenPut: 'ok' | 403 | 'drop') {
    const bed = await createTestbed({ prefix: 'boto', imds: { tokenPut } });
    try {
      const client = botocoreCredentials({ tokenPut });
      const result = await bed.run(client.argv);
      expect(result.stdout).toContain('iam-role');
      const python = client.expects.at(-1)?.senderArgv ?? [];
      const lines = await daemon.waitForRequests(
        (all) => all.filter((l) => l.process.pid === result.pid).length >= client.expected.total,
      );
      return { mine: lines.filter((l) => l.process.pid === result.pid), python };
    } finally {
      await bed.teardown();
    }
  }

  it('flags the fallback after a 403 on the token PUT, with botocore and its version', async () => {
    const { mine, python } = await runBotocore(403);
    const v1 = mine.filter((l) => l.imds_version === 'v1');
    expect(v1.length).toBe(2);
    for (const line of v1) {
      expect(line.sdk?.name).toBe('botocore');
      expect(line.sdk?.version).toMatch(/^\d+\.\d+\.\d+$/);
      expect(line.fallback?.reason).toContain('403');
      expect(line.advice).toContain('AWS_EC2_METADATA_V1_DISABLED');
      expect(line.process.argv).toEqual(python);
    }
  });

  it('flags the fallback when the token PUT is never answered (hop limit 1 behind a bridge)', async () => {
    const { mine } = await runBotocore('drop');
    const v1 = mine.filter((l) => l.imds_version === 'v1');
    expect(v1.length).toBe(2);
    for (const line of v1) expect(line.fallback?.reason).toContain('no answer');
    expect(mine.find((l) => l.request.method === 'PUT')?.response).toBeNull();
  });

  it('shows no IMDSv1 line when tokens work', async () => {
    const { mine } = await runBotocore('ok');
    expect(mine.length).toBe(3);
    expect(mine.filter((l) => l.imds_version === 'v1')).toEqual([]);
  });
});
