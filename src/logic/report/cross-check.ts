// The cross-check with CloudWatch: AWS counts, per instance, the tokenless requests IMDS
// answered (AWS/EC2 MetadataNoToken); the log counts the IMDSv1 requests it saw answered
// 2xx. Compared period by period over the window the log covers: CloudWatch counting more
// in a period means a caller the daemon did not see. CloudWatch counting less is its
// publishing delay (or a period at the window's edge) and proves nothing either way.
// CloudWatch keeps an instance's metrics in the instance's own region: each host is asked
// there, and no data at all over a window is no evidence (the wrong region looks the same),
// never an agreement.
import { plural } from './duration.js';
import type { CrossCheck, HostCrossCheck, PeriodDisagreement } from './schema.js';
import { PERIOD_MS, periodStart } from './tokenless.js';

export const METRIC = { namespace: 'AWS/EC2', name: 'MetadataNoToken', dimension: 'InstanceId' } as const;
/** How long CloudWatch keeps 5-minute data points; older periods cannot be compared. */
export const FIVE_MINUTE_RETENTION_MS = 63 * 86400_000;
/** Periods named one by one in a reason; the rest are counted. */
const MAX_PERIODS_NAMED = 5;

/** What one host's log says about its tokenless 2xx requests. */
export interface LogTokenless {
  host: string;
  instanceId: string | null;
  /** The region its lines name (cloud-init's, recorded by the daemon), if any. */
  region: string | null;
  /** The window the host's log covers. */
  fromMs: number;
  toMs: number;
  /** Counts per period start, exact from `exactFromMs` on (a period not listed had none). */
  periods: ReadonlyMap<number, number>;
  /** Periods before this are known only as `earlierTotal` (a verdict line lists the latest ones). */
  exactFromMs: number;
  earlierTotal: number;
  /** Why the log's counts are not known (nothing to compare), if they are not. */
  missing?: string;
}

/** CloudWatch's data points for one instance: [period start ms, Sum]. */
export type MetricPoints = ReadonlyArray<readonly [number, number]>;

/** Where the region a host was asked in came from: its lines, the SDK's configuration, or IMDS on this instance. */
export type RegionSource = 'log' | 'sdk' | 'imds';

/** The region a host is asked in. */
export interface AskedRegion {
  region: string;
  from: RegionSource;
}

/** Fallbacks for a host whose lines name no region. */
export interface RegionFallbacks {
  /** The SDK's configured region (AWS_REGION, the profile's). */
  configured: string | null;
  /** This instance's own id and region, from IMDS, if asked. */
  local?: { instanceId: string; region: string } | null;
}

export const METRIC_NAME = `${METRIC.namespace} ${METRIC.name}`;

const iso = (ms: number) => new Date(ms).toISOString();

/** The period starts CloudWatch is asked for: the window, within what it still keeps. */
export function comparedSpan(log: LogTokenless, nowMs: number): { fromMs: number; toMs: number } | null {
  const fromMs = periodStart(Math.max(log.fromMs, nowMs - FIVE_MINUTE_RETENTION_MS + PERIOD_MS));
  const toMs = periodStart(log.toMs);
  return toMs >= fromMs ? { fromMs, toMs } : null;
}

const OLDER_THAN_KEPT = 'its window is older than CloudWatch keeps 5-minute data';

/** Why CloudWatch cannot be asked about a host whatever the region, or null when it can. */
export function unaskable(log: LogTokenless, nowMs: number): string | null {
  if (log.instanceId === null) return 'no instance id in its lines (Xen or off EC2): CloudWatch cannot be asked';
  if (log.missing !== undefined) return log.missing;
  return comparedSpan(log, nowMs) === null ? OLDER_THAN_KEPT : null;
}

/** The region a host is asked in: its own, else the configured one, else this instance's when it is this instance. */
export function regionFor(log: LogTokenless, fallbacks: RegionFallbacks): AskedRegion | null {
  if (log.region !== null) return { region: log.region, from: 'log' };
  if (fallbacks.configured !== null) return { region: fallbacks.configured, from: 'sdk' };
  const local = fallbacks.local;
  return local && local.instanceId === log.instanceId ? { region: local.region, from: 'imds' } : null;
}

/**
 * The hosts CloudWatch can be asked about, grouped by the region each is asked in (one
 * client and its batched calls per region); a host with no region to ask in is in none.
 */
