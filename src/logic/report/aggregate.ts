// Turns log lines (already parsed, from any number of files and hosts) into the
// migration report: each line goes to what it is evidence of (its host, its caller's group,
// the canaries, the tokenless counts), and the report is assembled from them: the verdict
// per host and over all of them. Pure: lines go in one at a time (memory grows with groups,
// hosts and daemon runs, not with lines).
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
import { VERDICT_EXIT } from '../exit-status.js';
import { type CanaryPartial, CanaryEvidence } from './canary-section.js';
import { DaemonVerdicts, type LatestVerdict } from './daemon-verdicts.js';
import { CallerGroups, countRequests, countResponses, type GroupState, type Kind } from './caller-groups.js';
import {
  DEFAULT_MIN_OBSERVED_MS,
  type EvidenceRules,
  HostEvidence,
  kindOf,
  summaryKindOf,
  summarySpan,
} from './host-evidence.js';
import { countPath } from './path-counts.js';
import { IsoTimes } from './iso-time.js';
import { ANSWER_ORDER, appendTo, type OverallInput, overallReasons, verdictSentence } from './overall-verdict.js';
import { reportWarnings } from './report-warnings.js';
import type { Answer, CrossCheck, HostVerdict, Report } from './schema.js';
import { TokenlessCounts } from './tokenless.js';
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

type RequestLine = StoredLineOf<'imds_request'>;
type SummaryLine = StoredLineOf<'summary'>;

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

export class ReportBuilder {
  private readonly groups = new CallerGroups();
  private readonly hosts = new Map<string, HostEvidence>();
  /** Each host's latest verdict line: the answer for a host whose input holds nothing else. */
  private readonly verdicts = new DaemonVerdicts();
  private readonly tokenless = new Map<string, TokenlessCounts>();
  private readonly canaries = new CanaryEvidence();
  private readonly unreadable: string[] = [];
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
  /** Whether a host has a line of its own besides its verdict lines. */
  private readonly hasEvidence = (key: string): boolean => this.hosts.get(key)?.seen === true;

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
      groups: this.groups.take(),
      hosts: new Map(this.hosts),
      verdicts: this.verdicts.take(),
      tokenless: new Map([...this.tokenless].map(([host, counts]) => [host, counts.periods()])),
      canaries: this.canaries.takePartial(),
      unreadable: [...this.unreadable],
      lines: this.lines,
      corrupt: this.corrupt,
      unreadableWithoutHost: this.unreadableWithoutHost,
      files: this.files,
    };
    this.hosts.clear();
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
    this.verdicts.absorb(partial.verdicts);
    for (const [key, periods] of partial.tokenless) {
      const counts = this.tokenlessOf(key);
      for (const [start, n] of periods) counts.add(start, n);
    }
    this.canaries.absorb(partial.canaries);
    this.groups.absorb(partial.groups);
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
    this.verdicts.keep(key, { t, line });
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
    return [...fromLines, ...this.verdicts.tokenless(this.hasEvidence)];
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

  private addRequest(line: RequestLine, kind: Kind, host: HostEvidence, t: number): void {
    if (kind === 'imdsv2' && !this.options.includeV2) return;
    const proc = line.process;
    const status = line.response?.status ?? null;
    const { key, group } = this.groups.groupOf(
      kind,
      line,
      { pid: proc?.pid ?? null, fallbackReason: line.fallback?.reason, status, canary: line.canary !== undefined },
      t,
    );
    countRequests(group, host.host, t, 1);
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
    const { group } = this.groups.groupOf(
      kind,
      line,
      { pid: null, fallbackReason: undefined, status: statuses[0]?.status ?? null, canary: false },
      fromMs,
    );
    countRequests(group, host.host, fromMs, line.requests ?? 0);
    group.lastMs = Math.max(group.lastMs, toMs);
    for (const { path, requests } of line.paths ?? [])
      if (path !== undefined) countPath(group.paths, path, requests ?? 0);
    group.paths.others += line.paths_unlisted ?? 0;
    for (const { status, requests } of statuses)
      this.countStatus(group, kind, host, fromMs, status ?? null, requests ?? 0);
    group.fallbacks += line.fallbacks ?? 0;
  }

  /** Responses counted in the group; IMDSv1 requests answered 2xx also in their host's tokenless counts. */
  private countStatus(
    group: GroupState,
    kind: Kind,
    host: HostEvidence,
    t: number,
    status: number | null,
    requests: number,
  ): void {
    if (countResponses(group, status, requests) && kind === 'imdsv1') this.tokenlessOf(host.host).add(t, requests);
  }

  result(): Report {
    const groups = this.groups.results();
    const v1 = groups.filter((g) => g.kind === 'imdsv1');
    const programsOn = new Map<string, string[]>();
    for (const g of v1) for (const h of g.hosts) appendTo(programsOn, h, g.command);
    const evidence = [...this.hosts.values()].filter((h) => h.seen);
    const judged = this.verdicts.hostVerdicts(this.hasEvidence);
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
    const overall: OverallInput = {
      hosts,
      programs,
      requests: v1Requests,
      unreadableFiles: this.unreadable.length,
      filtered: this.hasFilters(),
    };
    const reasons = overallReasons(overall);
    const final: Answer = v1Requests > 0 ? 'NO' : reasons.length > 0 ? 'UNKNOWN' : 'YES';
    const where = hosts.length > 1 ? `on these ${hosts.length} hosts` : 'on this host';
    return {
      exit_status: VERDICT_EXIT[final],
      verdict: {
        answer: final,
        safe: final === 'YES',
        observed,
        text: `HttpTokens=required is safe ${where}: ${verdictSentence(final, reasons, overall, seconds, boots)}${this.crossCheck ? `. ${crossCheckSentence(this.crossCheck)}` : ''}`,
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
      warnings: reportWarnings(evidence, this.unreadable, this.corrupt),
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

  private hasFilters(): boolean {
    const f = this.options;
    return f.host !== undefined || f.sinceMs !== undefined || f.untilMs !== undefined;
  }
}
