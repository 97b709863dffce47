// Turns log lines (already parsed, from any number of files and hosts) into the
// migration report: IMDSv1 callers grouped by what an operator fixes, and the verdict.
// Pure: lines go in one at a time (memory grows with groups, not with lines). Logs written
// before redaction existed may hold secrets: what the report shows is redacted again.
import { redactArgv, redactLine } from '../redact.js';
import { normalizeArgv } from './normalize.js';
import type { CallerGroup, Report } from './schema.js';

export interface ReportFilters {
  sinceMs?: number;
  untilMs?: number;
  host?: string;
  includeV2?: boolean;
}

/** Observation shorter than this gets a warning in the verdict. */
export const SHORT_WINDOW_SECONDS = 24 * 3600;
const MAX_PATHS_PER_GROUP = 10;
/** Normalised commands remembered by raw argv: the same program runs millions of times. */
const MAX_REMEMBERED_COMMANDS = 20_000;
/** Separates the parts of a group key; cannot occur in argv (NUL-separated in the kernel). */
const KEY_SEPARATOR = '\u0000';

type Kind = CallerGroup['kind'];

interface GroupState extends Omit<CallerGroup, 'hosts' | 'paths' | 'first_seen' | 'last_seen'> {
  hosts: Set<string>;
  paths: Set<string>;
  firstMs: number;
  lastMs: number;
}

type Line = Record<string, unknown>;

/** What a daemon run could not record: kernel events, process records, log lines. */
interface Loss {
  events: number;
  processEvents: number;
  linesNotWritten: number;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const obj = (v: unknown): Line => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Line) : {});
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

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

export function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return `${m}m ${Math.floor(seconds % 60)}s`;
}

export class ReportBuilder {
  private readonly groups = new Map<string, GroupState>();
  private readonly hosts = new Set<string>();
  private readonly boots = new Set<string>();
  /** Highest loss counters per daemon run (the stats counters are cumulative since its start). */
  private readonly lossByRun = new Map<string, Loss>();
  private readonly unreadable: string[] = [];
  private readonly commands = new Map<string, string>();
  private fromMs: number | null = null;
  private toMs: number | null = null;
  private lines = 0;
  private corrupt = 0;
  private files = 0;

  constructor(private readonly filters: ReportFilters = {}) {}

  addFile(): void {
    this.files++;
  }

  addCorrupt(): void {
    this.lines++;
    this.corrupt++;
  }

  /** One raw log line: blank lines are ignored, anything but a JSON object is corrupt. */
  addText(text: string): void {
    if (!text.trim()) return;
    let line: unknown;
    try {
      line = JSON.parse(text);
    } catch {
      this.addCorrupt();
      return;
    }
    if (line && typeof line === 'object' && !Array.isArray(line)) this.add(line as Line);
    else this.addCorrupt();
  }

  /** A file that could not be read to its end; the lines read before stay counted. */
  addUnreadable(file: string, reason: string): void {
    this.unreadable.push(`${file}: ${reason}`);
  }

  add(line: Line): void {
    this.lines++;
    const host = str(line.hostname) ?? 'unknown-host';
    const t = lineTimeMs(line);
    // pino writes `time` on every line: one without it was not written by the daemon.
    if (t === null) {
      this.corrupt++;
      return;
    }
    if (this.filters.host && host !== this.filters.host) return;
    if (this.filters.sinceMs !== undefined && t < this.filters.sinceMs) return;
    if (this.filters.untilMs !== undefined && t > this.filters.untilMs) return;
    this.hosts.add(host);
    this.fromMs = this.fromMs === null ? t : Math.min(this.fromMs, t);
    this.toMs = this.toMs === null ? t : Math.max(this.toMs, t);
    const bootId = str(line.boot_id);
    if (bootId && (line.event === 'ready' || line.event === 'stats' || line.event === 'stopping')) {
      this.boots.add(`${host}/${bootId}`);
      if (line.event === 'stats') this.addLoss(`${host}/${bootId}/${String(line.pid ?? '')}`, line);
    }
    if (line.event === 'imds_request') this.addRequest(line, host, t);
  }

  private addLoss(run: string, stats: Line): void {
    const kernel = obj(stats.kernel);
    const seen = this.lossByRun.get(run) ?? { events: 0, processEvents: 0, linesNotWritten: 0 };
    this.lossByRun.set(run, {
      events: Math.max(seen.events, num(kernel.events_lost) ?? 0),
      processEvents: Math.max(seen.processEvents, num(kernel.process_events_lost) ?? 0),
      linesNotWritten: Math.max(seen.linesNotWritten, num(stats.lines_not_written) ?? 0),
    });
  }

  private answer(observed: boolean, seconds: number, programs: number, requests: number): string {
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    if (!observed) return `UNKNOWN — no log line in the input${this.hasFilters() ? ' matches the filters' : ''}`;
    if (programs > 0) {
      return `NO — ${plural(programs, 'program')} still use${programs === 1 ? 's' : ''} IMDSv1 (${plural(requests, 'request')})`;
    }
    return `YES — no IMDSv1 request in ${formatDuration(seconds)} of observation, covering ${plural(this.boots.size, 'boot')}`;
  }

  private hasFilters(): boolean {
    const f = this.filters;
    return f.host !== undefined || f.sinceMs !== undefined || f.untilMs !== undefined;
  }

  private normalizedCommand(argv: string[]): string {
    const raw = argv.join(KEY_SEPARATOR);
    let command = this.commands.get(raw);
    if (command === undefined) {
      if (this.commands.size >= MAX_REMEMBERED_COMMANDS) this.commands.clear();
      command = normalizeArgv(redactArgv(argv).argv);
      this.commands.set(raw, command);
    }
    return command;
  }

