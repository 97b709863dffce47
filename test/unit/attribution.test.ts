// Pure attribution logic: SDK from User-Agent, cgroup placement, fallback, advice, the
// process table (with a fake /proc). The connection tracker: connections.test.ts.
import { describe, expect, it } from 'vitest';
import { ProcessTable } from '../../src/enrich/process-table.js';
import type { ProcSnapshot } from '../../src/enrich/proc.js';
import { adviceFor } from '../../src/logic/advice.js';
import { cgroupPathFromProcFile, placementFromCgroupPath } from '../../src/logic/cgroup-path.js';
import { FallbackDetector } from '../../src/logic/fallback.js';
import { redactArgv } from '../../src/logic/redact.js';
import { compareVersions, sdkFromUserAgent } from '../../src/logic/sdk.js';

describe('SDK from User-Agent', () => {
  it.each([
    [
      'Botocore/1.12.0 Python/3.7.0 Linux/4.14',
      { name: 'botocore', version: '1.12.0', supports_imdsv2: false, min_imdsv2_version: '1.13.25' },
    ],
    [
      'Boto3/1.26.0 Python/3.11 Linux/6.1 Botocore/1.29.0',
      { name: 'botocore', version: '1.29.0', supports_imdsv2: true },
    ],
    [
      'aws-cli/1.16.0 Python/2.7 Linux/4.14 botocore/1.12.0',
      { name: 'aws-cli', version: '1.16.0', supports_imdsv2: false },
    ],
    ['aws-cli/2.13.0 Python/3.11.4 Linux/6.1 exe/x86_64', { name: 'aws-cli-v2', supports_imdsv2: true }],
    ['aws-sdk-java/1.11.600 Linux/5.10 OpenJDK_64-Bit_Server_VM/25', { name: 'aws-sdk-java', supports_imdsv2: false }],
    ['aws-sdk-java/2.20.1 Linux/6.1', { name: 'aws-sdk-java-v2', supports_imdsv2: true }],
    ['aws-sdk-go/1.25.0 (go1.13; linux; amd64)', { name: 'aws-sdk-go', supports_imdsv2: false }],
    ['aws-sdk-go-v2/1.17.0 os/linux', { name: 'aws-sdk-go-v2', supports_imdsv2: true }],
    ['aws-sdk-nodejs/2.700.0 linux/v12.0.0', { name: 'aws-sdk-js', supports_imdsv2: false }],
    ['aws-sdk-php/3.100.0 GuzzleHttp/6', { name: 'aws-sdk-php', supports_imdsv2: false }],
    ['aws-sdk-ruby3/3.100.0 ruby/2.7', { name: 'aws-sdk-ruby', supports_imdsv2: true }],
    ['curl/8.5.0', { name: 'curl', supports_imdsv2: null }],
    ['Python-urllib/3.11', { name: 'python-urllib', supports_imdsv2: null }],
    ['Cloud-Init/23.1', { name: 'cloud-init', supports_imdsv2: null }],
  ])('%s', (ua, expected) => {
    expect(sdkFromUserAgent(ua)).toMatchObject(expected);
  });
  it('no User-Agent is no guess', () => {
    expect(sdkFromUserAgent(null)).toBeNull();
    expect(sdkFromUserAgent('MyThing/1.0')).toBeNull();
  });
  it('compares versions numerically', () => {
    expect(compareVersions('1.13.25', '1.13.3')).toBe(1);
    expect(compareVersions('2.722.0', '2.722')).toBe(0);
  });
});

