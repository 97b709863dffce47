// `report --cross-check cloudwatch`: each host's AWS/EC2 MetadataNoToken over the window its
// log covers, read with GetMetricData in the host's own region (one client per region, many
// instances per call), compared period by period with the log (../logic/report/cross-check.ts).
// The AWS SDK is imported here and only when the cross-check is asked for: the daemon and
// every other report never load it, and the bundle leaves it out (scripts/bundle.mjs).
// Credentials and endpoint come from the SDK's own chain (an instance's role through IMDSv2,
// AWS_ENDPOINT_URL_CLOUDWATCH); the region from the host's lines, else the SDK's (AWS_REGION,
// the profile), else IMDS for this very instance (imds-placement.ts).
import type { CloudWatchClient, MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import {
  compareHost,
  comparedSpan,
  type FailureFacts,
  failureLine,
  hostsByRegion,
  type LogTokenless,
  METRIC,
  METRIC_NAME,
  NO_REGION_LINE,
  NO_REGION_NOTE,
  notChecked,
  type RegionFailure,
  type RegionFallbacks,
  regionFailuresLine,
  unaskable,
} from '../logic/report/cross-check.js';
import type { CrossCheck, HostCrossCheck } from '../logic/report/schema.js';
import { PERIOD_MS } from '../logic/report/tokenless.js';
import { localPlacement } from './imds-placement.js';

/** GetMetricData's limit of queries in one call. */
export const MAX_QUERIES_PER_CALL = 500;
const CONNECT_TIMEOUT_MS = 5000;
const REQUEST_TIMEOUT_MS = 30_000;

const SDK_NOT_INSTALLED = 'SdkNotInstalled';

type Sdk = typeof import('@aws-sdk/client-cloudwatch');

async function loadSdk(): Promise<Sdk> {
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

function clientOf(sdk: Sdk, region?: string): CloudWatchClient {
  return new sdk.CloudWatchClient({
    ...(region ? { region } : {}),
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
  });
}

/** The SDK's configured region (AWS_REGION, the profile's), or null when it has none. */
async function configuredRegion(sdk: Sdk): Promise<string | null> {
  const client = clientOf(sdk);
  try {
    return await client.config.region();
  } catch {
    return null;
  } finally {
    client.destroy();
  }
}

/** MetadataNoToken's 5-minute sums for each host of one region, [period start ms, sum], many hosts per call. */
async function readPoints(
  client: CloudWatchClient,
  sdk: Sdk,
  hosts: LogTokenless[],
  nowMs: number,
): Promise<Map<string, Array<[number, number]>>> {
  const points = new Map<string, Array<[number, number]>>();
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
        new sdk.GetMetricDataCommand({
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
  return points;
}

/** What one region gave: each of its hosts' points, or why it could not be read. */
type RegionRead = { points: Map<string, Array<[number, number]>> } | { failure: FailureFacts };

async function readRegion(sdk: Sdk, region: string, hosts: LogTokenless[], nowMs: number): Promise<RegionRead> {
  const client = clientOf(sdk, region);
  try {
    return { points: await readPoints(client, sdk, hosts, nowMs) };
  } catch (err) {
    return { failure: factsOf(err) };
  } finally {
    client.destroy();
  }
}

/** Where hosts whose lines name no region are asked: the SDK's region, else (only then) IMDS for this instance. */
async function fallbacksFor(sdk: Sdk, evidence: LogTokenless[], nowMs: number): Promise<RegionFallbacks> {
  const configured = await configuredRegion(sdk);
  const needsOne = evidence.some((h) => h.region === null && unaskable(h, nowMs) === null);
  return { configured, local: configured === null && needsOne ? await localPlacement() : null };
}

/**
 * The cross-check of every host against CloudWatch, each in its own region. A failure to read
 * CloudWatch (throttling, a missing permission, no network, credentials or region, no SDK) is
 * the result's note, and the verdict then stands on the log alone; a region that fails while
 * others are read leaves its hosts not checked, and the note names it.
 */
export async function crossCheckCloudWatch(evidence: LogTokenless[], nowMs: number): Promise<CrossCheck> {
  const base = { source: 'cloudwatch', metric: METRIC_NAME } as const;
  const failed = (note: string): CrossCheck => ({ ...base, status: 'failed', note, hosts: [] });
  const results = new Map<LogTokenless, HostCrossCheck>();
  let note: string | null = null;
  if (evidence.some((h) => unaskable(h, nowMs) === null)) {
    // Under Node.js 20 the SDK warns on stderr, in ten lines, about its releases to come (not
    // about this run): the report's stderr keeps to its one line per failure.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    let sdk: Sdk;
    try {
      sdk = await loadSdk();
    } catch (err) {
      const facts = factsOf(err);
      return failed(facts.name === SDK_NOT_INSTALLED ? facts.message : failureLine(facts));
    }
    const regions = hostsByRegion(evidence, await fallbacksFor(sdk, evidence, nowMs), nowMs);
    if (regions.size === 0) return failed(NO_REGION_LINE);
    const failures: RegionFailure[] = [];
    for (const [region, hosts] of regions) {
      const read = await readRegion(
        sdk,
        region,
        hosts.map((h) => h.log),
        nowMs,
      );
      if ('failure' in read) {
        const line = failureLine(read.failure);
        failures.push({ region, line, hosts: hosts.length });
        for (const { log, asked } of hosts)
          results.set(log, notChecked(log, `CloudWatch could not be read in ${region}: ${line}`, asked));
      } else
        for (const { log, asked } of hosts)
          results.set(log, compareHost(log, read.points.get(log.instanceId ?? '') ?? [], nowMs, asked));
    }
    if (failures.length === regions.size) return failed(regionFailuresLine(failures, regions.size));
    if (failures.length > 0) note = `CloudWatch could not be read ${regionFailuresLine(failures, regions.size)}`;
  }
  return {
    ...base,
    status: 'checked',
    note,
    hosts: evidence.map((h) => results.get(h) ?? notChecked(h, unaskable(h, nowMs) ?? NO_REGION_NOTE)),
  };
}
