// Turns log lines (already parsed, from any number of files and hosts) into the
// migration report: IMDSv1 callers grouped by what an operator fixes, and the verdict,
// per host and over all of them. Pure: lines go in one at a time (memory grows with
// groups, hosts and daemon runs, not with lines). Logs written before redaction existed
// may hold secrets: what the report shows is redacted again.
import type { ContainerPlacement } from '../../model/attribution.js';
import { storedLineSchemas } from '../../model/log-line.js';
import { adviceFor } from '../advice.js';
import { VERDICT_EXIT } from '../exit-status.js';
import { redactArgv, redactLine } from '../redact.js';
import type { SdkInfo } from '../sdk.js';
import { formatDuration } from './duration.js';
import { DEFAULT_MIN_OBSERVED_MS, type EvidenceRules, HostEvidence, imdsv1Callers, plural } from './host-evidence.js';
import { type Line, messageOf, num, obj, str, strings } from './line.js';
import { programOf } from './program.js';
import type { Answer, CallerGroup, HostVerdict, Reason, ReasonCode, Report } from './schema.js';

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
}

/** Paths listed under a program; requests to further paths are counted in paths_unlisted. */
const MAX_PATHS_PER_GROUP = 50;
const HOUR_MS = 3600_000;
/** Normalised commands remembered by raw argv: the same program runs millions of times. */
const MAX_REMEMBERED_COMMANDS = 20_000;
/** Separates the parts of a group key; cannot occur in argv (NUL-separated in the kernel). */
const KEY_SEPARATOR = '\u0000';
const PART_SEPARATOR = '\u0001';
const ANSWER_ORDER: Record<Answer, number> = { NO: 0, UNKNOWN: 1, YES: 2 };
/** How the verdict sentence names each missing condition (the reasons say what to do). */
const SHORT: Record<ReasonCode, string> = {
  imdsv1_callers: 'IMDSv1 callers',
  no_lines: 'no log line',
  input_incomplete: 'files not read to their end',
  no_daemon_start: 'no daemon start seen',
  lost_records: 'records lost',
  unclassified_requests: 'unclassified requests',
  uncovered_restart: 'a restart without capture',
  lines_not_written: 'log lines not written',
  no_boot_from_start: 'no boot seen from its start',
  short_window: 'window too short',
};

type Kind = CallerGroup['kind'];

interface GroupState extends Omit<CallerGroup, 'hosts' | 'paths' | 'first_seen' | 'last_seen' | 'advice' | 'timeline'> {
  hosts: Set<string>;
  paths: Set<string>;
  /** Requests per hour (hours since the epoch), for the callers that decide the verdict. */
  hourly: Map<number, number> | null;
  firstMs: number;
  lastMs: number;
  /** The first advice a line of the group carried. */
  ownAdvice: string | null;
  /** The advice the daemon would give for the group's first line, for lines written without one. */
  derivedAdvice: string | null;
}

function lineTimeMs(line: Line): number | null {
  const requestTime = str(line.request_time);
  if (requestTime) {
    const t = Date.parse(requestTime);
    if (!Number.isNaN(t)) return t;
  }
  return num(line.time);
}

function kindOf(line: Line): Kind {
  if (line.aws_api === false) return 'not_aws_api';
  if (line.imds_version === 'v1') return 'imdsv1';
  if (line.imds_version === 'v2') return 'imdsv2';
  return 'unknown';
}

function sdkOf(line: Line): SdkInfo | null {
  const sdk = obj(line.sdk);
  const name = str(sdk.name);
  if (name === null) return null;
  const supports = sdk.supports_imdsv2;
  return {
    name,
    version: str(sdk.version),
    min_imdsv2_version: str(sdk.min_imdsv2_version),
    supports_imdsv2: typeof supports === 'boolean' ? supports : null,
  };
}

function adviceOf(line: Line, kind: Kind, sdk: SdkInfo | null): string | null {
  const fallback = str(obj(line.fallback).reason);
  const container = obj(line.container);
  return adviceFor({
    imds_version: kind === 'imdsv1' ? 'v1' : kind === 'imdsv2' ? 'v2' : 'unknown',
    aws_api: kind !== 'not_aws_api',
    sdk,
    fallback: fallback === null ? null : { reason: fallback },
    // Only its presence matters to the advice; the runtime name is kept as the line has it.
    container: line.container
      ? ({ runtime: str(container.runtime), id: str(container.id) ?? '' } as ContainerPlacement)
      : null,
    status: num(obj(line.response).status),
    comm: str(obj(line.process).comm),
  });
}

/**
 * Read through the log contract: a line of one of our events whose fields are not of the
 * contract's types is corrupt (not half used). Lines of other events (a newer version's) pass.
 */
