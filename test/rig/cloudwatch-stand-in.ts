// A CloudWatch stand-in for the cross-check's tests: GetMetricData as the AWS SDK for
// JavaScript v3 speaks it (AWS JSON 1.0: POST /, X-Amz-Target
// GraniteServiceVersion20100801.GetMetricData, epoch-second timestamps; errors as `__type`
// and the query-compatible x-amzn-query-error header). It serves MetadataNoToken sums from
// its configuration, pages answers with NextToken, and can answer every call with
// throttling or a refusal. Like CloudWatch, it keeps an instance's metrics in one region: the
// region a call is for is the one its SigV4 signature's credential scope names
// (`Credential=AKID/DATE/REGION/monitoring/aws4_request`), and an instance placed in another
// region has no data there. It runs as its own process inside a test network namespace:
//   node cloudwatch-stand-in.js --config '<json>'   (prints "listening" once it is)
// and writes every call it got, one JSON line each, to the configuration's requestLog.
import { appendFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';

export interface StandInConfig {
  listen: string;
  port: number;
  /** ok: serve the points; throttle: 400 Throttling; deny: 403 AccessDenied. */
  mode: 'ok' | 'throttle' | 'deny';
  /** Per instance id: [epoch ms, value] data points (5-minute sums). */
  points: Record<string, Array<[number, number]>>;
  /** The region each instance's points are in; an instance not listed has them in every region. */
  placement?: Record<string, string>;
  /** Regions that refuse every call (403 AccessDenied), as an SCP denying a region would. */
  deniedRegions?: string[];
  /** Data points per answer before a NextToken (CloudWatch's own limit is 100,800). */
  pointsPerPage: number;
  requestLog: string;
  /** The access key id a call must be signed with. */
  accessKeyId: string;
}

/** One call as the stand-in saw it, for the test's assertions. */
export interface StandInCall {
  target: string;
  signedWith: string | null;
  /** The region of the signature's credential scope: the region the client was asked for. */
  region: string | null;
  instanceIds: string[];
  startTime: number;
  endTime: number;
  period: number | null;
  nextToken: string | null;
}

const TARGET = 'GraniteServiceVersion20100801.GetMetricData';

interface Query {
  Id: string;
  MetricStat?: {
    Metric?: { Namespace?: string; MetricName?: string; Dimensions?: Array<{ Name: string; Value: string }> };
    Period?: number;
    Stat?: string;
  };
}

function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': 'stand-in',
    ...headers,
  });
  res.end(text);
}

function refuse(res: ServerResponse, status: number, code: string, message: string): boolean {
  answer(res, status, { __type: code, message }, { 'x-amzn-query-error': `${code};Sender` });
  return false;
}

/** Epoch seconds (the JSON protocol's timestamps) or an ISO string, as ms. */
const timeMs = (value: unknown): number => (typeof value === 'number' ? value * 1000 : Date.parse(String(value)));

/** Answers one call; the reply it sent (the return value only ends the function early). */
function serve(config: StandInConfig, body: string, req: IncomingMessage, res: ServerResponse): boolean {
  const target = String(req.headers['x-amz-target'] ?? '');
  const scope = /Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/monitoring\/aws4_request/.exec(
    String(req.headers.authorization ?? ''),
  );
  const signedWith = scope?.[1] ?? null;
  const region = scope?.[3] ?? null;
  let input: { MetricDataQueries?: Query[]; StartTime?: unknown; EndTime?: unknown; NextToken?: string };
  try {
    input = JSON.parse(body) as typeof input;
  } catch {
    return refuse(res, 400, 'SerializationException', 'not JSON');
  }
  const queries = input.MetricDataQueries ?? [];
  const call: StandInCall = {
    target,
    signedWith,
    region,
    instanceIds: queries.map(
      (q) => q.MetricStat?.Metric?.Dimensions?.find((d) => d.Name === 'InstanceId')?.Value ?? '',
    ),
    startTime: timeMs(input.StartTime),
    endTime: timeMs(input.EndTime),
    period: queries[0]?.MetricStat?.Period ?? null,
    nextToken: input.NextToken ?? null,
  };
  appendFileSync(config.requestLog, `${JSON.stringify(call)}\n`);
  if (target !== TARGET) return refuse(res, 400, 'UnknownOperationException', target);
  if (signedWith !== config.accessKeyId) return refuse(res, 403, 'InvalidClientTokenId', 'unknown access key');
  if (config.mode === 'throttle') return refuse(res, 400, 'Throttling', 'Rate exceeded');
  if (config.mode === 'deny' || (region !== null && config.deniedRegions?.includes(region)))
    return refuse(res, 403, 'AccessDenied', 'User is not authorized to perform: cloudwatch:GetMetricData');
  if (queries.length > 500) return refuse(res, 400, 'InvalidParameterValue', 'more than 500 queries');
  const bad = queries.find(
    (q) =>
      q.MetricStat?.Metric?.Namespace !== 'AWS/EC2' ||
      q.MetricStat.Metric.MetricName !== 'MetadataNoToken' ||
      q.MetricStat.Stat !== 'Sum' ||
      !/^[a-z][a-zA-Z0-9_]*$/.test(q.Id),
  );
  if (bad) return refuse(res, 400, 'InvalidParameterValue', `unexpected query ${JSON.stringify(bad)}`);
  // All points of all queries in order, one page at a time from the token's offset.
  const here = (id: string) => (config.placement?.[id] ?? region) === region;
  const all = queries.flatMap((q, i) =>
    (here(call.instanceIds[i] ?? '') ? (config.points[call.instanceIds[i] ?? ''] ?? []) : [])
      .filter(([t]) => t >= call.startTime && t < call.endTime)
      .map(([t, v]) => ({ id: q.Id, t, v })),
  );
  const from = Number(input.NextToken ?? 0);
  const page = all.slice(from, from + config.pointsPerPage);
  const results = queries.map((q) => {
    const mine = page.filter((p) => p.id === q.Id);
    return {
      Id: q.Id,
      Label: 'MetadataNoToken',
      Timestamps: mine.map((p) => p.t / 1000),
      Values: mine.map((p) => p.v),
      StatusCode: from + config.pointsPerPage < all.length ? 'PartialData' : 'Complete',
    };
  });
  const next = from + config.pointsPerPage < all.length ? String(from + config.pointsPerPage) : undefined;
  answer(res, 200, { MetricDataResults: results, Messages: [], ...(next ? { NextToken: next } : {}) });
  return true;
}

function main(): void {
  const { values } = parseArgs({ options: { config: { type: 'string' } } });
  const config = JSON.parse(values.config ?? '{}') as StandInConfig;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => serve(config, Buffer.concat(chunks).toString('utf8'), req, res));
  });
  server.listen(config.port, config.listen, () => process.stdout.write('listening\n'));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

if (process.argv[1]?.endsWith('cloudwatch-stand-in.js')) main();
