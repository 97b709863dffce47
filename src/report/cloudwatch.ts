// `report --cross-check cloudwatch`: each host's AWS/EC2 MetadataNoToken over the window its
// log covers, read with GetMetricData (many instances per call), compared period by period
// with the log (../logic/report/cross-check.ts). The AWS SDK is imported here and only when
// the cross-check is asked for: the daemon and every other report never load it, and the
// bundle leaves it out (scripts/bundle.mjs). Credentials, region and endpoint come from the
// SDK's own chain (an instance's role through IMDSv2, AWS_REGION, AWS_ENDPOINT_URL_CLOUDWATCH).
import type { MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import {
  compareHost,
  comparedSpan,
  type FailureFacts,
  failureLine,
  type LogTokenless,
  METRIC,
  METRIC_NAME,
} from '../logic/report/cross-check.js';
import type { CrossCheck } from '../logic/report/schema.js';
import { PERIOD_MS } from '../logic/report/tokenless.js';

/** GetMetricData's limit of queries in one call. */
export const MAX_QUERIES_PER_CALL = 500;
const CONNECT_TIMEOUT_MS = 5000;
const REQUEST_TIMEOUT_MS = 30_000;

const SDK_NOT_INSTALLED = 'SdkNotInstalled';

async function loadSdk(): Promise<typeof import('@aws-sdk/client-cloudwatch')> {
  try {
    return await import('@aws-sdk/client-cloudwatch');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    const missing = new Error(
      'the cross-check needs @aws-sdk/client-cloudwatch, which the package does not ship: install it beside imds-analyzer (docs/fleet.md)',
    );
    missing.name = SDK_NOT_INSTALLED;
    throw missing;
  }
}

function factsOf(err: unknown): FailureFacts {
  const e = err as { name?: unknown; code?: unknown; message?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const status = e.$metadata?.httpStatusCode;
  return {
    ...(typeof e.name === 'string' ? { name: e.name } : {}),
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(typeof status === 'number' ? { httpStatus: status } : {}),
    message: typeof e.message === 'string' ? e.message : String(err),
  };
}

/** MetadataNoToken's 5-minute sums for each host, [period start ms, sum], many hosts per call. */
async function readPoints(hosts: LogTokenless[], nowMs: number): Promise<Map<string, Array<[number, number]>>> {
  const points = new Map<string, Array<[number, number]>>();
  if (hosts.length === 0) return points;
  // Under Node.js 20 the SDK warns on stderr, in ten lines, about its releases to come (not
  // about this run): the report's stderr keeps to its one line per failure.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { CloudWatchClient, GetMetricDataCommand } = await loadSdk();
  const client = new CloudWatchClient({
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
  });
  try {
    for (let first = 0; first < hosts.length; first += MAX_QUERIES_PER_CALL) {
      const batch = hosts.slice(first, first + MAX_QUERIES_PER_CALL);
      const spans = batch.map((h) => comparedSpan(h, nowMs) ?? { fromMs: h.fromMs, toMs: h.toMs });
      const queries: MetricDataQuery[] = batch.map((h, i) => ({
        Id: `q${i}`,
        MetricStat: {
          Metric: {
            Namespace: METRIC.namespace,
            MetricName: METRIC.name,
            Dimensions: [{ Name: METRIC.dimension, Value: h.instanceId ?? '' }],
          },
          Period: PERIOD_MS / 1000,
          Stat: 'Sum',
        },
        ReturnData: true,
      }));
      const startTime = new Date(Math.min(...spans.map((s) => s.fromMs)));
      const endTime = new Date(Math.max(...spans.map((s) => s.toMs)) + PERIOD_MS);
      let nextToken: string | undefined;
      do {
        const page = await client.send(
          new GetMetricDataCommand({
            MetricDataQueries: queries,
            StartTime: startTime,
            EndTime: endTime,
            ScanBy: 'TimestampAscending',
            ...(nextToken ? { NextToken: nextToken } : {}),
          }),
        );
        for (const result of page.MetricDataResults ?? []) {
          const host = batch[Number(result.Id?.slice(1))];
          if (!host?.instanceId) continue;
          const values = result.Values ?? [];
          const list = points.get(host.instanceId) ?? [];
          for (const [i, t] of (result.Timestamps ?? []).entries()) list.push([t.getTime(), values[i] ?? 0]);
          points.set(host.instanceId, list);
        }
        nextToken = page.NextToken;
      } while (nextToken);
    }
  } finally {
    client.destroy();
  }
  return points;
}

/**
 * The cross-check of every host against CloudWatch. A failure to read CloudWatch (throttling,
 * a missing permission, no network or credentials, no SDK) is the result's note: the verdict
 * then stands on the log alone.
 */
export async function crossCheckCloudWatch(evidence: LogTokenless[], nowMs: number): Promise<CrossCheck> {
  const base = { source: 'cloudwatch', metric: METRIC_NAME } as const;
  const askable = evidence.filter((h) => h.instanceId !== null && !h.missing && comparedSpan(h, nowMs) !== null);
  let points: Map<string, Array<[number, number]>>;
  try {
    points = await readPoints(askable, nowMs);
  } catch (err) {
    const facts = factsOf(err);
    return {
      ...base,
      status: 'failed',
      note: facts.name === SDK_NOT_INSTALLED ? facts.message : failureLine(facts),
      hosts: [],
    };
  }
  return {
    ...base,
    status: 'checked',
    note: null,
    hosts: evidence.map((h) => compareHost(h, (h.instanceId && points.get(h.instanceId)) || [], nowMs)),
  };
}
