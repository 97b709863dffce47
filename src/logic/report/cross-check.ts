// The cross-check with CloudWatch: AWS counts, per instance, the tokenless requests IMDS
// answered (AWS/EC2 MetadataNoToken); the log counts the IMDSv1 requests it saw answered
// 2xx. Compared period by period over the window the log covers: CloudWatch counting more
// in a period means a caller the daemon did not see. CloudWatch counting less is its
// publishing delay (or a period at the window's edge) and proves nothing either way.
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

export const METRIC_NAME = `${METRIC.namespace} ${METRIC.name}`;

const iso = (ms: number) => new Date(ms).toISOString();

/** The period starts CloudWatch is asked for: the window, within what it still keeps. */
export function comparedSpan(log: LogTokenless, nowMs: number): { fromMs: number; toMs: number } | null {
  const fromMs = periodStart(Math.max(log.fromMs, nowMs - FIVE_MINUTE_RETENTION_MS + PERIOD_MS));
  const toMs = periodStart(log.toMs);
  return toMs >= fromMs ? { fromMs, toMs } : null;
}

/** One host's log against CloudWatch's points, period by period. */
export function compareHost(log: LogTokenless, points: MetricPoints, nowMs: number): HostCrossCheck {
  const base = { host: log.host, instance_id: log.instanceId, more_in_cloudwatch: [], fewer_in_cloudwatch: 0 };
  const span = comparedSpan(log, nowMs);
  if (log.instanceId === null || span === null || log.missing !== undefined) {
    return {
      ...base,
      result: 'not_checked',
      periods: 0,
      cloudwatch_total: 0,
      log_total: 0,
      note:
        log.instanceId === null
          ? 'no instance id in its lines (Xen or off EC2): CloudWatch cannot be asked'
          : (log.missing ?? 'its window is older than CloudWatch keeps 5-minute data'),
    };
  }
  const cloudwatch = new Map<number, number>();
  for (const [t, value] of points) {
    const start = periodStart(t);
    if (start >= span.fromMs && start <= span.toMs) cloudwatch.set(start, (cloudwatch.get(start) ?? 0) + value);
  }
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
  const clipped = periodStart(log.fromMs) < span.fromMs;
  return {
    ...base,
    result: more.length > 0 ? 'disagrees' : 'agrees',
    periods: (span.toMs - span.fromMs) / PERIOD_MS + 1,
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

/** One sentence on the cross-check for the verdict text. */
export function crossCheckSentence(check: CrossCheck): string {
  if (check.status === 'failed') return `CloudWatch cross-check not done: ${check.note ?? 'failed'}`;
  const checked = check.hosts.filter((h) => h.result !== 'not_checked');
  const disagree = checked.filter((h) => h.result === 'disagrees');
  const periods = checked.reduce((n, h) => n + h.periods, 0);
  const of = check.hosts.length > 1 ? ` on ${disagree.length} of ${checked.length} hosts checked` : '';
  if (checked.length === 0)
    return `CloudWatch cross-check: no host could be checked (${check.hosts[0]?.note ?? 'no host'})`;
  if (disagree.length > 0) return `CloudWatch's ${METRIC_NAME} counted requests the log did not see${of}`;
  const hosts = check.hosts.length > 1 ? ` on ${plural(checked.length, 'host')}` : '';
  const unchecked = check.hosts.length - checked.length;
  return (
    `CloudWatch's ${METRIC_NAME} agrees with the log over ${plural(periods, '5-minute period')}${hosts}` +
    (unchecked > 0 ? ` (${plural(unchecked, 'host')} not checked)` : '')
  );
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
