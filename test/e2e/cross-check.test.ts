// `report --cross-check cloudwatch` against a CloudWatch stand-in (test/rig/cloudwatch-stand-in.ts)
// running in a test network namespace; the report (the shipped bundle, with the AWS SDK
// beside it) runs in the same namespace with static test credentials, so nothing can reach
// AWS. The logs are written by the daemon's own sink and VerdictWriter: one host with
// IMDSv1 requests answered 200 (NO), one with none (YES), and a fleet of verdict lines.
// Counts agree: the verdict stands and says so; CloudWatch counts more: UNKNOWN naming the
// periods; 403, throttling, no credentials, no network: one stderr line, the verdict as it was.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERIOD_MS, periodStart } from '../../src/logic/report/tokenless.js';
import { type Report, reportSchema } from '../../src/report/index.js';
import type { StandInCall, StandInConfig } from '../rig/cloudwatch-stand-in.js';
import { REPO_ROOT } from '../rig/compiled.js';
import { type RunningProcess, type Testbed, createTestbed } from '../rig/index.js';
import { daemonRun } from '../helpers/daemon-run.js';

const isRoot = process.getuid?.() === 0;
const BUNDLE = join(REPO_ROOT, 'bundle/imds-analyzer.mjs');
const STAND_IN = join(REPO_ROOT, 'dist-test/test/rig/cloudwatch-stand-in.js');
const NO_HOST = 'i-0aaaaaaaaaaaaaaa1';
const YES_HOST = 'i-0bbbbbbbbbbbbbbb2';
const FLEET = 600;
const ACCESS_KEY = 'AKIASTANDINTEST00001';
const PORT = 4566;

/** One run of a host's daemon: `v1` IMDSv1 requests answered 200 and one IMDSv2 request. */
async function hostRun(dir: string, instanceId: string, v1: number): Promise<void> {
  const bootId = `0f3c2b1a-9e8d-4c7b-a6f5-${instanceId.slice(-12)}`;
  const requests = [
    ...Array.from({ length: v1 }, () => ({ version: 'v1' as const, status: 200 })),
    { version: 'v2' as const, status: 200 },
  ];
  await daemonRun({ dir, hostname: `ip-${instanceId}`, instanceId, bootId }, 4242, requests, true);
}

function linesOf(dir: string): Array<Record<string, unknown>> {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.log'))
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean))
    .map((text) => JSON.parse(text) as Record<string, unknown>);
}

/** What the log holds: tokenless requests answered 2xx per period, as CloudWatch would count them. */
function loggedPoints(dir: string): Array<[number, number]> {
  const counts = new Map<number, number>();
  for (const line of linesOf(dir))
    if (line.event === 'imds_request' && line.imds_version === 'v1') {
      const start = periodStart(line.time as number);
      counts.set(start, (counts.get(start) ?? 0) + 1);
    }
  return [...counts];
}

