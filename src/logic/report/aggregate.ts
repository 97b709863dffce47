// Turns log lines (already parsed, from any number of files and hosts) into the
// migration report: IMDSv1 callers grouped by what an operator fixes, and the verdict,
// per host and over all of them. Pure: lines go in one at a time (memory grows with
// groups, hosts and daemon runs, not with lines). Logs written before redaction existed
// may hold secrets: what the report shows is redacted again.
import {
  type CorruptLine,
  readStoredLine,
  readStoredLineByZod,
  type StoredLineOf,
  type StoredLogLine,
  messageOf,
  storedLineTemplates,
} from '../../model/stored-line.js';
import type { Projection } from '../../model/line-scanner.js';
import { adviceFor } from '../advice.js';
import { VERDICT_EXIT } from '../exit-status.js';
import { redactLine } from '../redact.js';
import type { SdkInfo } from '../sdk.js';
import { type CanaryPartial, CanaryEvidence } from './canary-section.js';
import { formatDuration, plural } from './duration.js';
import {
  DEFAULT_MIN_OBSERVED_MS,
  type EvidenceRules,
  HostEvidence,
  imdsv1Callers,
  kindOf,
  summaryKindOf,
  summarySpan,
} from './host-evidence.js';
import { countPath, emptyPathCounts, mergePathCounts, type PathCounts } from './path-counts.js';
import { IsoTimes } from './iso-time.js';
import { type Caller, ProgramIdentities, UNKNOWN_PROCESS } from './program.js';
import type { Answer, CallerGroup, CrossCheck, HostVerdict, Reason, ReasonCode, Report } from './schema.js';
import { TokenlessCounts } from './tokenless.js';
import { hostVerdictOf, tokenlessOfVerdict } from './verdict-line.js';
import { crossCheckSentence, disagreementMessage, type LogTokenless } from './cross-check.js';

export interface ReportFilters {
  sinceMs?: number;
  untilMs?: number;
  /** A host name or instance id. */
  host?: string;
  includeV2?: boolean;
}

export interface ReportOptions extends ReportFilters {
  /** The window a YES needs on each host (--min-observed); default 24 h. */
  minObservedMs?: number;
  /** Drop the "a boot seen from its start" condition (--allow-no-boot). */
  allowNoBoot?: boolean;
  /** Check every line with zod alone, without the fast path: the reference the fast path is tested against. */
  zodOnly?: boolean;
}

const HOUR_MS = 3600_000;
const ANSWER_ORDER: Record<Answer, number> = { NO: 0, UNKNOWN: 1, YES: 2 };
/** How the verdict sentence names each missing condition (the reasons say what to do). */
const SHORT: Record<ReasonCode, string> = {
  imdsv1_callers: 'IMDSv1 callers',
  no_lines: 'no log line',
  input_incomplete: 'files not read to their end',
  unreadable_lines: 'unreadable lines that may be requests',
  no_daemon_start: 'no daemon start seen',
  no_boot_from_start: 'no boot seen from its start',
  late_start: 'a boot not seen from its start',
  uncovered_restart: 'a restart without capture',
  boot_end_unseen: 'the end of a boot not seen',
  short_window: 'window too short',
  events_lost: 'records lost (ring buffer)',
  perf_buffer_lost: 'records lost (perf buffer)',
  decode_errors: 'records not decoded',
  record_errors: 'records not handled',
  drain_errors: 'buffer drains failed',
  parse_errors: 'packets not parsed',
  responses_unmatched: 'responses without their request',
  stream_holes: 'holes in request streams',
  lines_not_written: 'log lines not written',
  unclassified_requests: 'unclassified requests',
  evidence_rotated_out: 'log lines rotated out or deleted',
  summaries_lost: 'summary counts lost in a crash',
  cloudwatch_disagrees: "CloudWatch's MetadataNoToken counted more",
};

/** A host's latest verdict line and its time. */
interface LatestVerdict {
  t: number;
  line: StoredLineOf<'verdict'>;
}

/** What a reader of part of the input hands over (ReportBuilder.takePartial). */
export interface ReportPartial {
  groups: Map<string, GroupState>;
  hosts: Map<string, HostEvidence>;
  verdicts: Map<string, LatestVerdict>;
  /** Tokenless 2xx requests per host: [period start, count] (plain data: it crosses to workers). */
  tokenless: Map<string, Array<[number, number]>>;
  canaries: CanaryPartial;
  unreadable: string[];
  lines: number;
  corrupt: number;
  unreadableWithoutHost: number;
  files: number;
}