export function hostsByRegion(
  evidence: readonly LogTokenless[],
  fallbacks: RegionFallbacks,
  nowMs: number,
): Map<string, Array<{ log: LogTokenless; asked: AskedRegion }>> {
  const regions = new Map<string, Array<{ log: LogTokenless; asked: AskedRegion }>>();
  for (const log of evidence) {
    const asked = unaskable(log, nowMs) === null ? regionFor(log, fallbacks) : null;
    if (asked === null) continue;
    const list = regions.get(asked.region);
    if (list) list.push({ log, asked });
    else regions.set(asked.region, [{ log, asked }]);
  }
  return regions;
}

/** A host CloudWatch was not (or could not be) asked about, and why. */
export function notChecked(log: LogTokenless, note: string, asked: AskedRegion | null = null): HostCrossCheck {
  return {
    host: log.host,
    instance_id: log.instanceId,
    region: asked?.region ?? null,
    region_from: asked?.from ?? null,
    result: 'not_checked',
    periods: 0,
    cloudwatch_total: 0,
    log_total: 0,
    more_in_cloudwatch: [],
    fewer_in_cloudwatch: 0,
    note,
  };
}

export const NO_REGION_NOTE =
  "no region: its lines name none (no cloud-init instance data) and the SDK's configuration has none (AWS_REGION)";
/** The one line when no host has a region to be asked in. */
export const NO_REGION_LINE =
  "no AWS region (the log's lines name none, the SDK's configuration has none, and IMDS did not give this instance's); set AWS_REGION";

/** A region CloudWatch could not be read in: its failure line and how many hosts it leaves unchecked. */
export interface RegionFailure {
  region: string;
  line: string;
  hosts: number;
}

/**
 * The regions CloudWatch could not be read in, as one line: a failure every region shares
 * (no credentials, no network) is said once; others are named by region.
 */
export function regionFailuresLine(failures: readonly RegionFailure[], regionsAsked: number): string {
  const lines = new Set(failures.map((f) => f.line));
  if (failures.length === regionsAsked && lines.size === 1) return failures[0]?.line ?? '';
  return failures.map((f) => `in ${f.region} (${plural(f.hosts, 'host')} not checked): ${f.line}`).join('; ');
}

/** One host's log against CloudWatch's points in the region it was asked in, period by period. */
export function compareHost(
  log: LogTokenless,
  points: MetricPoints,
  nowMs: number,
  asked: AskedRegion,
): HostCrossCheck {
  const why = unaskable(log, nowMs);
  const span = comparedSpan(log, nowMs);
  if (why !== null || span === null) return notChecked(log, why ?? OLDER_THAN_KEPT);
  const base = {
    host: log.host,
    instance_id: log.instanceId,
    region: asked.region,
    region_from: asked.from,
    more_in_cloudwatch: [],
    fewer_in_cloudwatch: 0,
  };
  const cloudwatch = new Map<number, number>();
  for (const [t, value] of points) {
    const start = periodStart(t);
    if (start >= span.fromMs && start <= span.toMs) cloudwatch.set(start, (cloudwatch.get(start) ?? 0) + value);
  }
  const periods = (span.toMs - span.fromMs) / PERIOD_MS + 1;
  const more: PeriodDisagreement[] = [];
  let fewer = 0;
  let cloudwatchTotal = 0;
  let logTotal = 0;
  // Before the exactly known periods only the sum can be compared.
  const exactFrom = Math.min(Math.max(span.fromMs, periodStart(log.exactFromMs)), span.toMs + PERIOD_MS);
  if (exactFrom > span.fromMs) {
    let before = 0;
    for (let p = span.fromMs; p < exactFrom; p += PERIOD_MS) before += cloudwatch.get(p) ?? 0;
    cloudwatchTotal += before;
    logTotal += log.earlierTotal;
    if (before > log.earlierTotal)
      more.push({ from: iso(span.fromMs), to: iso(exactFrom), cloudwatch: before, log: log.earlierTotal });
    else if (before < log.earlierTotal) fewer++;
  }
  for (let p = exactFrom; p <= span.toMs; p += PERIOD_MS) {
    const seen = cloudwatch.get(p) ?? 0;
    const logged = log.periods.get(p) ?? 0;
    cloudwatchTotal += seen;
    logTotal += logged;
    if (seen > logged) more.push({ from: iso(p), to: iso(p + PERIOD_MS), cloudwatch: seen, log: logged });
    else if (seen < logged) fewer++;
  }
  if (cloudwatch.size === 0)
    return {
      ...base,
      result: 'no_data',
      periods,
      cloudwatch_total: 0,
      log_total: logTotal,
      note:
        `CloudWatch has no ${METRIC_NAME} data for ${log.instanceId} in ${asked.region} over its window ` +
        '(an instance of another region, or one AWS published nothing for): no evidence either way, not counted as agreement',
    };
  const clipped = periodStart(log.fromMs) < span.fromMs;
  return {
    ...base,
    result: more.length > 0 ? 'disagrees' : 'agrees',
    periods,
    cloudwatch_total: cloudwatchTotal,
    log_total: logTotal,
    more_in_cloudwatch: more,
    fewer_in_cloudwatch: fewer,
    note: clipped ? `compared from ${iso(span.fromMs)}: CloudWatch keeps 5-minute data for 63 days` : null,
  };
}

