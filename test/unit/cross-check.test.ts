// The cross-check with CloudWatch's MetadataNoToken: the period-by-period comparison, what a
// disagreement does to the verdict (a YES becomes UNKNOWN naming the periods, a NO stays NO),
// what a verdict line's listed periods allow, and the one line each failure to read gives.
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReportBuilder } from '../../src/logic/report/aggregate.js';
import {
  type AskedRegion,
  compareHost,
  crossCheckSentence,
  FIVE_MINUTE_RETENTION_MS,
  failureLine,
  hostsByRegion,
  type LogTokenless,
  METRIC_NAME,
  NO_REGION_NOTE,
  notChecked,
  regionFailuresLine,
  regionFor,
} from '../../src/logic/report/cross-check.js';
import type { CrossCheck } from '../../src/logic/report/schema.js';
import { PERIOD_MS, TokenlessCounts } from '../../src/logic/report/tokenless.js';
import { tokenlessOfVerdict, verdictFields } from '../../src/logic/report/verdict-line.js';
import type { StoredLineOf } from '../../src/model/stored-line.js';

const T0 = Date.parse('2026-11-01T00:00:00Z');
const NOW = T0 + 2 * 86400_000;
const ID = 'i-0123456789abcdef0';
const ASKED: AskedRegion = { region: 'eu-west-1', from: 'log' };

function log(periods: Array<[number, number]>, fromMs = T0, toMs = T0 + 3600_000): LogTokenless {
  return {
    host: ID,
    instanceId: ID,
    region: 'eu-west-1',
    fromMs,
    toMs,
    periods: new Map(periods),
    exactFromMs: fromMs,
    earlierTotal: 0,
  };
}

describe('compareHost', () => {
  it('agrees when CloudWatch counts what the log counts, period by period', () => {
    const check = compareHost(log([[T0 + PERIOD_MS, 3]]), [[T0 + PERIOD_MS, 3]], NOW, ASKED);
    expect(check).toMatchObject({
      result: 'agrees',
      periods: 13,
      cloudwatch_total: 3,
      log_total: 3,
      more_in_cloudwatch: [],
    });
  });

  it('disagrees when CloudWatch counts more in a period, and names it', () => {
    const check = compareHost(
      log([[T0 + PERIOD_MS, 3]]),
      [
        [T0 + PERIOD_MS, 3],
        [T0 + 4 * PERIOD_MS, 2],
      ],
      NOW,
      ASKED,
    );
    expect(check.result).toBe('disagrees');
    expect(check.more_in_cloudwatch).toEqual([
      { from: '2026-11-01T00:20:00.000Z', to: '2026-11-01T00:25:00.000Z', cloudwatch: 2, log: 0 },
    ]);
  });

  it('CloudWatch counting less (its delay) is no disagreement; points outside the window are not compared', () => {
    const check = compareHost(
      log([[T0 + PERIOD_MS, 3]]),
      [
        [T0 + PERIOD_MS, 1],
        [T0 - PERIOD_MS, 50],
        [T0 + 2 * 3600_000, 50],
      ],
      NOW,
      ASKED,
    );
    expect(check).toMatchObject({ result: 'agrees', fewer_in_cloudwatch: 1, cloudwatch_total: 1 });
  });

  it('a host without an instance id, or a window older than CloudWatch keeps, is not checked', () => {
    expect(compareHost({ ...log([]), instanceId: null }, [], NOW, ASKED).result).toBe('not_checked');
    const old = log([], T0, T0 + 3600_000);
    expect(compareHost(old, [], T0 + FIVE_MINUTE_RETENTION_MS + 2 * 3600_000, ASKED)).toMatchObject({
      result: 'not_checked',
      note: 'its window is older than CloudWatch keeps 5-minute data',
    });
  });

  it("property: any period where CloudWatch adds to the log's count is named, and only those", () => {
    const periods = 12;
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 5 }), { minLength: periods, maxLength: periods }),
        fc.array(fc.integer({ min: -5, max: 5 }), { minLength: periods, maxLength: periods }),
        (counts, deltas) => {
          const logged = counts.map((n, i) => [T0 + i * PERIOD_MS, n] as [number, number]).filter(([, n]) => n > 0);
          const cloudwatch = counts.map((n, i) => [T0 + i * PERIOD_MS, Math.max(0, n + (deltas[i] ?? 0))] as const);
          const check = compareHost(log(logged, T0, T0 + (periods - 1) * PERIOD_MS), cloudwatch, NOW, ASKED);
          const more = counts.flatMap((n, i) => (Math.max(0, n + (deltas[i] ?? 0)) > n ? [i] : []));
          expect(check.more_in_cloudwatch.map((d) => (Date.parse(d.from) - T0) / PERIOD_MS)).toEqual(more);
          expect(check.result).toBe(more.length > 0 ? 'disagrees' : 'agrees');
          expect(check.periods).toBe(periods);
        },
      ),
    );
  });
});

