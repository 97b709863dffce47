// `report --cross-check cloudwatch` against a CloudWatch stand-in (test/rig/cloudwatch-stand-in.ts)
// running in a test network namespace; the report (the shipped bundle, with the AWS SDK
// beside it) runs in the same namespace with static test credentials, so nothing can reach
// AWS. The logs are written by the daemon's own sink and VerdictWriter: one host with
// IMDSv1 requests answered 200 (NO), one with none (YES), hosts whose lines name no region,
// and a fleet of verdict lines from four regions. Counts agree: the verdict stands and says
// so; CloudWatch counts more: UNKNOWN naming the periods; CloudWatch with no data for an
// instance in the region asked: no_data, never agreement; 403, throttling, no credentials, no
// network, no region: one stderr line, the verdict as it was. The stand-in takes the region
// each call is for from its signature, as CloudWatch does: each host is asked in its own
// (its lines', else AWS_REGION's, else this instance's from the namespace's test IMDS).
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
/** Hosts whose lines name no region: the first is the instance the namespace's test IMDS answers for. */
const BARE_HOST = 'i-0ccccccccccccccc3';
const OTHER_BARE_HOST = 'i-0ddddddddddddddd4';
/** The NO and YES hosts' own regions, AWS_REGION's, and the test IMDS's. */
const [NO_REGION, YES_REGION, SDK_REGION, IMDS_REGION] = ['us-west-2', 'ap-southeast-2', 'eu-west-1', 'ca-central-1'];
const FLEET = 620;
const ACCESS_KEY = 'AKIASTANDINTEST00001';
const PORT = 4566;