/** The reason a disagreeing host is UNKNOWN, naming the periods. */
export function disagreementMessage(check: HostCrossCheck): string {
  const named = check.more_in_cloudwatch
    .slice(0, MAX_PERIODS_NAMED)
    .map((d) => `${d.from} .. ${d.to} (CloudWatch ${d.cloudwatch}, log ${d.log})`);
  const rest = check.more_in_cloudwatch.length - named.length;
  return (
    `CloudWatch's ${METRIC_NAME} counted more tokenless requests than the log saw in ` +
    `${plural(check.more_in_cloudwatch.length, 'period')}: ${named.join(', ')}${rest > 0 ? `, and ${rest} more` : ''}; ` +
    'a caller went unseen (a gap, another network namespace the daemon does not watch, or lost records): find it before the switch'
  );
}

/** What the hosts CloudWatch was asked about but has no data for, or that were not checked, add to a sentence. */
function uncompared(noData: number, unchecked: number): string {
  const parts = [
    ...(noData > 0 ? [`${plural(noData, 'host')} without CloudWatch data`] : []),
    ...(unchecked > 0 ? [`${plural(unchecked, 'host')} not checked`] : []),
  ];
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** One sentence on the cross-check for the verdict text: only hosts compared with data are credited. */
export function crossCheckSentence(check: CrossCheck): string {
  if (check.status === 'failed') return `CloudWatch cross-check not done: ${check.note ?? 'failed'}`;
  const compared = check.hosts.filter((h) => h.result === 'agrees' || h.result === 'disagrees');
  const disagree = compared.filter((h) => h.result === 'disagrees');
  const noData = check.hosts.filter((h) => h.result === 'no_data').length;
  const rest = uncompared(noData, check.hosts.length - compared.length - noData);
  const fleet = check.hosts.length > 1;
  if (compared.length === 0)
    return fleet
      ? `CloudWatch cross-check: no host compared${rest}`
      : `CloudWatch cross-check: not compared, ${check.hosts[0]?.note ?? 'no host'}`;
  if (disagree.length > 0)
    return `CloudWatch's ${METRIC_NAME} counted requests the log did not see${fleet ? ` on ${disagree.length} of ${compared.length} hosts compared${rest}` : ''}`;
  const periods = compared.reduce((n, h) => n + h.periods, 0);
  const regions = new Set(compared.map((h) => h.region));
  const where = fleet
    ? ` on ${plural(compared.length, 'host')} in ${plural(regions.size, 'region')}`
    : ` (asked in ${compared[0]?.region})`;
  return `CloudWatch's ${METRIC_NAME} agrees with the log over ${plural(periods, '5-minute period')}${where}${rest}`;
}

export interface FailureFacts {
  name?: string;
  code?: string;
  httpStatus?: number;
  message: string;
}

/**
 * Why CloudWatch could not be read, as the one line the report prints: the verdict stands
 * on the log alone. The SDK's errors carry a name (the service's error code), sometimes an
 * errno code, and the HTTP status.
 */
export function failureLine(err: FailureFacts): string {
  const name = err.name ?? '';
  const code = err.code ?? '';
  const why = `${name || code || 'error'}: ${err.message}`.replace(/\s*\n\s*/g, ' ');
  if (/Throttl|TooManyRequests|RequestLimitExceeded/.test(name) || err.httpStatus === 429)
    return `CloudWatch throttled GetMetricData (${why}); try again later`;
  if (
    /AccessDenied|UnauthorizedOperation|InvalidClientTokenId|UnrecognizedClient|ExpiredToken|SignatureDoesNotMatch/.test(
      name,
    ) ||
    err.httpStatus === 403
  )
    return `CloudWatch refused GetMetricData (${why}); the credentials need cloudwatch:GetMetricData`;
  if (name === 'CredentialsProviderError')
    return `no AWS credentials (${err.message}); on an instance its role, elsewhere a profile or AWS_ACCESS_KEY_ID`;
  if (/Region is missing|region/i.test(err.message) && name !== 'InvalidParameterValue')
    return `no AWS region (${err.message}); set AWS_REGION`;
  if (
    /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$/.test(code) ||
    /TimeoutError|NetworkingError/.test(name)
  )
    return `cannot reach CloudWatch (${why})`;
  return `CloudWatch GetMetricData failed (${why})`;
}