describe.skipIf(!isRoot)('report --cross-check cloudwatch against a CloudWatch stand-in in a test namespace', () => {
  let bed: Testbed;
  let standIn: RunningProcess | undefined;
  const root = mkdtempSync(join(tmpdir(), 'cross-check-'));
  const noDir = join(root, 'no');
  const yesDir = join(root, 'yes');
  const fleetDir = join(root, 'fleet');
  const requestLog = join(root, 'calls.jsonl');
  let endpoint = '';

  beforeAll(async () => {
    for (const dir of [noDir, yesDir, fleetDir]) mkdirSync(dir);
    await hostRun(noDir, NO_HOST, 3);
    await hostRun(yesDir, YES_HOST, 0);
    // The fleet: the YES host's own last verdict line, and FLEET more hosts' copies of it.
    const verdict = readFileSync(join(yesDir, readdirSync(yesDir).find((n) => n.endsWith('.log')) ?? ''), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"event":"verdict"'))
      .at(-1) as string;
    const fleet = Array.from({ length: FLEET }, (_, i) =>
      verdict.replaceAll(YES_HOST, `i-0${i.toString(16).padStart(16, '0')}`),
    );
    writeFileSync(join(fleetDir, 'verdicts.log'), `${[verdict, ...fleet].join('\n')}\n`);
    bed = await createTestbed({ prefix: 'cwx' });
    endpoint = `http://${bed.clientAddresses[0]?.ipv4}:${PORT}`;
  }, 120_000);

  afterAll(async () => {
    standIn?.kill('SIGKILL');
    await standIn?.result;
    await bed?.teardown();
    rmSync(root, { recursive: true, force: true });
  });

  async function startStandIn(
    mode: StandInConfig['mode'],
    points: StandInConfig['points'],
    pointsPerPage = 50,
  ): Promise<void> {
    if (standIn) {
      standIn.kill('SIGKILL');
      await standIn.result;
    }
    rmSync(requestLog, { force: true });
    const config: StandInConfig = {
      listen: bed.clientAddresses[0]?.ipv4 ?? '',
      port: PORT,
      mode,
      points,
      pointsPerPage,
      requestLog,
      accessKeyId: ACCESS_KEY,
    };
    const running = bed.spawn([process.execPath, STAND_IN, '--config', JSON.stringify(config)]);
    standIn = running;
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      running.child.stdout?.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes('listening\n')) resolve();
      });
      void running.result.then((r) => reject(new Error(`stand-in exited: ${r.stderr}`)));
    });
  }

  async function report(
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): Promise<{ code: number | null; stderr: string; report: Report }> {
    const run = await bed.run(
      [
        process.execPath,
        BUNDLE,
        'report',
        '--cross-check',
        'cloudwatch',
        '--min-observed',
        '0',
        '--format',
        'json',
        ...args,
      ],
      {
        env: {
          AWS_ACCESS_KEY_ID: ACCESS_KEY,
          AWS_SECRET_ACCESS_KEY: 'stand-in-secret-key-not-a-real-one',
          AWS_REGION: 'eu-west-1',
          AWS_ENDPOINT_URL_CLOUDWATCH: endpoint,
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_CONFIG_FILE: join(root, 'no-config'),
          AWS_SHARED_CREDENTIALS_FILE: join(root, 'no-credentials'),
          ...env,
        },
        timeoutMs: 60_000,
      },
    );
    return { code: run.code, stderr: run.stderr, report: reportSchema.parse(JSON.parse(run.stdout)) };
  }

  const calls = (): StandInCall[] =>
    readFileSync(requestLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as StandInCall);

  it('counts agree: the verdict stands (NO and YES) and says CloudWatch agrees', async () => {
    await startStandIn('ok', { [NO_HOST]: loggedPoints(noDir), [YES_HOST]: [] });
    const no = await report([noDir]);
    expect(no.code).toBe(1);
    expect(no.report.verdict.answer).toBe('NO');
    expect(no.report.cross_check).toMatchObject({
      status: 'checked',
      hosts: [{ host: NO_HOST, result: 'agrees', log_total: 3, cloudwatch_total: 3 }],
    });
    expect(no.report.verdict.text).toContain('AWS/EC2 MetadataNoToken agrees with the log');
    const yes = await report([yesDir]);
    expect(yes.code).toBe(0);
    expect(yes.report.verdict.answer).toBe('YES');
    expect(yes.report.cross_check?.hosts[0]).toMatchObject({ result: 'agrees', log_total: 0 });
    expect(no.stderr).toBe('');
    expect(yes.stderr).toBe('');
    // Signed with the test key, asked for 5-minute sums over the logged window.
    const [call] = calls();
    expect(call).toMatchObject({ signedWith: ACCESS_KEY, period: 300, instanceIds: [NO_HOST] });
  });

  it('CloudWatch counts more: UNKNOWN with cloudwatch_disagrees naming the period', async () => {
    const at = periodStart(linesOf(yesDir)[0]?.time as number);
    await startStandIn('ok', { [YES_HOST]: [[at, 2]] });
    const { code, stderr, report: r } = await report([yesDir]);
    expect(code).toBe(2);
    expect(stderr).toBe('');
    expect(r.verdict.answer).toBe('UNKNOWN');
    const reason = r.hosts[0]?.reasons.find((x) => x.code === 'cloudwatch_disagrees');
    expect(reason?.message).toContain(
      `${new Date(at).toISOString()} .. ${new Date(at + PERIOD_MS).toISOString()} (CloudWatch 2, log 0)`,
    );
  });

  const failures: Array<{ name: string; mode: StandInConfig['mode']; env: NodeJS.ProcessEnv; says: string }> = [
    { name: '403', mode: 'deny', env: {}, says: 'CloudWatch refused GetMetricData (AccessDenied' },
    { name: 'throttling', mode: 'throttle', env: {}, says: 'CloudWatch throttled GetMetricData (Throttling' },
    // The credential chain ends at IMDS, turned off here: nothing else gives credentials.
    {
      name: 'no credentials',
      mode: 'ok',
      env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' },
      says: 'no AWS credentials',
    },
    // No route to this address inside the namespace.
    {
      name: 'no network',
      mode: 'ok',
      env: { AWS_ENDPOINT_URL_CLOUDWATCH: `http://10.255.255.1:${PORT}` },
      says: 'cannot reach CloudWatch',
    },
  ];
  for (const { name, mode, env, says } of failures) {
    it(`${name}: one stderr line, the verdict as it was`, async () => {
      await startStandIn(mode, {});
      const { code, stderr, report: r } = await report([yesDir], env);
      expect(code).toBe(0);
      expect(r.verdict.answer).toBe('YES');
      const lines = stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`imds-analyzer report: cross-check skipped, the verdict is the log's alone: ${says}`);
      expect(r.cross_check).toMatchObject({ status: 'failed' });
    }, 90_000);
  }

  it('the fleet report (--verdicts) asks many instances per call, and finds the one CloudWatch saw more on', async () => {
    const at = periodStart(linesOf(yesDir)[0]?.time as number);
    const odd = `i-0${(17).toString(16).padStart(16, '0')}`;
    // Points for a few instances, two to a page: the answer comes in pages (NextToken).
    const zeros = Object.fromEntries(
      [3, 250, 590].map((i) => [`i-0${i.toString(16).padStart(16, '0')}`, [[at, 0] as [number, number]]]),
    );
    await startStandIn('ok', { ...zeros, [odd]: [[at, 1]] }, 2);
    const { code, report: r } = await report(['--verdicts', fleetDir]);
    expect(code).toBe(2);
    expect(r.hosts).toHaveLength(FLEET + 1);
    // (The verdict lines say UNKNOWN already: their daemon's window is shorter than a day.)
    const disagreeing = r.hosts.filter((h) => h.reasons.some((x) => x.code === 'cloudwatch_disagrees'));
    expect(disagreeing.map((h) => h.host)).toEqual([odd]);
    expect(r.cross_check?.hosts.filter((h) => h.result === 'agrees')).toHaveLength(FLEET);
    // 601 instances: two calls (500 and 101), each with every id once.
    const batches = calls().filter((c) => c.nextToken === null);
    expect(batches.map((c) => c.instanceIds.length)).toEqual([500, FLEET + 1 - 500]);
    expect(new Set(batches.flatMap((c) => c.instanceIds)).size).toBe(FLEET + 1);
    expect(calls().filter((c) => c.nextToken !== null).length).toBeGreaterThan(0);
  }, 90_000);
});