/** One run of a host's daemon: `v1` IMDSv1 requests answered 200 and one IMDSv2 request. */
async function hostRun(dir: string, instanceId: string, v1: number, region: string | null): Promise<void> {
  const bootId = `0f3c2b1a-9e8d-4c7b-a6f5-${instanceId.slice(-12)}`;
  const requests = [
    ...Array.from({ length: v1 }, () => ({ version: 'v1' as const, status: 200 })),
    { version: 'v2' as const, status: 200 },
  ];
  await daemonRun({ dir, hostname: `ip-${instanceId}`, instanceId, region, bootId }, 4242, requests, true);
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

const fleetId = (i: number) => `i-0${i.toString(16).padStart(16, '0')}`;
/** Most of the fleet in one region (more than one call's 500 instances), the rest in three others or none. */
const fleetRegion = (i: number): string | null =>
  [YES_REGION, 'us-east-1', null, 'eu-central-1'][i % 20 < 3 ? (i % 20) + 1 : 0] ?? null;
/** The region each instance is asked in: its lines', else the SDK's (AWS_REGION). */
const fleetAskedIn = (id: string): string =>
  id === YES_HOST ? YES_REGION : (fleetRegion(Number.parseInt(id.slice(2), 16)) ?? SDK_REGION);

describe.skipIf(!isRoot)('report --cross-check cloudwatch against a CloudWatch stand-in in a test namespace', () => {
  let bed: Testbed;
  let standIn: RunningProcess | undefined;
  const root = mkdtempSync(join(tmpdir(), 'cross-check-'));
  const noDir = join(root, 'no');
  const yesDir = join(root, 'yes');
  const fleetDir = join(root, 'fleet');
  const bareDir = join(root, 'bare');
  const otherBareDir = join(root, 'other-bare');
  const requestLog = join(root, 'calls.jsonl');
  let endpoint = '';

  beforeAll(async () => {
    for (const dir of [noDir, yesDir, fleetDir, bareDir, otherBareDir]) mkdirSync(dir);
    await hostRun(noDir, NO_HOST, 3, NO_REGION);
    await hostRun(yesDir, YES_HOST, 0, YES_REGION);
    await hostRun(bareDir, BARE_HOST, 0, null);
    await hostRun(otherBareDir, OTHER_BARE_HOST, 0, null);
    // The fleet: the YES host's own last verdict line, and FLEET more hosts' copies of it, in
    // their own regions (some lines name none).
    const verdict = readFileSync(join(yesDir, readdirSync(yesDir).find((n) => n.endsWith('.log')) ?? ''), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"event":"verdict"'))
      .at(-1) as string;
    expect(verdict).toContain(`"region":"${YES_REGION}"`);
    const fleet = Array.from({ length: FLEET }, (_, i) =>
      verdict
        .replaceAll(YES_HOST, fleetId(i))
        .replace(`"region":"${YES_REGION}"`, `"region":${JSON.stringify(fleetRegion(i))}`),
    );
    writeFileSync(join(fleetDir, 'verdicts.log'), `${[verdict, ...fleet].join('\n')}\n`);
    bed = await createTestbed({ prefix: 'cwx', imds: { instanceId: BARE_HOST, region: IMDS_REGION } });
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
    where: Pick<StandInConfig, 'placement' | 'deniedRegions'> = {},
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
      ...where,
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
          AWS_REGION: SDK_REGION,
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

  const firstPeriod = (dir: string) => periodStart(linesOf(dir)[0]?.time as number);

  it('counts agree: the verdict stands (NO and YES) and says CloudWatch agrees, each host asked in its own region', async () => {
    await startStandIn('ok', { [NO_HOST]: loggedPoints(noDir), [YES_HOST]: [[firstPeriod(yesDir), 0]] }, 50, {
      placement: { [NO_HOST]: NO_REGION, [YES_HOST]: YES_REGION },
    });
    const no = await report([noDir]);
    expect(no.code).toBe(1);
    expect(no.report.verdict.answer).toBe('NO');
    expect(no.report.cross_check).toMatchObject({
      status: 'checked',
      hosts: [
        { host: NO_HOST, region: NO_REGION, region_from: 'log', result: 'agrees', log_total: 3, cloudwatch_total: 3 },
      ],
    });
    expect(no.report.verdict.text).toContain(`AWS/EC2 MetadataNoToken agrees with the log over`);
    expect(no.report.verdict.text).toContain(`(asked in ${NO_REGION})`);
    const yes = await report([yesDir]);
    expect(yes.code).toBe(0);
    expect(yes.report.verdict.answer).toBe('YES');
    expect(yes.report.cross_check?.hosts[0]).toMatchObject({ result: 'agrees', log_total: 0, region: YES_REGION });
    expect(no.stderr).toBe('');
    expect(yes.stderr).toBe('');
    // Signed with the test key for the host's own region (not AWS_REGION's), asked for
    // 5-minute sums over the logged window.
    expect(calls()).toMatchObject([
      { signedWith: ACCESS_KEY, region: NO_REGION, period: 300, instanceIds: [NO_HOST] },
      { signedWith: ACCESS_KEY, region: YES_REGION, period: 300, instanceIds: [YES_HOST] },
    ]);
  });

  it('an instance CloudWatch keeps in another region than it is asked in: no_data, never agreement', async () => {
    // The stand-in holds both hosts' points, but in a region their lines do not name.
    await startStandIn('ok', { [NO_HOST]: loggedPoints(noDir), [YES_HOST]: [[firstPeriod(yesDir), 0]] }, 50, {
      placement: { [NO_HOST]: 'us-east-1', [YES_HOST]: 'us-east-1' },
    });
    // Tokenless 2xx requests in the log, nothing in CloudWatch: not counted as agreeing.
    const no = await report([noDir]);
    expect(no.code).toBe(1);
    expect(no.report.cross_check?.hosts).toMatchObject([
      { host: NO_HOST, region: NO_REGION, result: 'no_data', log_total: 3, cloudwatch_total: 0 },
    ]);
    expect(no.report.verdict.text).not.toContain('agrees');
    expect(no.report.verdict.text).toContain(`no AWS/EC2 MetadataNoToken data for ${NO_HOST} in ${NO_REGION}`);
    const yes = await report([yesDir]);
    expect(yes.report.verdict.answer).toBe('YES');
    expect(yes.report.cross_check?.hosts[0]).toMatchObject({ result: 'no_data', region: YES_REGION });
    expect(yes.report.verdict.text).not.toContain('agrees');
    expect(calls().map((c) => c.region)).toEqual([NO_REGION, YES_REGION]);
  });

  it('CloudWatch counts more: UNKNOWN with cloudwatch_disagrees naming the period', async () => {
    const at = firstPeriod(yesDir);
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

  const failures: Array<{
    name: string;
    mode: StandInConfig['mode'];
    env: NodeJS.ProcessEnv;
    says: string;
    dir?: string;
  }> = [
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
    // A host whose lines name no region, no AWS_REGION, and IMDS turned off.
    { name: 'no region', mode: 'ok', env: { AWS_REGION: '' }, says: 'no AWS region', dir: bareDir },
  ];
  for (const { name, mode, env, says, dir } of failures) {
    it(`${name}: one stderr line, the verdict as it was`, async () => {
      await startStandIn(mode, {});
      const { code, stderr, report: r } = await report([dir ?? yesDir], env);
      expect(code).toBe(0);
      expect(r.verdict.answer).toBe('YES');
      const lines = stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`imds-analyzer report: cross-check skipped, the verdict is the log's alone: ${says}`);
      expect(r.cross_check).toMatchObject({ status: 'failed' });
    }, 90_000);
  }

  it("no region anywhere but IMDS: this instance's region from the namespace's test IMDS (IMDSv2), for this instance only", async () => {
    const at = firstPeriod(bareDir);
    await startStandIn('ok', { [BARE_HOST]: [[at, 0]], [OTHER_BARE_HOST]: [[at, 0]] }, 50, {
      placement: { [BARE_HOST]: IMDS_REGION },
    });
    const before = bed.serverRequests().length;
    const {
      code,
      stderr,
      report: r,
    } = await report([bareDir, otherBareDir], {
      AWS_REGION: '',
      AWS_EC2_METADATA_DISABLED: '',
    });
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(r.cross_check?.hosts).toMatchObject([
      { host: BARE_HOST, region: IMDS_REGION, region_from: 'imds', result: 'agrees' },
      // Another instance's lines: IMDS here says nothing of where it runs.
      { host: OTHER_BARE_HOST, region: null, result: 'not_checked' },
    ]);
    expect(calls()).toMatchObject([{ region: IMDS_REGION, instanceIds: [BARE_HOST] }]);
    // A token first, then the instance id and the region, each with the token.
    const asked = bed.serverRequests().slice(before);
    expect(asked.map((q) => `${q.method} ${q.path} ${q.version}`)).toEqual([
      'PUT /latest/api/token v2',
      'GET /latest/meta-data/instance-id v2',
      'GET /latest/meta-data/placement/region v2',
    ]);
  }, 90_000);

  /** Every fleet instance's zero for the window's first period, in the region its lines name (else AWS_REGION's). */
  function fleetPoints(at: number): Pick<StandInConfig, 'points' | 'placement'> {
    const ids = [YES_HOST, ...Array.from({ length: FLEET }, (_, i) => fleetId(i))];
    return {
      points: Object.fromEntries(ids.map((id) => [id, [[at, 0] as [number, number]]])),
      placement: Object.fromEntries(ids.map((id) => [id, fleetAskedIn(id)])),
    };
  }

  it('the fleet report (--verdicts) asks each region its own instances, many per call, and finds the one CloudWatch saw more on', async () => {
    const at = firstPeriod(yesDir);
    const odd = fleetId(17); // in YES_REGION
    const elsewhere = fleetId(21); // its lines say us-east-1; CloudWatch has it in eu-central-1
    const { points, placement } = fleetPoints(at);
    // Two points to a page: the answers come in pages (NextToken).
    await startStandIn('ok', { ...points, [odd]: [[at, 1]] }, 2, {
      placement: { ...placement, [elsewhere]: 'eu-central-1' },
    });
    const { code, stderr, report: r } = await report(['--verdicts', fleetDir]);
    expect(code).toBe(2);
    expect(stderr).toBe('');
    expect(r.hosts).toHaveLength(FLEET + 1);
    // (The verdict lines say UNKNOWN already: their daemon's window is shorter than a day.)
    const disagreeing = r.hosts.filter((h) => h.reasons.some((x) => x.code === 'cloudwatch_disagrees'));
    expect(disagreeing.map((h) => h.host)).toEqual([odd]);
    const checks = r.cross_check?.hosts ?? [];
    expect(checks.filter((h) => h.result === 'no_data').map((h) => h.host)).toEqual([elsewhere]);
    expect(checks.filter((h) => h.result === 'agrees')).toHaveLength(FLEET - 1);
    // Each host's result names the region it was asked in: its own, AWS_REGION's for lines without one.
    for (const h of checks) {
      expect(h.region, h.host).toBe(fleetAskedIn(h.host));
      expect(h.region_from, h.host).toBe(h.region === SDK_REGION ? 'sdk' : 'log');
    }
    expect(r.verdict.text).toContain(
      `counted requests the log did not see on 1 of ${FLEET} hosts compared (1 host without CloudWatch data)`,
    );
    // Every call was for one region and named only that region's instances.
    for (const c of calls()) for (const id of c.instanceIds) expect(fleetAskedIn(id), id).toBe(c.region);
    // Per region, each instance once, 500 to a call at most: YES_REGION's 528 in two calls.
    const batches = calls().filter((c) => c.nextToken === null);
    const perRegion = new Map<string, number[]>();
    for (const c of batches)
      perRegion.set(c.region ?? '', [...(perRegion.get(c.region ?? '') ?? []), c.instanceIds.length]);
    expect(Object.fromEntries(perRegion)).toEqual({
      [YES_REGION]: [500, 28],
      'us-east-1': [31],
      [SDK_REGION]: [31],
      'eu-central-1': [31],
    });
    expect(new Set(batches.flatMap((c) => c.instanceIds)).size).toBe(FLEET + 1);
    expect(calls().filter((c) => c.nextToken !== null).length).toBeGreaterThan(0);
  }, 90_000);

  it('one region refused, the others read: its hosts not checked, one stderr line names it', async () => {
    await startStandIn('ok', fleetPoints(firstPeriod(yesDir)).points, 1000, {
      placement: fleetPoints(0).placement,
      deniedRegions: ['eu-central-1'],
    });
    const { stderr, report: r } = await report(['--verdicts', fleetDir]);
    expect(r.cross_check?.status).toBe('checked');
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      'imds-analyzer report: cross-check incomplete: CloudWatch could not be read in eu-central-1 (31 hosts not checked): CloudWatch refused GetMetricData (AccessDenied',
    );
    const checks = r.cross_check?.hosts ?? [];
    const refused = checks.filter((h) => h.result === 'not_checked');
    expect(refused).toHaveLength(31);
    expect(new Set(refused.map((h) => h.region))).toEqual(new Set(['eu-central-1']));
    expect(checks.filter((h) => h.result === 'agrees')).toHaveLength(FLEET + 1 - 31);
    expect(r.verdict.text).toContain('(31 hosts not checked)');
  }, 90_000);
});
