// The cross-check with CloudWatch's MetadataNoToken: the period-by-period comparison, what a
// disagreement does to the verdict (a YES becomes UNKNOWN naming the periods, a NO stays NO),
// what a verdict line's listed periods allow, and the one line each failure to read gives.
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReportBuilder } from '../../src/logic/report/aggregate.js';
import {
  compareHost,
  crossCheckSentence,
  FIVE_MINUTE_RETENTION_MS,
  failureLine,
  type LogTokenless,
  METRIC_NAME,
} from '../../src/logic/report/cross-check.js';
import type { CrossCheck } from '../../src/logic/report/schema.js';
import { PERIOD_MS, TokenlessCounts } from '../../src/logic/report/tokenless.js';
import { tokenlessOfVerdict, verdictFields } from '../../src/logic/report/verdict-line.js';
import type { StoredLineOf } from '../../src/model/stored-line.js';

const T0 = Date.parse('2026-11-01T00:00:00Z');
const NOW = T0 + 2 * 86400_000;
const ID = 'i-0123456789abcdef0';

function log(periods: Array<[number, number]>, fromMs = T0, toMs = T0 + 3600_000): LogTokenless {
  return { host: ID, instanceId: ID, fromMs, toMs, periods: new Map(periods), exactFromMs: fromMs, earlierTotal: 0 };
}

describe('compareHost', () => {
  it('agrees when CloudWatch counts what the log counts, period by period', () => {
    const check = compareHost(log([[T0 + PERIOD_MS, 3]]), [[T0 + PERIOD_MS, 3]], NOW);
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
    );
    expect(check).toMatchObject({ result: 'agrees', fewer_in_cloudwatch: 1, cloudwatch_total: 1 });
  });

  it('a host without an instance id, or a window older than CloudWatch keeps, is not checked', () => {
    expect(compareHost({ ...log([]), instanceId: null }, [], NOW).result).toBe('not_checked');
    const old = log([], T0, T0 + 3600_000);
    expect(compareHost(old, [], T0 + FIVE_MINUTE_RETENTION_MS + 2 * 3600_000)).toMatchObject({
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
          const check = compareHost(log(logged, T0, T0 + (periods - 1) * PERIOD_MS), cloudwatch, NOW);
          const more = counts.flatMap((n, i) => (Math.max(0, n + (deltas[i] ?? 0)) > n ? [i] : []));
          expect(check.more_in_cloudwatch.map((d) => (Date.parse(d.from) - T0) / PERIOD_MS)).toEqual(more);
          expect(check.result).toBe(more.length > 0 ? 'disagrees' : 'agrees');
          expect(check.periods).toBe(periods);
        },
      ),
    );
  });
});

describe('tokenlessOfVerdict', () => {
  const line = (periods: Array<{ start: string; count: number }>, total: number) =>
    ({
      time: T0 + 3600_000,
      instance_id: ID,
      hostname: 'h',
      event: 'verdict',
      window: { from: new Date(T0).toISOString(), to: new Date(T0 + 3600_000).toISOString(), seconds: 3600, boots: 1 },
      tokenless_ok: total,
      tokenless_ok_periods: periods,
    }) as unknown as StoredLineOf<'verdict'>;

  it('complete periods are compared one by one over the whole window', () => {
    const evidence = tokenlessOfVerdict(line([{ start: '2026-11-01T00:30:00.000Z', count: 2 }], 2), ID);
    expect(compareHost(evidence, [[T0 + 6 * PERIOD_MS, 2]], NOW).result).toBe('agrees');
    expect(compareHost(evidence, [[T0 + PERIOD_MS, 1]], NOW).more_in_cloudwatch[0]?.from).toBe(
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
      ).result,
    ).toBe('agrees');
    const more = compareHost(
      evidence,
      [
        [T0, 4],
        [T0 + 6 * PERIOD_MS, 2],
      ],
      NOW,
    ).more_in_cloudwatch;
    expect(more).toEqual([{ from: '2026-11-01T00:00:00.000Z', to: '2026-11-01T00:30:00.000Z', cloudwatch: 4, log: 3 }]);
  });

  it('a verdict line without tokenless counts (an older daemon) is not checked', () => {
    const { tokenless_ok: _, ...older } = line([], 0) as unknown as Record<string, unknown>;
    const evidence = tokenlessOfVerdict(older as unknown as StoredLineOf<'verdict'>, ID);
    expect(compareHost(evidence, [[T0, 1]], NOW).result).toBe('not_checked');
  });
});

describe('the verdict with the cross-check', () => {
  const base = { hostname: 'h', instance_id: ID, boot_id: 'b', pid: 7 };
  function builderWith(v1Status: number | null): ReportBuilder {
    const builder = new ReportBuilder({ minObservedMs: 0 });
    builder.add({ ...base, time: T0, event: 'ready', uptime_ms: 5000 } as never);
    if (v1Status !== null)
      builder.add({
        ...base,
        time: T0 + 60_000,
        event: 'imds_request',
        imds_version: 'v1',
        aws_api: true,
        process: { argv: ['/usr/bin/curl'], exe: '/usr/bin/curl' },
        response: { status: v1Status },
      } as never);
    builder.add({ ...base, time: T0 + 3600_000, event: 'stats' } as never);
    return builder;
  }
  const checked = (builder: ReportBuilder, points: Array<[number, number]>): CrossCheck => {
    const hosts = builder.tokenlessEvidence().map((e) => compareHost(e, points, NOW));
    return { source: 'cloudwatch', metric: METRIC_NAME, status: 'checked', note: null, hosts };
  };

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
    const evidence = tokenlessOfVerdict({ ...base, time: T0, ...fields } as unknown as StoredLineOf<'verdict'>, ID);
    expect(compareHost(evidence, [[T0, 1]], NOW).result).toBe('agrees');
    expect(compareHost(evidence, [[T0, 2]], NOW).result).toBe('disagrees');
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