interface GroupState
  extends Omit<CallerGroup, 'hosts' | 'paths' | 'paths_unlisted' | 'first_seen' | 'last_seen' | 'advice' | 'timeline'> {
  hosts: Set<string>;
  paths: PathCounts;
  /** Requests per hour (hours since the epoch), for the callers that decide the verdict. */
  hourly: Map<number, number> | null;
  firstMs: number;
  lastMs: number;
  /** The first advice a line of the group carried. */
  ownAdvice: string | null;
  /** The advice the daemon would give for the group's first line, for lines written without one. */
  derivedAdvice: string | null;
}

type RequestLine = StoredLineOf<'imds_request'>;
type SummaryLine = StoredLineOf<'summary'>;
type Kind = CallerGroup['kind'];

/**
 * Every field of a request line this report reads (add, HostEvidence.see, addRequest, the canary section): the
 * common request lines are read straight from their text for these alone. A field read from
 * request lines and missing here reads as absent on the fast path: the differential tests
 * (test/unit/report-fast-read.test.ts) catch that.
 */
export const REQUEST_FIELDS_READ: Projection<RequestLine> = {
  event: true,
  time: true,
  hostname: true,
  instance_id: true,
  region: true,
  imds_version: true,
  aws_api: true,
  request: { path: true },
  process: { pid: true, comm: true, exe: true, argv: true, user: true },
  ancestors: true,
  unit: true,
  container: { runtime: true, id: true },
  cgroup: true,
  sdk: true,
  response: true,
  fallback: true,
  advice: true,
  request_time: true,
  canary: true,
};

/** When a request was made (its first byte), else when its line was written. */
function lineTimeMs(line: StoredLogLine, isoTimes: IsoTimes): number {
  const requestTime =
    line.event === 'imds_request' && line.request_time ? isoTimes.parse(line.request_time) : Number.NaN;
  return Number.isNaN(requestTime) ? line.time : requestTime;
}

function sdkOf(line: RequestLine | SummaryLine): SdkInfo | null {
  const sdk = line.sdk;
  if (!sdk || sdk.name === undefined) return null;
  return {
    name: sdk.name,
    version: sdk.version ?? null,
    min_imdsv2_version: sdk.min_imdsv2_version ?? null,
    supports_imdsv2: sdk.supports_imdsv2 ?? null,
  };
}

interface AdviceInput {
  fallbackReason: string | undefined;
  container: RequestLine['container'] | null;
  status: number | null;
  comm: string | null;
  canary: boolean;
}

function adviceOf(line: AdviceInput, kind: Kind, sdk: SdkInfo | null): string | null {
  return adviceFor({
    imds_version: kind === 'imdsv1' ? 'v1' : kind === 'imdsv2' ? 'v2' : 'unknown',
    aws_api: kind !== 'not_aws_api',
    sdk,
    fallback: line.fallbackReason === undefined ? null : { reason: line.fallbackReason },
    container: line.container ?? null,
    status: line.status,
    comm: line.comm,
    canary: line.canary,
  });
}

