// The verdict line: one host's report in one log line, and back. The daemon writes it from
// the same ReportBuilder `report` uses; the report reads a host whose input holds nothing
// but verdict lines from its latest one. With an instance id the line is also an EMF
// document, so CloudWatch turns it into metrics per instance without a log query.
import type { VerdictFields } from '../../model/log-line.js';
import type { StoredLineOf } from '../../model/stored-line.js';
import type { Answer, HostVerdict, Reason, ReasonCode, Report } from './schema.js';
import { REASON_CODES } from './schema.js';
import type { LogTokenless } from './cross-check.js';
import { PERIOD_MS, periodStart, type TokenlessCounts } from './tokenless.js';

export const METRIC_NAMESPACE = 'IMDSAnalyzer';
export const VERDICT_VALUE: Record<Answer, number> = { YES: 0, NO: 1, UNKNOWN: 2 };
/** A verdict line names at most this many IMDSv1 programs (`programs` counts them all). */
export const MAX_VERDICT_PROGRAMS = 20;
/** The latest boots whose coverage a verdict line lists. */
export const MAX_VERDICT_BOOTS = 20;
/** The latest periods with tokenless requests a verdict line lists. */
export const MAX_TOKENLESS_PERIODS = 48;

export interface VerdictMeta {
  version: string;
  pid: number;
  instanceId: string | null;
  /** When the line is written (the EMF timestamp). */
  timeMs: number;
}

/** The EMF members: `_aws` and the dimension and metrics it names, at the line's root. */
export function emfMembers(
  instanceId: string,
  answer: Answer,
  imdsv1Requests: number,
  evidenceGaps: number,
  timeMs: number,
): Pick<VerdictFields, '_aws' | 'InstanceId' | 'Verdict' | 'IMDSv1Requests' | 'EvidenceGaps'> {
  return {
    _aws: {
      Timestamp: Math.round(timeMs),
      CloudWatchMetrics: [
        {
          Namespace: METRIC_NAMESPACE,
          // One dimension only: every distinct combination is a billed custom metric.
          Dimensions: [['InstanceId']],
          Metrics: [
            { Name: 'Verdict', Unit: 'None' },
            { Name: 'IMDSv1Requests', Unit: 'Count' },
            { Name: 'EvidenceGaps', Unit: 'Count' },
          ],
        },
      ],
    },
    InstanceId: instanceId,
    Verdict: VERDICT_VALUE[answer],
    IMDSv1Requests: imdsv1Requests,
    EvidenceGaps: evidenceGaps,
  };
}

/** The verdict line of a report over one host's lines (the daemon's own). */
export function verdictFields(report: Report, tokenless: TokenlessCounts, meta: VerdictMeta): VerdictFields {
  // One host: the report's own answer and reasons are the host's, plus what limited the input.
  const host = report.hosts.length === 1 ? report.hosts[0] : undefined;
  const { answer, reasons, imdsv1_requests: imdsv1Requests } = report.verdict;
  const programs = host?.imdsv1_programs ?? [];
  const gaps = reasons.filter((r) => r.code !== 'imdsv1_callers').length;
  const now = new Date(meta.timeMs).toISOString();
  const fields: VerdictFields = {
    event: 'verdict',
    version: meta.version,
    pid: meta.pid,
    answer,
    reasons,
    window: {
      from: host?.first_seen ?? now,
      to: host?.last_seen ?? now,
      seconds: host?.seconds ?? 0,
      boots: host?.boots ?? 0,
    },
    coverage: (host?.coverage ?? []).slice(-MAX_VERDICT_BOOTS),
    imdsv1_programs: programs.slice(0, MAX_VERDICT_PROGRAMS),
    programs: programs.length,
    imdsv1_requests: imdsv1Requests,
    evidence_gaps: gaps,
    tokenless_ok: tokenless.total,
    tokenless_ok_periods: tokenless
      .periods()
      .slice(-MAX_TOKENLESS_PERIODS)
      .map(([start, count]) => ({ start: new Date(start).toISOString(), count })),
  };
  return meta.instanceId === null
    ? fields
    : { ...fields, ...emfMembers(meta.instanceId, answer, imdsv1Requests, gaps, meta.timeMs) };
}

const isReasonCode = (code: string): code is ReasonCode => (REASON_CODES as readonly string[]).includes(code);

/** The host a stored verdict line speaks for (fields a line lacks count as nothing seen). */
export function hostVerdictOf(line: StoredLineOf<'verdict'>, key: string): HostVerdict {
  const window = line.window ?? {};
  const reasons: Reason[] = (line.reasons ?? []).map((r) => {
    const code = r.code ?? '';
    // A newer daemon's reason this report does not know is still missing evidence.
    return { code: isReasonCode(code) ? code : 'input_incomplete', message: r.message ?? code };
  });
  const programs = line.imdsv1_programs ?? [];
  const total = line.programs ?? programs.length;
  return {
    host: key,
    instance_id: line.instance_id ?? null,
    hostname: line.hostname ?? null,
    // A line without an answer proves nothing.
    verdict: line.answer ?? 'UNKNOWN',
    reasons:
      line.answer === undefined && reasons.length === 0
        ? [{ code: 'input_incomplete', message: 'a verdict line without an answer' }]
        : reasons,
    imdsv1_programs: total > programs.length ? [...programs, `(${total - programs.length} more)`] : programs,
    imdsv1_requests: line.imdsv1_requests ?? 0,
    boots: window.boots ?? 0,
    first_seen: window.from ?? new Date(line.time).toISOString(),
    last_seen: window.to ?? new Date(line.time).toISOString(),
    seconds: window.seconds ?? 0,
    coverage: (line.coverage ?? []).map((c) => ({
      boot_id: c.boot_id ?? '',
      from: c.from ?? '',
      to: c.to ?? '',
      seconds: c.seconds ?? 0,
      from_start: c.from_start ?? false,
      runs: Math.max(1, c.runs ?? 1),
      uncovered_gaps: c.uncovered_gaps ?? 0,
    })),
  };
}

/**
 * What a verdict line says of its host's tokenless 2xx requests: exact per period from the
 * earliest period it lists (a period not listed had none), only as a sum before that when
 * the listed periods do not add up to the total.
 */
export function tokenlessOfVerdict(line: StoredLineOf<'verdict'>, key: string): LogTokenless {
  const lineMs = line.time;
  const fromMs = Date.parse(line.window?.from ?? '');
  const toMs = Date.parse(line.window?.to ?? '');
  const periods = new Map<number, number>();
  for (const p of line.tokenless_ok_periods ?? []) {
    const start = Date.parse(p.start ?? '');
    if (!Number.isNaN(start)) periods.set(periodStart(start), (periods.get(periodStart(start)) ?? 0) + (p.count ?? 0));
  }
  const listed = [...periods.values()].reduce((n, c) => n + c, 0);
  const total = line.tokenless_ok;
  const window = {
    host: key,
    instanceId: line.instance_id ?? null,
    region: line.region ?? null,
    fromMs: Number.isNaN(fromMs) ? lineMs : fromMs,
    toMs: Number.isNaN(toMs) ? lineMs : toMs,
    periods,
  };
  if (total === undefined)
    return {
      ...window,
      exactFromMs: window.fromMs,
      earlierTotal: 0,
      missing: 'its verdict line has no tokenless counts (an older daemon)',
    };
  if (listed >= total) return { ...window, exactFromMs: window.fromMs, earlierTotal: 0 };
  const earliest = Math.min(...periods.keys(), periodStart(window.toMs) + PERIOD_MS);
  return { ...window, exactFromMs: earliest, earlierTotal: total - listed };
}