describe('missing data: CloudWatch silent over the whole window is no agreement', () => {
  it('a host with tokenless 2xx requests and no data point at all: no_data, nothing credited', () => {
    const check = compareHost(log([[T0 + PERIOD_MS, 3]]), [], NOW, ASKED);
    expect(check).toMatchObject({ result: 'no_data', region: 'eu-west-1', log_total: 3, cloudwatch_total: 0 });
    expect(check.note).toContain(`no ${METRIC_NAME} data for ${ID} in eu-west-1`);
    const sentence = crossCheckSentence({
      source: 'cloudwatch',
      metric: METRIC_NAME,
      status: 'checked',
      note: null,
      hosts: [check],
    });
    expect(sentence).not.toContain('agrees');
    expect(sentence).toContain('not compared');
  });

  it('a host with none: no_data as well (the wrong region answers the same)', () => {
    expect(compareHost(log([]), [], NOW, ASKED).result).toBe('no_data');
    // Points only outside the window are no data for it either.
    expect(compareHost(log([]), [[T0 - 3600_000, 0]], NOW, ASKED).result).toBe('no_data');
  });

  it('one data point of 0 in the window is data: periods without points count as 0', () => {
    expect(compareHost(log([]), [[T0, 0]], NOW, ASKED).result).toBe('agrees');
    expect(compareHost(log([[T0 + PERIOD_MS, 3]]), [[T0, 0]], NOW, ASKED)).toMatchObject({
      result: 'agrees',
      fewer_in_cloudwatch: 1,
    });
  });

  it('the fleet sentence credits only hosts compared with data, and counts the others', () => {
    const other = { ...log([]), host: 'i-0fedcba9876543210', instanceId: 'i-0fedcba9876543210', region: 'us-east-1' };
    const third = { ...log([]), host: 'i-0aaaaaaaaaaaaaaa1', instanceId: 'i-0aaaaaaaaaaaaaaa1', region: null };
    const check: CrossCheck = {
      source: 'cloudwatch',
      metric: METRIC_NAME,
      status: 'checked',
      note: null,
      hosts: [
        compareHost(log([]), [[T0, 0]], NOW, ASKED),
        compareHost(other, [], NOW, { region: 'us-east-1', from: 'log' }),
        notChecked(third, NO_REGION_NOTE),
      ],
    };
    expect(crossCheckSentence(check)).toBe(
      `CloudWatch's ${METRIC_NAME} agrees with the log over 13 5-minute periods on 1 host in 1 region (1 host without CloudWatch data, 1 host not checked)`,
    );
  });
});