function followsContract(line: Line): boolean {
  const schema = typeof line.event === 'string' ? storedLineSchemas[line.event] : undefined;
  return schema === undefined || schema.safeParse(line).success;
}

function appendTo<K>(map: Map<K, string[]>, key: K, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export class ReportBuilder {
  private readonly groups = new Map<string, GroupState>();
  private readonly hosts = new Map<string, HostEvidence>();
  private readonly unreadable: string[] = [];
  private readonly programs = new Map<string, ReturnType<typeof programOf>>();
  private readonly rules: EvidenceRules;
  private lines = 0;
  private corrupt = 0;
  private files = 0;

  constructor(private readonly options: ReportOptions = {}) {
    this.rules = {
      minObservedMs: options.minObservedMs ?? DEFAULT_MIN_OBSERVED_MS,
      requireBootFromStart: !options.allowNoBoot,
    };
  }

  addFile(): void {
    this.files++;
  }

  addCorrupt(): void {
    this.lines++;
    this.corrupt++;
  }

  /** One stored line (ours, or a CloudWatch Logs export line): blank lines are ignored, anything but a JSON object is corrupt. */
  addText(text: string): void {
    if (!text.trim()) return;
    let line: unknown;
    try {
      line = JSON.parse(messageOf(text));
    } catch {
      this.addCorrupt();
      return;
    }
    if (line && typeof line === 'object' && !Array.isArray(line) && followsContract(line as Line))
      this.add(line as Line);
    else this.addCorrupt();
  }

  /** A file that could not be read to its end; the lines read before stay counted. */
  addUnreadable(file: string, reason: string): void {
    this.unreadable.push(`${file}: ${reason}`);
  }

  add(line: Line): void {
    this.lines++;
    const t = lineTimeMs(line);
    // pino writes `time` on every line: one without it was not written by the daemon.
    if (t === null) {
      this.corrupt++;
      return;
    }
    const instanceId = str(line.instance_id);
    const hostname = str(line.hostname);
    const f = this.options;
    if (f.host !== undefined && f.host !== hostname && f.host !== instanceId) return;
    if (f.sinceMs !== undefined && t < f.sinceMs) return;
    if (f.untilMs !== undefined && t > f.untilMs) return;
    const key = instanceId ?? hostname ?? 'unknown-host';
    let host = this.hosts.get(key);
    if (!host) {
      host = new HostEvidence(key, instanceId, hostname);
      this.hosts.set(key, host);
    }
    host.see(line, t);
    if (line.event === 'imds_request') this.addRequest(line, host, t);
  }

  /** The caller's program identity (redacted argv), remembered by raw argv and ancestry. */
  private programOf(argv: string[], ancestorArgvs: string[][]): ReturnType<typeof programOf> {
    const raw = [argv, ...ancestorArgvs].map((a) => a.join(KEY_SEPARATOR)).join(PART_SEPARATOR);
    let program = this.programs.get(raw);
    if (program === undefined) {
      if (this.programs.size >= MAX_REMEMBERED_COMMANDS) this.programs.clear();
      program = programOf(
        redactArgv(argv).argv,
        ancestorArgvs.map((a) => redactArgv(a).argv),
      );
      this.programs.set(raw, program);
    }
    return program;
  }

  private addRequest(line: Line, host: HostEvidence, t: number): void {
    const kind = kindOf(line);
    if (kind === 'imdsv1') host.v1Requests++;
    if (kind === 'unknown') host.unknownRequests++;
    if (kind === 'imdsv2' && !this.options.includeV2) return;
    const proc = obj(line.process);
    const argv = strings(proc.argv);
    const exe = str(proc.exe);
    const ancestors = Array.isArray(line.ancestors) ? line.ancestors.map(obj) : [];
    const program =
      argv.length > 0
        ? this.programOf(
            argv,
            ancestors.map((a) => strings(a.argv)),
          )
        : null;
    const command = program?.command ?? str(proc.comm) ?? '(unknown process)';
    const containerObj = line.container ? obj(line.container) : null;
    const container = containerObj
      ? `${str(containerObj.runtime) ?? '?'}:${(str(containerObj.id) ?? '').slice(0, 12)}`
      : null;
    const sdkObj = obj(line.sdk);
    const sdkKey = `${str(sdkObj.name) ?? ''} ${str(sdkObj.version) ?? ''}`;
    const unit = str(line.unit);
    const key = [
      kind,
      exe,
      program?.key ?? command,
      unit,
      containerObj ? str(containerObj.runtime) : null,
      sdkKey,
    ].join(KEY_SEPARATOR);
    let group = this.groups.get(key);
    if (!group) {
      const sdk = sdkOf(line);
      group = {
        kind,
        exe,
        command,
        script: program?.script ?? null,
        unit,
        container,
        sdk,
        count: 0,
        hosts: new Set(),
        paths: new Set(),
        paths_unlisted: 0,
        hourly: kind === 'imdsv1' || kind === 'unknown' ? new Map() : null,
        firstMs: t,
        lastMs: t,
        responses: { ok: 0, rejected: 0, other: 0, none: 0 },
        fallbacks: 0,
        ownAdvice: null,
        derivedAdvice: adviceOf(line, kind, sdk),
        example: {
          pid: num(proc.pid),
          comm: str(proc.comm),
          exe,
          argv,
          user: str(proc.user),
          ancestors: ancestors.map((a) => ({ pid: num(a.pid) ?? 0, comm: str(a.comm) ?? '', argv: strings(a.argv) })),
        },
      };
      this.groups.set(key, group);
    }
    group.count++;
    group.hosts.add(host.host);
    group.firstMs = Math.min(group.firstMs, t);
    group.lastMs = Math.max(group.lastMs, t);
    const path = str(obj(line.request).path);
    if (path !== null) {
      if (group.paths.has(path) || group.paths.size < MAX_PATHS_PER_GROUP) group.paths.add(path);
      else group.paths_unlisted++;
    }
    if (group.hourly) {
      const hour = Math.floor(t / HOUR_MS);
      group.hourly.set(hour, (group.hourly.get(hour) ?? 0) + 1);
    }
    const status = line.response ? num(obj(line.response).status) : null;
    if (status === null) group.responses.none++;
    else if (status === 401) group.responses.rejected++;
    else if (status >= 200 && status < 300) group.responses.ok++;
    else group.responses.other++;
    if (line.fallback) group.fallbacks++;
    group.ownAdvice ??= str(line.advice);
  }

  result(): Report {
    const groups: CallerGroup[] = [...this.groups.values()]
      .map(
        ({ hosts, paths, hourly, firstMs, lastMs, ownAdvice, derivedAdvice, ...rest }) =>
          redactLine({
            ...rest,
            hosts: [...hosts].sort(),
            paths: [...paths].sort(),
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
    const hosts = [...this.hosts.values()]
      .map((h) => h.verdict(programsOn.get(h.host) ?? [], this.rules))
      .sort((a, b) => ANSWER_ORDER[a.verdict] - ANSWER_ORDER[b.verdict] || a.host.localeCompare(b.host));
    const evidence = [...this.hosts.values()];
    const fromMs = evidence.reduce((t, h) => Math.min(t, h.firstMs), Infinity);
    const toMs = evidence.reduce((t, h) => Math.max(t, h.lastMs), -Infinity);
    const observed = evidence.length > 0;
    const seconds = observed ? (toMs - fromMs) / 1000 : 0;
    const boots = evidence.reduce((n, h) => n + h.bootCount, 0);
    const v1Requests = v1.reduce((n, g) => n + g.count, 0);
    const reasons = this.overallReasons(hosts, v1.length, v1Requests);
    const final: Answer = v1Requests > 0 ? 'NO' : reasons.length > 0 ? 'UNKNOWN' : 'YES';
    const where = hosts.length > 1 ? `on these ${hosts.length} hosts` : 'on this host';
    return {
      exit_status: VERDICT_EXIT[final],
      verdict: {
        answer: final,
        safe: final === 'YES',
        observed,
        text: `HttpTokens=required is safe ${where}: ${this.sentence(final, hosts, reasons, v1.length, v1Requests, seconds, boots)}`,
        reasons,
        imdsv1_programs: v1.length,
        imdsv1_requests: v1Requests,
      },
      observation: {
        hosts: hosts.map((h) => h.host).sort(),
        boots,
        from: observed ? new Date(fromMs).toISOString() : null,
        to: observed ? new Date(toMs).toISOString() : null,
        seconds,
        min_observed_seconds: this.rules.minObservedMs / 1000,
        boot_from_start_required: this.rules.requireBootFromStart,
      },
      hosts,
      warnings: this.warnings(evidence),
      groups,
      input: {
        files: this.files,
        lines: this.lines,
        corrupt_lines: this.corrupt,
        unreadable_files: this.unreadable.length,
      },
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
    for (const file of this.unreadable) warnings.push(`file not read to its end, later lines missing: ${file}`);
    if (this.corrupt > 0) warnings.push(`${this.corrupt} corrupt or truncated line(s) skipped`);
    return warnings;
  }

  private hasFilters(): boolean {
    const f = this.options;
    return f.host !== undefined || f.sinceMs !== undefined || f.untilMs !== undefined;
  }
}