function appendTo<K>(map: Map<K, string[]>, key: K, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export class ReportBuilder {
  private readonly groups = new Map<string, GroupState>();
  private readonly hosts = new Map<string, HostEvidence>();
  /** Each host's latest verdict line: the answer for a host whose input holds nothing else. */
  private readonly verdicts = new Map<string, LatestVerdict>();
  private readonly tokenless = new Map<string, TokenlessCounts>();
  private readonly canaries = new CanaryEvidence();
  private readonly unreadable: string[] = [];
  private readonly identities = new ProgramIdentities();
  private readonly isoTimes = new IsoTimes();
  /** The shapes of request lines read so far: a line of one of them needs no full read. */
  private readonly requestTemplates = storedLineTemplates('imds_request', REQUEST_FIELDS_READ);
  private readonly rules: EvidenceRules;
  private lines = 0;
  private corrupt = 0;
  /** Unreadable lines that may be requests and name no host: any host may be missing them. */
  private unreadableWithoutHost = 0;
  private files = 0;
  private crossCheck: CrossCheck | null = null;

  constructor(private readonly options: ReportOptions = {}) {
    this.rules = {
      minObservedMs: options.minObservedMs ?? DEFAULT_MIN_OBSERVED_MS,
      requireBootFromStart: !options.allowNoBoot,
      sinceMs: options.sinceMs,
      untilMs: options.untilMs,
    };
  }

  get lineCount(): number {
    return this.lines;
  }

  /**
   * What was read since the last call, handed over and forgotten here (a worker's part of the
   * input); absorb() adds such parts together in input order.
   */
  takePartial(): ReportPartial {
    const partial: ReportPartial = {
      groups: new Map(this.groups),
      hosts: new Map(this.hosts),
      verdicts: new Map(this.verdicts),
      tokenless: new Map([...this.tokenless].map(([host, counts]) => [host, counts.periods()])),
      canaries: this.canaries.takePartial(),
      unreadable: [...this.unreadable],
      lines: this.lines,
      corrupt: this.corrupt,
      unreadableWithoutHost: this.unreadableWithoutHost,
      files: this.files,
    };
    this.groups.clear();
    this.hosts.clear();
    this.verdicts.clear();
    this.tokenless.clear();
    this.unreadable.length = 0;
    this.lines = 0;
    this.corrupt = 0;
    this.unreadableWithoutHost = 0;
    this.files = 0;
    return partial;
  }

  /**
   * A part of the input read elsewhere (takePartial(), possibly a structured clone from a
   * worker) added: parts absorbed in input order give the report of reading it all here.
   */
  absorb(partial: ReportPartial): void {
    this.lines += partial.lines;
    this.corrupt += partial.corrupt;
    this.unreadableWithoutHost += partial.unreadableWithoutHost;
    this.files += partial.files;
    this.unreadable.push(...partial.unreadable);
    for (const [key, other] of partial.hosts) {
      let host = this.hosts.get(key);
      if (!host) {
        host = new HostEvidence(other.host, other.instanceId, other.hostname, this.rules);
        this.hosts.set(key, host);
      }
      host.absorb(other);
    }
    for (const [key, other] of partial.verdicts) this.keepLatest(key, other);
    for (const [key, periods] of partial.tokenless) {
      const counts = this.tokenlessOf(key);
      for (const [start, n] of periods) counts.add(start, n);
    }
    this.canaries.absorb(partial.canaries);
    for (const [key, other] of partial.groups) {
      const group = this.groups.get(key);
      if (!group) {
        this.groups.set(key, other);
        continue;
      }
      // The earlier part's example and advice stand, as they would reading in order.
      group.count += other.count;
      for (const host of other.hosts) group.hosts.add(host);
      group.firstMs = Math.min(group.firstMs, other.firstMs);
      group.lastMs = Math.max(group.lastMs, other.lastMs);
      mergePathCounts(group.paths, other.paths);
      if (group.hourly && other.hourly)
        for (const [hour, n] of other.hourly) group.hourly.set(hour, (group.hourly.get(hour) ?? 0) + n);
      group.responses.ok += other.responses.ok;
      group.responses.rejected += other.responses.rejected;
      group.responses.other += other.responses.other;
      group.responses.none += other.responses.none;
      group.fallbacks += other.fallbacks;
      group.canary_refused += other.canary_refused;
      group.ownAdvice ??= other.ownAdvice;
    }
  }

  addFile(): void {
    this.files++;
  }

  /** One stored line (ours, or a CloudWatch Logs export line), read through the contract. */
  addText(text: string): void {
    const templates = this.options.zodOnly ? null : this.requestTemplates;
    const request = templates?.match(text);
    if (request) {
      this.add(request);
      return;
    }
    const reading = this.options.zodOnly ? readStoredLineByZod(text) : readStoredLine(text);
    if (reading.kind === 'blank') return;
    if (reading.kind === 'corrupt') this.addUnreadableLine(reading.line);
    else if (reading.kind === 'line') {
      if (reading.line.event === 'imds_request') templates?.learn(text, messageOf(text));
      this.add(reading.line);
    } else {
      // A newer version's event: its host and time count as seen, nothing else is read from it.
      this.lines++;
      const host = this.hostOf(reading.line.instance_id ?? null, reading.line.hostname ?? null);
      if (host?.inWindow(reading.line.time)) host.seeForeign(reading.line.time);
    }
  }

  /** A file that could not be read to its end; the lines read before stay counted. */
  addUnreadable(file: string, reason: string): void {
    this.unreadable.push(`${file}: ${reason}`);
  }

  /** A line that could not be read: if it may have been a request, its host (or every host) lacks evidence. */
  private addUnreadableLine(line: CorruptLine): void {
    this.lines++;
    this.corrupt++;
    if (!line.couldBeRequest) return;
    const named = line.instance_id !== null || line.hostname !== null;
    const host = named ? this.hostOf(line.instance_id, line.hostname) : undefined;
    if (host) host.seeUnreadable(line.time);
    else if (!named) this.unreadableWithoutHost++;
  }

  /** The host a line belongs to, created on its first line; undefined when --host leaves it out. */
  private hostOf(instanceId: string | null, hostname: string | null): HostEvidence | undefined {
    const f = this.options;
    if (f.host !== undefined && f.host !== hostname && f.host !== instanceId) return undefined;
    const key = instanceId ?? hostname ?? 'unknown-host';
    let host = this.hosts.get(key);
    if (!host) {
      host = new HostEvidence(key, instanceId, hostname, this.rules);
      this.hosts.set(key, host);
    }
    return host;
  }

  /** A line of the contract. Every line is read, whatever its time: the window is applied per host. */
  add(line: StoredLogLine): void {
    this.lines++;
    const t = lineTimeMs(line, this.isoTimes);
    if (line.event === 'verdict') {
      this.addVerdict(line, t);
      return;
    }
    const host = this.hostOf(line.instance_id ?? null, line.hostname ?? null);
    if (!host) return;
    host.see(line, t);
    this.canaries.see(line, t, host.host, host.inWindow(t));
    if (line.event === 'imds_request' && host.inWindow(t)) this.addRequest(line, kindOf(line), host, t);
    if (line.event === 'summary') {
      const span = summarySpan(line);
      if (host.reachesWindow(span)) this.addSummary(line, host, span.fromMs, span.toMs);
    }
  }

  /** A verdict line is what its daemon concluded, not evidence: kept, the latest per host, within the window. */
  private addVerdict(line: StoredLineOf<'verdict'>, t: number): void {
    const { host, sinceMs, untilMs } = this.options;
    const instanceId = line.instance_id ?? null;
    const hostname = line.hostname ?? null;
    if (host !== undefined && host !== hostname && host !== instanceId) return;
    if ((sinceMs !== undefined && t < sinceMs) || (untilMs !== undefined && t > untilMs)) return;
    const key = instanceId ?? hostname ?? 'unknown-host';
    this.keepLatest(key, { t, line });
  }

  private keepLatest(key: string, verdict: LatestVerdict): void {
    const latest = this.verdicts.get(key);
    if (!latest || verdict.t >= latest.t) this.verdicts.set(key, verdict);
  }

  /** Tokenless requests answered 2xx on a host, per period (what MetadataNoToken counts). */
  tokenlessOf(host: string): TokenlessCounts {
    let counts = this.tokenless.get(host);
    if (!counts) {
      counts = new TokenlessCounts();
      this.tokenless.set(host, counts);
    }
    return counts;
  }

  /** What each host's log says about its tokenless 2xx requests, for the cross-check with CloudWatch. */
  tokenlessEvidence(): LogTokenless[] {
    const fromLines = [...this.hosts.values()]
      .filter((h) => h.seen)
      .map((h) => ({
        host: h.host,
        instanceId: h.instanceId,
        region: h.region,
        fromMs: h.firstMs,
        toMs: h.lastMs,
        periods: new Map(this.tokenless.get(h.host)?.periods()),
        exactFromMs: h.firstMs,
        earlierTotal: 0,
      }));
    const fromVerdicts = [...this.verdicts]
      .filter(([key]) => !this.hosts.get(key)?.seen)
      .map(([key, { line }]) => tokenlessOfVerdict(line, key));
    return [...fromLines, ...fromVerdicts];
  }

  /** The cross-check's outcome: a host CloudWatch saw more on is UNKNOWN (a NO stays NO). */
  setCrossCheck(check: CrossCheck): void {
    this.crossCheck = check;
  }

  private checked(host: HostVerdict): HostVerdict {
    const check = this.crossCheck?.hosts.find((c) => c.host === host.host);
    if (check?.result !== 'disagrees') return host;
    return {
      ...host,
      verdict: host.verdict === 'NO' ? 'NO' : 'UNKNOWN',
      reasons: [...host.reasons, { code: 'cloudwatch_disagrees', message: disagreementMessage(check) }],
    };
  }

  /** Hosts judged by their latest verdict line: those with no other line in the input. */
  private verdictHosts(): HostVerdict[] {
    return [...this.verdicts]
      .filter(([key]) => !this.hosts.get(key)?.seen)
      .map(([key, { line }]) => hostVerdictOf(line, key));
  }

  private addRequest(line: RequestLine, kind: Kind, host: HostEvidence, t: number): void {
    if (kind === 'imdsv2' && !this.options.includeV2) return;
    const proc = line.process;
    const status = line.response?.status ?? null;
    const { key, group } = this.groupOf(
      kind,
      line,
      { pid: proc?.pid ?? null, fallbackReason: line.fallback?.reason, status, canary: line.canary !== undefined },
      t,
    );
    this.count(group, host, t, 1);
    // A tokenless request no canary refused: an escape if it came from a canary's target in its window.
    if (line.imds_version === 'v1' && !line.canary && line.cgroup)
      this.canaries.seeUnrefused(host.host, line.cgroup, key, t);
    const path = line.request?.path;
    if (path !== undefined) countPath(group.paths, path);
    this.countStatus(group, kind, host, t, status, 1);
    if (line.fallback) group.fallbacks++;
    if (line.canary) group.canary_refused++;
    group.ownAdvice ??= line.advice ?? null;
  }

  /** A summary line: its requests counted as their request lines would be (times from its span). */
  private addSummary(line: SummaryLine, host: HostEvidence, fromMs: number, toMs: number): void {
    const kind = summaryKindOf(line);
    if (kind === 'imdsv2' && !this.options.includeV2) return;
    const statuses = line.statuses ?? [];
    const { group } = this.groupOf(
      kind,
      line,
      { pid: null, fallbackReason: undefined, status: statuses[0]?.status ?? null, canary: false },
      fromMs,
    );
    this.count(group, host, fromMs, line.requests ?? 0);
    group.lastMs = Math.max(group.lastMs, toMs);
    for (const { path, requests } of line.paths ?? [])
      if (path !== undefined) countPath(group.paths, path, requests ?? 0);
    group.paths.others += line.paths_unlisted ?? 0;
    for (const { status, requests } of statuses)
      this.countStatus(group, kind, host, fromMs, status ?? null, requests ?? 0);
    group.fallbacks += line.fallbacks ?? 0;
  }

  /** The group of a request or summary line's caller (and its key), made from its first line. */
  private groupOf(
    kind: Kind,
    line: RequestLine | SummaryLine,
    first: { pid: number | null; fallbackReason: string | undefined; status: number | null; canary: boolean },
    t: number,
  ): { key: string; group: GroupState } {
    const proc = line.process;
    const exe = proc?.exe ?? null;
    const ancestors = line.ancestors ?? [];
    const placed = line.container ?? null;
    const caller: Caller = {
      exe,
      comm: proc?.comm,
      argv: proc?.argv ?? [],
      ancestorArgvs: ancestors.map((a) => a.argv ?? []),
      unit: line.unit,
      runtime: placed?.runtime,
      sdk: line.sdk,
    };
    const program = this.identities.programOf(caller);
    const key = this.identities.keyOf(kind, caller, program);
    let group = this.groups.get(key);
    if (group) return { key, group };
    const sdk = sdkOf(line);
    group = {
      kind,
      exe,
      command: program?.command ?? proc?.comm ?? UNKNOWN_PROCESS,
      script: program?.script ?? null,
      unit: line.unit ?? null,
      container: placed ? `${placed.runtime ?? '?'}:${(placed.id ?? '').slice(0, 12)}` : null,
      sdk,
      count: 0,
      hosts: new Set(),
      paths: emptyPathCounts(),
      hourly: kind === 'imdsv1' || kind === 'unknown' ? new Map() : null,
      firstMs: t,
      lastMs: t,
      responses: { ok: 0, rejected: 0, other: 0, none: 0 },
      fallbacks: 0,
      canary_refused: 0,
      ownAdvice: null,
      derivedAdvice: adviceOf(
        {
          fallbackReason: first.fallbackReason,
          container: placed,
          status: first.status,
          comm: proc?.comm ?? null,
          canary: first.canary,
        },
        kind,
        sdk,
      ),
      example: {
        pid: first.pid,
        comm: proc?.comm ?? null,
        exe,
        argv: caller.argv as string[],
        user: proc?.user ?? null,
        ancestors: ancestors.map((a) => ({ pid: a.pid ?? 0, comm: a.comm ?? '', argv: a.argv ?? [] })),
      },
    };
    this.groups.set(key, group);
    return { key, group };
  }

  private count(group: GroupState, host: HostEvidence, t: number, requests: number): void {
    group.count += requests;
    group.hosts.add(host.host);
    group.firstMs = Math.min(group.firstMs, t);
    group.lastMs = Math.max(group.lastMs, t);
    if (group.hourly) {
      const hour = Math.floor(t / HOUR_MS);
      group.hourly.set(hour, (group.hourly.get(hour) ?? 0) + requests);
    }
  }

  private countStatus(
    group: GroupState,
    kind: Kind,
    host: HostEvidence,
    t: number,
    status: number | null,
    requests: number,
  ): void {
    if (status === null) group.responses.none += requests;
    else if (status === 401) group.responses.rejected += requests;
    else if (status >= 200 && status < 300) {
      group.responses.ok += requests;
      if (kind === 'imdsv1') this.tokenlessOf(host.host).add(t, requests);
    } else group.responses.other += requests;
  }

  result(): Report {
    const groups: CallerGroup[] = [...this.groups.values()]
      .map(
        ({ hosts, paths, hourly, firstMs, lastMs, ownAdvice, derivedAdvice, ...rest }) =>
          redactLine({
            ...rest,
            hosts: [...hosts].sort(),
            paths: [...paths.listed.keys()].sort(),
            paths_unlisted: paths.others,
            timeline: [...(hourly ?? [])]
              .sort((a, b) => a[0] - b[0])
              .map(([hour, count]) => ({ hour: new Date(hour * HOUR_MS).toISOString(), count })),
            first_seen: new Date(firstMs).toISOString(),
            last_seen: new Date(lastMs).toISOString(),
            advice: ownAdvice ?? derivedAdvice,
          }).line,
      )
      .sort((a, b) => (a.kind === b.kind ? b.count - a.count : a.kind.localeCompare(b.kind)));
    const v1 = groups.filter((g) => g.kind === 'imdsv1');
    const programsOn = new Map<string, string[]>();
    for (const g of v1) for (const h of g.hosts) appendTo(programsOn, h, g.command);
    const evidence = [...this.hosts.values()].filter((h) => h.seen);
    const judged = this.verdictHosts();
    const hosts = evidence
      .map((h) => h.verdict(programsOn.get(h.host) ?? [], this.unreadableWithoutHost))
      .concat(judged)
      .map((h) => this.checked(h))
      .sort((a, b) => ANSWER_ORDER[a.verdict] - ANSWER_ORDER[b.verdict] || a.host.localeCompare(b.host));
    const fromMs = judged.reduce(
      (t, h) => Math.min(t, Date.parse(h.first_seen)),
      evidence.reduce((t, h) => Math.min(t, h.firstMs), Infinity),
    );
    const toMs = judged.reduce(
      (t, h) => Math.max(t, Date.parse(h.last_seen)),
      evidence.reduce((t, h) => Math.max(t, h.lastMs), -Infinity),
    );
    const observed = hosts.length > 0;
    // Each host's own is in hosts[]; over many, the least of them is what every host has.
    const seconds = hosts.reduce((n, h) => Math.min(n, h.seconds), Infinity);
    const boots = hosts.reduce((n, h) => n + h.boots, 0);
    const v1Requests = v1.reduce((n, g) => n + g.count, 0) + judged.reduce((n, h) => n + h.imdsv1_requests, 0);
    const programs = v1.length + new Set(judged.flatMap((h) => h.imdsv1_programs)).size;
    const reasons = this.overallReasons(hosts, programs, v1Requests);
    const final: Answer = v1Requests > 0 ? 'NO' : reasons.length > 0 ? 'UNKNOWN' : 'YES';
    const where = hosts.length > 1 ? `on these ${hosts.length} hosts` : 'on this host';
    return {
      exit_status: VERDICT_EXIT[final],
      verdict: {
        answer: final,
        safe: final === 'YES',
        observed,
        text: `HttpTokens=required is safe ${where}: ${this.sentence(final, hosts, reasons, programs, v1Requests, seconds, boots)}${this.crossCheck ? `. ${crossCheckSentence(this.crossCheck)}` : ''}`,
        reasons,
        imdsv1_programs: programs,
        imdsv1_requests: v1Requests,
      },
      observation: {
        hosts: hosts.map((h) => h.host).sort(),
        boots,
        from: observed ? new Date(fromMs).toISOString() : null,
        to: observed ? new Date(toMs).toISOString() : null,
        seconds: observed ? seconds : 0,
        min_observed_seconds: this.rules.minObservedMs / 1000,
        boot_from_start_required: this.rules.requireBootFromStart,
      },
      hosts,
      warnings: this.warnings(evidence),
      groups,
      canaries: this.canaries.result((key) => {
        const group = this.groups.get(key);
        return (
          group && { command: group.command, script: group.script, exe: group.exe, unit: group.unit, sdk: group.sdk }
        );
      }),
      input: {
        files: this.files,
        lines: this.lines,
        corrupt_lines: this.corrupt,
        unreadable_files: this.unreadable.length,
      },
      ...(this.crossCheck ? { cross_check: this.crossCheck } : {}),
    };
  }

  /** One host: its reasons. Many: one reason per condition, counting the hosts it concerns. */
  private overallReasons(hosts: HostVerdict[], programs: number, requests: number): Reason[] {
    const reasons: Reason[] = [];
    if (hosts.length === 0) {
      reasons.push({
        code: 'no_lines',
        message: `no log line in the input${this.hasFilters() ? ' matches the filters' : ''}: point the report at the daemon's log directory or collected logs`,
      });
    } else if (hosts.length === 1) {
      reasons.push(...hosts.flatMap((h) => h.reasons));
    } else {
      const byCode = new Map<ReasonCode, string[]>();
      for (const h of hosts) for (const r of h.reasons) appendTo(byCode, r.code, h.host);
      for (const [code, names] of byCode) {
        const what = code === 'imdsv1_callers' ? imdsv1Callers(programs, requests) : SHORT[code];
        reasons.push({ code, message: `${names.length} of ${hosts.length} hosts: ${what} (see hosts)` });
      }
    }
    if (this.unreadable.length > 0) {
      reasons.push({
        code: 'input_incomplete',
        message: `${plural(this.unreadable.length, 'file')} not read to the end (named in the warnings): lines in them may be missing; read a complete copy`,
      });
    }
    return reasons;
  }

  private sentence(
    answer: Answer,
    hosts: HostVerdict[],
    reasons: Reason[],
    programs: number,
    requests: number,
    seconds: number,
    boots: number,
  ): string {
    if (hosts.length === 0)
      return `UNKNOWN — no log line in the input${this.hasFilters() ? ' matches the filters' : ''}`;
    const count = (verdict: Answer) => hosts.filter((h) => h.verdict === verdict).length;
    const of = (verdict: Answer) => (hosts.length > 1 ? `, on ${count(verdict)} of ${hosts.length} hosts` : '');
    if (answer === 'NO') return `NO — ${imdsv1Callers(programs, requests)}${of('NO')}`;
    if (answer === 'UNKNOWN') {
      const missing = reasons.map((r) => SHORT[r.code]).join(', ');
      return `UNKNOWN — no IMDSv1 request seen, but the evidence is incomplete${of('UNKNOWN')}: ${missing}`;
    }
    return `YES — no IMDSv1 request in ${formatDuration(seconds)} of observation, covering ${plural(boots, 'boot')}`;
  }

  /** What limits the report without deciding the verdict. */
  private warnings(hosts: HostEvidence[]): string[] {
    const warnings: string[] = [];
    const processLost = hosts.reduce((n, h) => n + h.lostProcessRecords, 0);
    if (processLost > 0) {
      warnings.push(`the kernel lost ${processLost} process record(s): some callers may be attributed incompletely`);
    }
    for (const host of hosts) {
      const stoppedMs = host.coverage().stoppedAtEndMs;
      if (stoppedMs !== null)
        warnings.push(
          `${host.host}: its last daemon was stopped at ${new Date(stoppedMs).toISOString()} (not for a shutdown) and none started after: nothing since is observed`,
        );
    }
    for (const file of this.unreadable) warnings.push(`file not read to its end, later lines missing: ${file}`);
    if (this.corrupt > 0) warnings.push(`${this.corrupt} corrupt or truncated line(s) skipped`);
    return warnings;
  }

  private hasFilters(): boolean {
    const f = this.options;
    return f.host !== undefined || f.sinceMs !== undefined || f.untilMs !== undefined;
  }
}