describe('the region each host is asked in', () => {
  const host = (n: number, region: string | null): LogTokenless => ({
    ...log([]),
    host: `i-0${n.toString(16).padStart(16, '0')}`,
    instanceId: `i-0${n.toString(16).padStart(16, '0')}`,
    region,
  });

  it("its lines' region first, else the SDK's configured one", () => {
    expect(regionFor(host(1, 'ap-south-1'), { configured: 'eu-west-1' })).toEqual({
      region: 'ap-south-1',
      from: 'log',
    });
    expect(regionFor(host(1, null), { configured: 'eu-west-1' })).toEqual({ region: 'eu-west-1', from: 'sdk' });
    expect(regionFor(host(1, null), { configured: null })).toBeNull();
  });

  it("IMDS's region only for the instance IMDS named (this one), never for another host", () => {
    const local = { instanceId: host(1, null).instanceId as string, region: 'sa-east-1' };
    expect(regionFor(host(1, null), { configured: null, local })).toEqual({ region: 'sa-east-1', from: 'imds' });
    expect(regionFor(host(2, null), { configured: null, local })).toBeNull();
    // The SDK's region, when there is one, comes first.
    expect(regionFor(host(1, null), { configured: 'eu-west-1', local })?.from).toBe('sdk');
  });

  it('groups the askable hosts by region (one client and its batches per region), in input order', () => {
    const hosts = [
      host(1, 'eu-west-1'),
      host(2, 'us-east-1'),
      host(3, null),
      host(4, 'eu-west-1'),
      { ...host(5, 'eu-west-1'), instanceId: null },
      { ...host(6, 'us-east-1'), missing: 'its verdict line has no tokenless counts (an older daemon)' },
      host(7, null),
    ];
    const grouped = (configured: string | null) =>
      Object.fromEntries(
        [...hostsByRegion(hosts, { configured }, NOW)].map(([region, list]) => [
          region,
          list.map(({ log: l, asked }) => `${l.host.slice(-1)} ${asked.from}`),
        ]),
      );
    expect(grouped('us-east-1')).toEqual({ 'eu-west-1': ['1 log', '4 log'], 'us-east-1': ['2 log', '3 sdk', '7 sdk'] });
    expect(grouped(null)).toEqual({ 'eu-west-1': ['1 log', '4 log'], 'us-east-1': ['2 log'] });
    expect(grouped('ca-central-1')['ca-central-1']).toEqual(['3 sdk', '7 sdk']);
  });

  it('property: every askable host is in exactly the group of its own region, else the fallback', () => {
    const regions = ['eu-west-1', 'us-east-1', 'ap-northeast-3', null];
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...regions), { maxLength: 40 }),
        fc.constantFrom(...regions),
        (own, configured) => {
          const hosts = own.map((r, i) => host(i + 1, r));
          const grouped = hostsByRegion(hosts, { configured }, NOW);
          const placed = [...grouped].flatMap(([region, list]) => list.map((e) => [e.log.host, region] as const));
          const expected = hosts.flatMap((h) => {
            const region = h.region ?? configured;
            return region === null ? [] : [[h.host, region] as const];
          });
          expect(placed.sort()).toEqual(expected.sort());
        },
      ),
    );
  });

  it('per-host results say which region was asked and where it came from', () => {
    const check = compareHost(host(1, null), [[T0, 0]], NOW, { region: 'eu-north-1', from: 'sdk' });
    expect(check).toMatchObject({ region: 'eu-north-1', region_from: 'sdk', result: 'agrees' });
    expect(notChecked(host(2, null), NO_REGION_NOTE)).toMatchObject({
      region: null,
      region_from: null,
      result: 'not_checked',
    });
  });

  it('failures per region: one shared by every region said once, others named by region', () => {
    const denied = 'CloudWatch refused GetMetricData (AccessDenied: no); the credentials need cloudwatch:GetMetricData';
    const creds = 'no AWS credentials (none); on an instance its role, elsewhere a profile or AWS_ACCESS_KEY_ID';
    expect(
      regionFailuresLine(
        [
          { region: 'eu-west-1', line: creds, hosts: 3 },
          { region: 'us-east-1', line: creds, hosts: 1 },
        ],
        2,
      ),
    ).toBe(creds);
    expect(regionFailuresLine([{ region: 'me-south-1', line: denied, hosts: 2 }], 3)).toBe(
      `in me-south-1 (2 hosts not checked): ${denied}`,
    );
  });
});

describe('tokenlessOfVerdict', () => {
  const line = (periods: Array<{ start: string; count: number }>, total: number): StoredLineOf<'verdict'> => ({
    time: T0 + 3600_000,
    instance_id: ID,
    hostname: 'h',
    event: 'verdict',
    window: { from: new Date(T0).toISOString(), to: new Date(T0 + 3600_000).toISOString(), seconds: 3600, boots: 1 },
    tokenless_ok: total,
    tokenless_ok_periods: periods,
  });

  it('complete periods are compared one by one over the whole window', () => {
    const evidence = tokenlessOfVerdict(line([{ start: '2026-11-01T00:30:00.000Z', count: 2 }], 2), ID);
    expect(compareHost(evidence, [[T0 + 6 * PERIOD_MS, 2]], NOW, ASKED).result).toBe('agrees');
    expect(compareHost(evidence, [[T0 + PERIOD_MS, 1]], NOW, ASKED).more_in_cloudwatch[0]?.from).toBe(
      '2026-11-01T00:05:00.000Z',
    );
  });

  it('before the earliest listed period of an incomplete list only the sum is compared', () => {
    const evidence = tokenlessOfVerdict(line([{ start: '2026-11-01T00:30:00.000Z', count: 2 }], 5), ID);
    // Three earlier requests anywhere before 00:30: CloudWatch's 3 there agree, 4 do not.
    expect(
      compareHost(
        evidence,
        [
          [T0, 1],
          [T0 + PERIOD_MS, 2],
          [T0 + 6 * PERIOD_MS, 2],
        ],
        NOW,
        ASKED,
      ).result,
    ).toBe('agrees');
    const more = compareHost(
      evidence,
      [
        [T0, 4],
        [T0 + 6 * PERIOD_MS, 2],
      ],
      NOW,
      ASKED,
    ).more_in_cloudwatch;
    expect(more).toEqual([{ from: '2026-11-01T00:00:00.000Z', to: '2026-11-01T00:30:00.000Z', cloudwatch: 4, log: 3 }]);
  });

  it('a verdict line without tokenless counts (an older daemon) is not checked', () => {
    const { tokenless_ok: _, ...older } = line([], 0);
    const evidence = tokenlessOfVerdict(older, ID);
    expect(compareHost(evidence, [[T0, 1]], NOW, ASKED).result).toBe('not_checked');
  });
});