  private addRequest(line: Line, host: string, t: number): void {
    const kind = kindOf(line);
    if (kind === 'imdsv2' && !this.filters.includeV2) return;
    const proc = obj(line.process);
    const argv = strings(proc.argv);
    const exe = str(proc.exe);
    const command = argv.length > 0 ? this.normalizedCommand(argv) : (str(proc.comm) ?? '(unknown process)');
    const containerObj = line.container ? obj(line.container) : null;
    const container = containerObj ? `${str(containerObj.runtime) ?? '?'}:${(str(containerObj.id) ?? '').slice(0, 12)}` : null;
    const sdkObj = line.sdk ? obj(line.sdk) : null;
    const sdk = sdkObj ? `${str(sdkObj.name) ?? '?'} ${str(sdkObj.version) ?? ''}`.trim() : null;
    const unit = str(line.unit);
    const key = [kind, exe, command, unit, containerObj ? str(containerObj.runtime) : null, sdk].join(KEY_SEPARATOR);
    let group = this.groups.get(key);
    if (!group) {
      const ancestors = Array.isArray(line.ancestors) ? line.ancestors.map(obj) : [];
      group = {
        kind,
        exe,
        command,
        unit,
        container,
        sdk,
        count: 0,
        hosts: new Set(),
        paths: new Set(),
        firstMs: t,
        lastMs: t,
        responses: { accepted: 0, rejected: 0, other: 0, none: 0 },
        fallbacks: 0,
        advice: null,
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
    group.hosts.add(host);
    group.firstMs = Math.min(group.firstMs, t);
    group.lastMs = Math.max(group.lastMs, t);
    const path = str(obj(line.request).path);
    if (path && group.paths.size < MAX_PATHS_PER_GROUP) group.paths.add(path);
    const status = line.response ? num(obj(line.response).status) : null;
    if (status === null) group.responses.none++;
    else if (status === 401) group.responses.rejected++;
    else if (status >= 200 && status < 500) group.responses.accepted++;
    else group.responses.other++;
    if (line.fallback) group.fallbacks++;
    group.advice ??= str(line.advice);
  }

  result(): Report {
    const groups: CallerGroup[] = [...this.groups.values()]
      .map(
        ({ hosts, paths, firstMs, lastMs, ...rest }) =>
          redactLine({
            ...rest,
            hosts: [...hosts].sort(),
            paths: [...paths].sort(),
            first_seen: new Date(firstMs).toISOString(),
            last_seen: new Date(lastMs).toISOString(),
          }).line,
      )
      .sort((a, b) => (a.kind === b.kind ? b.count - a.count : a.kind.localeCompare(b.kind)));
    const v1 = groups.filter((g) => g.kind === 'imdsv1');
    const seconds = this.fromMs !== null && this.toMs !== null ? (this.toMs - this.fromMs) / 1000 : 0;
    const hosts = [...this.hosts].sort();
    const where = hosts.length > 1 ? `on these ${hosts.length} hosts` : 'on this host';
    // Nothing observed is no evidence of safety: the answer is unknown, never YES.
    const observed = this.fromMs !== null;
    const safe = observed && v1.length === 0;
    const v1Requests = v1.reduce((n, g) => n + g.count, 0);
    const text = `HttpTokens=required is safe ${where}: ${this.answer(observed, seconds, v1.length, v1Requests)}`;
    const warnings: string[] = [];
    if (seconds < SHORT_WINDOW_SECONDS) {
      warnings.push(`observed for only ${formatDuration(seconds)}: programs that call IMDS daily or at boot may not have run yet`);
    }
    if (this.boots.size === 0) warnings.push('no daemon start (ready line) in the input: boot-time callers may be missing');
    const loss = [...this.lossByRun.values()];
    const total = (pick: (l: Loss) => number) => loss.reduce((n, l) => n + pick(l), 0);
    const lostEvents = total((l) => l.events);
    if (lostEvents > 0) warnings.push(`the kernel lost ${lostEvents} event(s): some requests may be missing from this report`);
    const lostProcessEvents = total((l) => l.processEvents);
    if (lostProcessEvents > 0) {
      warnings.push(`the kernel lost ${lostProcessEvents} process record(s): some callers may be attributed incompletely`);
    }
    const notWritten = total((l) => l.linesNotWritten);
    if (notWritten > 0) warnings.push(`the daemon could not write ${notWritten} log line(s): some requests may be missing`);
    for (const file of this.unreadable) warnings.push(`file not read to its end, later lines missing: ${file}`);
    if (this.corrupt > 0) warnings.push(`${this.corrupt} corrupt or truncated line(s) skipped`);
    const unknown = groups.filter((g) => g.kind === 'unknown').reduce((n, g) => n + g.count, 0);
    if (unknown > 0) warnings.push(`${unknown} request(s) could not be classified (header block not fully seen)`);
    return {
      verdict: { safe, observed, text, imdsv1_programs: v1.length, imdsv1_requests: v1Requests },
      observation: {
        hosts,
        boots: this.boots.size,
        from: this.fromMs === null ? null : new Date(this.fromMs).toISOString(),
        to: this.toMs === null ? null : new Date(this.toMs).toISOString(),
        seconds,
      },
      warnings,
      groups,
      input: { files: this.files, lines: this.lines, corrupt_lines: this.corrupt, unreadable_files: this.unreadable.length },
    };
  }
}