describe('cgroup placement', () => {
  const id = 'a'.repeat(64);
  it.each([
    ['/system.slice/amazon-ssm-agent.service', { unit: 'amazon-ssm-agent.service', container: null }],
    ['/system.slice/cloud-init.service', { unit: 'cloud-init.service', container: null }],
    ['/user.slice/user-1000.slice/session-3.scope', { unit: 'session-3.scope', container: null }],
    [`/system.slice/docker-${id}.scope`, { unit: null, container: { runtime: 'docker', id } }],
    [`/docker/${id}`, { unit: null, container: { runtime: 'docker', id } }],
    [
      `/system.slice/containerd.service/cri-containerd-${id}.scope`,
      { unit: null, container: { runtime: 'containerd', id } },
    ],
    [`/ecs/0123abcd/${id}`, { unit: null, container: { runtime: 'ecs', id, ecs_task: '0123abcd' } }],
    [
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice/cri-containerd-${id}.scope`,
      { unit: null, container: { runtime: 'kubernetes', id, pod_uid: '1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901' } },
    ],
    [
      `/kubepods/burstable/pod1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901/${id}`,
      { unit: null, container: { runtime: 'kubernetes', id } },
    ],
  ])('%s', (path, expected) => {
    expect(placementFromCgroupPath(path)).toMatchObject(expected);
  });
  it('reads the v2 line, or the name=systemd line on cgroup v1 hosts', () => {
    expect(cgroupPathFromProcFile('0::/system.slice/x.service\n')).toBe('/system.slice/x.service');
    expect(cgroupPathFromProcFile('3:memory:/\n1:name=systemd:/system.slice/y.service\n0::/\n')).toBe(
      '/system.slice/y.service',
    );
  });
});

describe('fallback and advice', () => {
  it('a failed or unanswered token PUT followed by v1 from the same process is a fallback', () => {
    const d = new FallbackDetector();
    d.onTokenRequest({ process: 'p1', status: 403, atNs: 1n });
    d.onTokenRequest({ process: 'p2', status: 'no-answer', atNs: 1n });
    d.onTokenRequest({ process: 'p3', status: 200, atNs: 1n });
    expect(d.onV1Request({ process: 'p1', atNs: 2n })?.reason).toContain('answered 403');
    expect(d.onV1Request({ process: 'p2', atNs: 2n })?.reason).toContain('no answer');
    expect(d.onV1Request({ process: 'p3', atNs: 2n })).toBeNull();
    expect(d.onV1Request({ process: 'p4', atNs: 2n })).toBeNull();
  });
  it('advice names the upgrade, the hop limit, or the token to fetch', () => {
    const base = {
      imds_version: 'v1' as const,
      aws_api: true,
      fallback: null,
      container: null,
      status: 200,
      comm: 'python3',
    };
    expect(adviceFor({ ...base, sdk: sdkFromUserAgent('Botocore/1.12.0') })).toBe(
      'botocore 1.12.0 predates IMDSv2 support (1.13.25): upgrade it.',
    );
    expect(
      adviceFor({ ...base, sdk: null, fallback: { reason: 'x' }, container: { runtime: 'docker', id: 'abc' } }),
    ).toContain('HttpPutResponseHopLimit to 2');
    expect(adviceFor({ ...base, sdk: sdkFromUserAgent('curl/8.0'), status: 401 })).toMatch(
      /curl calls IMDS without a token.*already rejects/,
    );
    expect(adviceFor({ ...base, imds_version: 'v2', sdk: null })).toBeNull();
  });
  it('argv loses token values but keeps the header name', () => {
    expect(
      redactArgv([
        'curl',
        '-H',
        'X-aws-ec2-metadata-token: AQAEsecret',
        '-H',
        'X-aws-ec2-metadata-token-ttl-seconds: 60',
      ]),
    ).toEqual({
      argv: ['curl', '-H', 'X-aws-ec2-metadata-token: [REDACTED]', '-H', 'X-aws-ec2-metadata-token-ttl-seconds: 60'],
      redacted: true,
    });
  });
  it('argv loses a secret given as the argument after its name', () => {
    expect(
      redactArgv([
        'curl',
        '-H',
        'X-aws-ec2-metadata-token:',
        'AQAEsecret',
        '-H',
        'X-aws-ec2-metadata-token-ttl-seconds:',
        '60',
      ]),
    ).toEqual({
      argv: [
        'curl',
        '-H',
        'X-aws-ec2-metadata-token:',
        '[REDACTED]',
        '-H',
        'X-aws-ec2-metadata-token-ttl-seconds:',
        '60',
      ],
      redacted: true,
    });
    expect(redactArgv(['aws', 'configure', 'set', 'aws_session_token=', 'IQoJsecret']).argv.at(-1)).toBe('[REDACTED]');
    // Any name that says token, then a colon: what follows is taken as its value.
    expect(redactArgv(['echo', 'token:', 'plain'])).toEqual({ argv: ['echo', 'token:', '[REDACTED]'], redacted: true });
    expect(redactArgv(['echo', 'note:', 'plain'])).toEqual({ argv: ['echo', 'note:', 'plain'], redacted: false });
  });
});

describe('process table', () => {
  const snap = (pid: number, ppid: number): ProcSnapshot => ({
    pid,
    ppid,
    comm: `p${pid}`,
    startNs: BigInt(pid) * 10_000_000n,
    argv: [`p${pid}`],
    argvTruncated: false,
    exe: `/bin/p${pid}`,
    uid: 0,
    gid: 0,
    nsPid: pid,
    nsLevel: 0,
    cgroup: null,
  });
  const proc = new Map([1, 10].map((pid) => [pid, snap(pid, pid === 1 ? 0 : 1)]));

  it('keeps argv and ancestry of processes that exited', () => {
    const t = new ProcessTable(
      100,
      (pid) => proc.get(pid) ?? null,
      () => [...proc.keys()],
    );
    t.seedFromProc();
    const common = {
      kind: 'process',
      tsNs: 1n,
      uid: 0,
      gid: 0,
      nsPid: 0,
      nsLevel: 0,
      parentStartNs: 0n,
      execed: true,
      argvTruncated: false,
      argvUnreadable: false,
    } as const;
    // As the kernel sends them at curl's connect(): curl, then its exited parent.
    t.apply({
      ...common,
      pid: 21,
      ppid: 20,
      startNs: 2_100_000_000n,
      exitedNs: 4n,
      comm: 'curl',
      filename: '/usr/bin/curl',
      argv: ['curl', 'x'],
    });
    t.apply({
      ...common,
      pid: 20,
      ppid: 10,
      startNs: 2_000_000_000n,
      exitedNs: 3n,
      comm: 'sh',
      filename: '/bin/sh',
      argv: ['sh', '-c', 'curl x & exit'],
    });
    expect(t.lookup(21)).toMatchObject({ argv: ['curl', 'x'], exe: '/usr/bin/curl', exitedNs: 4n });
    expect(t.ancestors(21).map((a) => [a.pid, a.argv.join(' ')])).toEqual([
      [20, 'sh -c curl x & exit'],
      [10, 'p10'],
      [1, 'p1'],
    ]);
  });

  it('stays bounded after 100,000 short-lived processes', () => {
    const t = new ProcessTable(32768, () => null);
    const before = process.memoryUsage().heapUsed;
    for (let pid = 1000; pid < 101_000; pid++) {
      t.apply({
        kind: 'process',
        tsNs: 1n,
        uid: 0,
        gid: 0,
        nsPid: pid,
        nsLevel: 0,
        parentStartNs: 0n,
        ppid: 1,
        pid,
        startNs: BigInt(pid),
        exitedNs: 2n,
        comm: 'true',
        execed: true,
        filename: '/bin/true',
        argv: ['true', String(pid)],
        argvTruncated: false,
        argvUnreadable: false,
      });
    }
    const grownMb = (process.memoryUsage().heapUsed - before) / 1e6;
    process.stdout.write(`process table: ${t.size} entries after 100,000 processes, heap +${grownMb.toFixed(1)} MB\n`);
    expect(t.size).toBe(32768);
  });
});