describe('the verdict with the cross-check', () => {
  const base = { hostname: 'h', instance_id: ID, boot_id: 'b', pid: 7 };
  function builderWith(v1Status: number | null): ReportBuilder {
    const builder = new ReportBuilder({ minObservedMs: 0 });
    builder.add({ ...base, time: T0, event: 'ready', uptime_ms: 5000 });
    if (v1Status !== null)
      builder.add({
        ...base,
        time: T0 + 60_000,
        event: 'imds_request',
        imds_version: 'v1',
        aws_api: true,
        process: { argv: ['/usr/bin/curl'], exe: '/usr/bin/curl' },
        response: { status: v1Status },
      });
    builder.add({ ...base, time: T0 + 3600_000, event: 'stats' });
    return builder;
  }
  const checked = (builder: ReportBuilder, points: Array<[number, number]>): CrossCheck => {
    const hosts = builder.tokenlessEvidence().map((e) => compareHost(e, points, NOW, ASKED));
    return { source: 'cloudwatch', metric: METRIC_NAME, status: 'checked', note: null, hosts };
  };

  it("each host's region is its lines' (the latest line naming one), read alike on the fast path and by zod", () => {
    const text = (fields: StoredLineOf<'imds_request'>) => JSON.stringify({ level: 30, ...fields, msg: 'm' });
    const request = (instance: string, region: string | null, t: number) =>
      text({
        time: t,
        timestamp: new Date(t).toISOString(),
        hostname: `ip-${instance}`,
        instance_id: instance,
        region,
        boot_id: 'b',
        event: 'imds_request',
        imds_version: 'v1',
        aws_api: true,
        process: { argv: ['/usr/bin/curl'], exe: '/usr/bin/curl' },
        response: { status: 200 },
      });
    const lines = [
      request('i-0aaaaaaaaaaaaaaa1', 'eu-west-1', T0),
      request('i-0aaaaaaaaaaaaaaa1', 'eu-west-1', T0 + 60_000),
      request('i-0bbbbbbbbbbbbbbb2', null, T0),
      request('i-0bbbbbbbbbbbbbbb2', null, T0 + 60_000),
      request('i-0ccccccccccccccc3', 'ap-south-2', T0),
      request('i-0ccccccccccccccc3', null, T0 + 60_000),
      // Only the second line, read through the template the first taught, names it.
      request('i-0eeeeeeeeeeeeeee5', null, T0),
      request('i-0eeeeeeeeeeeeeee5', 'ca-west-1', T0 + 60_000),
    ];
    for (const zodOnly of [false, true]) {
      const builder = new ReportBuilder({ minObservedMs: 0, zodOnly });
      for (const line of lines) builder.addText(line);
      const regions = Object.fromEntries(builder.tokenlessEvidence().map((e) => [e.host, e.region]));
      expect(regions, `zodOnly ${zodOnly}`).toEqual({
        'i-0aaaaaaaaaaaaaaa1': 'eu-west-1',
        'i-0bbbbbbbbbbbbbbb2': null,
        // A later line without one does not take it away.
        'i-0ccccccccccccccc3': 'ap-south-2',
        'i-0eeeeeeeeeeeeeee5': 'ca-west-1',
      });
    }
    // Read in two parts (as workers do), the latest line's region stands.
    const early = new ReportBuilder({ minObservedMs: 0 });
    early.addText(request('i-0ddddddddddddddd4', 'us-west-1', T0 + 60_000));
    const late = new ReportBuilder({ minObservedMs: 0 });
    late.addText(request('i-0ddddddddddddddd4', 'us-west-2', T0));
    late.absorb(early.takePartial());
    expect(late.tokenlessEvidence()[0]?.region).toBe('us-west-1');
  });

  it("a verdict line's region is its host's", () => {
    const verdict: StoredLineOf<'verdict'> = { time: T0, instance_id: ID, region: 'il-central-1', event: 'verdict' };
    expect(tokenlessOfVerdict(verdict, ID).region).toBe('il-central-1');
    expect(tokenlessOfVerdict({ ...verdict, region: undefined }, ID).region).toBeNull();
  });

  it('the log counts its IMDSv1 requests answered 2xx per period, not those refused', () => {
    const [ok] = builderWith(200).tokenlessEvidence();
    expect([...(ok?.periods ?? [])]).toEqual([[T0, 1]]);
    expect([...(builderWith(401).tokenlessEvidence()[0]?.periods ?? [])]).toEqual([]);
  });

  it('agreement leaves YES and says so', () => {
    const builder = builderWith(null);
    builder.setCrossCheck(checked(builder, [[T0, 0]]));
    const report = builder.result();
    expect(report.verdict.answer).toBe('YES');
    expect(report.verdict.text).toContain(`${METRIC_NAME} agrees with the log over 13 5-minute periods`);
    expect(report.cross_check?.hosts[0]?.result).toBe('agrees');
  });

  it('CloudWatch counting more makes a YES UNKNOWN (cloudwatch_disagrees, naming the periods); a NO stays NO', () => {
    const yes = builderWith(null);
    yes.setCrossCheck(checked(yes, [[T0 + 2 * PERIOD_MS, 4]]));
    const report = yes.result();
    expect(report.verdict.answer).toBe('UNKNOWN');
    expect(report.exit_status).toBe(2);
    const reason = report.hosts[0]?.reasons.find((r) => r.code === 'cloudwatch_disagrees');
    expect(reason?.message).toContain('2026-11-01T00:10:00.000Z .. 2026-11-01T00:15:00.000Z (CloudWatch 4, log 0)');
    expect(report.verdict.reasons.map((r) => r.code)).toContain('cloudwatch_disagrees');

    const no = builderWith(200);
    no.setCrossCheck(
      checked(no, [
        [T0, 1],
        [T0 + 2 * PERIOD_MS, 4],
      ]),
    );
    const noReport = no.result();
    expect(noReport.verdict.answer).toBe('NO');
    expect(noReport.hosts[0]?.reasons.map((r) => r.code)).toEqual(['imdsv1_callers', 'cloudwatch_disagrees']);
  });

  it('a failed read leaves the answer as it was and says why', () => {
    const builder = builderWith(null);
    const failed: CrossCheck = {
      source: 'cloudwatch',
      metric: METRIC_NAME,
      status: 'failed',
      note: 'CloudWatch throttled GetMetricData (Throttling: Rate exceeded); try again later',
      hosts: [],
    };
    builder.setCrossCheck(failed);
    const report = builder.result();
    expect(report.verdict.answer).toBe('YES');
    expect(crossCheckSentence(failed)).toContain('not done');
    expect(report.verdict.text).toContain('CloudWatch cross-check not done');
  });

  it("the daemon's own verdict line carries the log's counts the fleet report compares", () => {
    const builder = builderWith(200);
    const tokenless = new TokenlessCounts();
    tokenless.add(T0 + 60_000);
    const fields = verdictFields(builder.result(), tokenless, { version: '0', pid: 7, instanceId: ID, timeMs: T0 });
    const evidence = tokenlessOfVerdict({ ...base, time: T0, ...fields }, ID);
    expect(compareHost(evidence, [[T0, 1]], NOW, ASKED).result).toBe('agrees');
    expect(compareHost(evidence, [[T0, 2]], NOW, ASKED).result).toBe('disagrees');
  });
});

describe('failureLine', () => {
  it('names throttling, a refusal, missing credentials or region, and no network, each in one line', () => {
    expect(failureLine({ name: 'Throttling', httpStatus: 400, message: 'Rate exceeded' })).toMatch(
      /^CloudWatch throttled/,
    );
    expect(failureLine({ name: 'AccessDenied', httpStatus: 403, message: 'not authorized' })).toMatch(
      /cloudwatch:GetMetricData$/,
    );
    expect(failureLine({ name: 'Whatever', httpStatus: 403, message: 'x' })).toMatch(/^CloudWatch refused/);
    expect(failureLine({ name: 'CredentialsProviderError', message: 'Could not load credentials' })).toMatch(
      /^no AWS credentials/,
    );
    expect(failureLine({ name: 'Error', message: 'Region is missing' })).toMatch(/^no AWS region/);
    expect(failureLine({ name: 'Error', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' })).toMatch(
      /^cannot reach CloudWatch/,
    );
    expect(failureLine({ name: 'InternalFailure', httpStatus: 500, message: 'boom\nagain' })).toBe(
      'CloudWatch GetMetricData failed (InternalFailure: boom again)',
    );
  });
});
