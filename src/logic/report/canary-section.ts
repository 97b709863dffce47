// The report's canary section (docs/canary.md): per canary (a host, a target and its end
// time), the requests it made IMDS refuse, grouped by program as the caller groups are, the
// statuses IMDS answered them with, what became of the target meanwhile (the daemon's
// `canary_target` lines: restarts, failed state, an emptied or removed cgroup), the kernel's
// counters at its end, and advice. Tokenless requests its target made in its window that it
// did not refuse (a unit's first requests after a restart, before the canary re-attached) are
// counted as escaped: a canary with escapes is never safe. Lines come in any order and from any
// number of readers (takePartial / absorb): every state here is plain data, merged by time,
// never by order; a canary's window may be known only once every reader's part is in.
import type { StoredLineOf, StoredLogLine } from '../../model/stored-line.js';
import { adviceFor } from '../advice.js';
import { redactArgv, redactLine } from '../redact.js';
import { formatDuration, plural } from './duration.js';
import { programOf } from './program.js';
import { inSubtree } from '../canary.js';
import type { CanaryProgram, CanarySection, EscapedProgram, Outcome } from './canary-schema.js';

/** Programs listed per canary; the requests of the rest are counted. */
const MAX_PROGRAMS = 100;
const MAX_PATHS = 10;
/** Kernel counters of requests the canary let pass without judging them (bpf/imds_canary.h). */
const LEFT_ALONE = /^left_alone/;
const KEY_SEPARATOR = '\u0000';
/**
 * Times of tokenless requests no canary refused kept per reader (8 bytes each): beyond it they
 * are only counted, with their span, and a canary whose window that span meets is not judged safe.
 */
const MAX_UNREFUSED_KEPT = 1_000_000;

type RequestLine = StoredLineOf<'imds_request'>;
type TargetLine = StoredLineOf<'canary_target'>;

interface Snapshot {
  t: number;
  cgroupState: string | null;
  recreated: number;
  activeState: string | null;
  result: string | null;
  nRestarts: number | null;
}

interface ProgramState extends Omit<CanaryProgram, 'first_seen' | 'last_seen' | 'paths'> {
  firstMs: number;
  lastMs: number;
  paths: string[];
}

/** One canary as its lines tell it. */
export interface CanaryState {
  host: string;
  target: string;
  until: string;
  cgroup: string | null;
  startMs: number | null;
  endMs: number | null;
  endReason: string | null;
  /** The kernel's counters on its end line. */
  kernel: Record<string, number> | null;
  /** Any of its lines within the report's window. */
  inWindow: boolean;
  lastMs: number;
  refused: number;
  answered: Record<string, number>;
  programs: Map<string, ProgramState>;
  programsUnlisted: number;
  /** The target's first and latest state, and what was seen in between. */
  first: Snapshot | null;
  last: Snapshot | null;
  targetLines: number;
  systemdSeen: boolean;
  failedSeen: boolean;
  results: string[];
  stoppedSeen: boolean;
  maxRecreated: number;
  minRestarts: number | null;
  maxRestarts: number | null;
}

/** Tokenless requests of one cgroup of a host that no canary refused. */
interface Unrefused {
  host: string;
  cgroup: string;
  /** When each was made (ms), by the report's caller group. */
  times: Map<string, number[]>;
  /** Requests beyond MAX_UNREFUSED_KEPT: counted, with their span. */
  unkept: number;
  unkeptFromMs: number;
  unkeptToMs: number;
}

export interface CanaryPartial {
  canaries: Map<string, CanaryState>;
  /** By host, then cgroup. */
  unrefused: Map<string, Map<string, Unrefused>>;
}

/** What the report's caller group of an escaped request shows (its key as the caller groups have it). */
export type EscapedIdentity = Pick<EscapedProgram, 'command' | 'script' | 'exe' | 'unit' | 'sdk'>;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function statusKey(line: RequestLine): string {
  const status = line.response?.status;
  return status === undefined || status === null ? 'none' : String(status);
}

function mergeCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
}

function minOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

function maxOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

function earlier(a: Snapshot | null, b: Snapshot | null): Snapshot | null {
  return a === null || (b !== null && b.t < a.t) ? b : a;
}

function later(a: Snapshot | null, b: Snapshot | null): Snapshot | null {
  return a === null || (b !== null && b.t >= a.t) ? b : a;
}

export class CanaryEvidence {
  private canaries = new Map<string, CanaryState>();
  private unrefused = new Map<string, Map<string, Unrefused>>();
  private kept = 0;

  /** `maxKept`: times of unrefused tokenless requests kept before they are only counted. */
  constructor(private readonly maxKept = MAX_UNREFUSED_KEPT) {}

  /** A line of a host (`host` is the report's name for it); `inWindow`: within --since/--until. */
  see(line: StoredLogLine, t: number, host: string, inWindow: boolean): void {
    if (line.event === 'imds_request') {
      if (line.canary?.target !== undefined && line.canary.until !== undefined && inWindow)
        this.addRefused(this.canary(host, line.canary.target, line.canary.until), line, t);
    } else if (line.event === 'canary') {
      if (line.target === undefined || line.until === undefined) return;
      const canary = this.canary(host, line.target, line.until);
      canary.inWindow ||= inWindow;
      canary.lastMs = Math.max(canary.lastMs, t);
      canary.cgroup ??= line.cgroup ?? null;
      const startedAt = line.started_at === undefined ? Number.NaN : Date.parse(line.started_at);
      if (line.action === 'started') canary.startMs = minOf(canary.startMs, t);
      else if (!Number.isNaN(startedAt)) canary.startMs = minOf(canary.startMs, startedAt);
      if (line.action === 'ended') {
        canary.endMs = t;
        canary.endReason = line.reason ?? null;
        canary.kernel = line.kernel ? ({ ...line.kernel } as Record<string, number>) : null;
      }
    } else if (line.event === 'canary_target') {
      if (line.target === undefined || line.until === undefined || !inWindow) return;
      this.addTargetState(this.canary(host, line.target, line.until), line, t);
    }
  }

  /**
   * A tokenless request within the report's window whose line names no canary, made in `cgroup`
   * by the caller group `group`: it escaped every canary whose subtree and window hold it.
   */
  seeUnrefused(host: string, cgroup: string, group: string, t: number): void {
    const entry = this.unrefusedOf(host, cgroup);
    if (this.kept >= this.maxKept) {
      addUnkept(entry, 1, t, t);
      return;
    }
    this.kept++;
    const times = entry.times.get(group);
    if (times) times.push(t);
    else entry.times.set(group, [t]);
  }

  private unrefusedOf(host: string, cgroup: string): Unrefused {
    let cgroups = this.unrefused.get(host);
    if (!cgroups) {
      cgroups = new Map();
      this.unrefused.set(host, cgroups);
    }
    let entry = cgroups.get(cgroup);
    if (!entry) {
      entry = {
        host,
        cgroup,
        times: new Map(),
        unkept: 0,
        unkeptFromMs: Number.POSITIVE_INFINITY,
        unkeptToMs: Number.NEGATIVE_INFINITY,
      };
      cgroups.set(cgroup, entry);
    }
    return entry;
  }

  private canary(host: string, target: string, until: string): CanaryState {
    const key = [host, target, until].join(KEY_SEPARATOR);
    let canary = this.canaries.get(key);
    if (!canary) {
      canary = {
        host,
        target,
        until,
        cgroup: null,
        startMs: null,
        endMs: null,
        endReason: null,
        kernel: null,
        inWindow: false,
        lastMs: Number.NEGATIVE_INFINITY,
        refused: 0,
        answered: {},
        programs: new Map(),
        programsUnlisted: 0,
        first: null,
        last: null,
        targetLines: 0,
        systemdSeen: false,
        failedSeen: false,
        results: [],
        stoppedSeen: false,
        maxRecreated: 0,
        minRestarts: null,
        maxRestarts: null,
      };
      this.canaries.set(key, canary);
    }
    return canary;
  }

  private addRefused(canary: CanaryState, line: RequestLine, t: number): void {
    canary.inWindow = true;
    canary.lastMs = Math.max(canary.lastMs, t);
    canary.refused++;
    const status = statusKey(line);
    canary.answered[status] = (canary.answered[status] ?? 0) + 1;
    const argv = line.process?.argv ?? [];
    const identity =
      argv.length > 0
        ? programOf(
            redactArgv(argv).argv,
            (line.ancestors ?? []).map((a) => redactArgv(a.argv ?? []).argv),
          )
        : null;
    const command = identity?.command ?? line.process?.comm ?? '(unknown process)';
    const sdk = line.sdk?.name === undefined ? null : line.sdk;
    const key = [line.process?.exe ?? null, identity?.key ?? command, line.unit ?? null, sdk?.name, sdk?.version].join(
      KEY_SEPARATOR,
    );
    let program = canary.programs.get(key);
    if (!program) {
      if (canary.programs.size >= MAX_PROGRAMS) {
        canary.programsUnlisted++;
        return;
      }
      const sdkInfo = sdk
        ? {
            name: sdk.name as string,
            version: sdk.version ?? null,
            min_imdsv2_version: sdk.min_imdsv2_version ?? null,
            supports_imdsv2: sdk.supports_imdsv2 ?? null,
          }
        : null;
      program = {
        command,
        script: identity?.script ?? null,
        exe: line.process?.exe ?? null,
        unit: line.unit ?? null,
        sdk: sdkInfo,
        count: 0,
        answered: {},
        paths: [],
        firstMs: t,
        lastMs: t,
        advice:
          line.advice ??
          adviceFor({
            imds_version: 'v1',
            aws_api: line.aws_api !== false,
            sdk: sdkInfo,
            fallback: line.fallback?.reason === undefined ? null : { reason: line.fallback.reason },
            container: line.container ?? null,
            status: line.response?.status ?? null,
            comm: line.process?.comm ?? null,
            canary: true,
          }),
      };
      canary.programs.set(key, program);
    }
    program.count++;
    program.answered[status] = (program.answered[status] ?? 0) + 1;
    program.firstMs = Math.min(program.firstMs, t);
    program.lastMs = Math.max(program.lastMs, t);
    const path = line.request?.path;
    if (path !== undefined && program.paths.length < MAX_PATHS && !program.paths.includes(path))
      program.paths.push(path);
  }

  private addTargetState(canary: CanaryState, line: TargetLine, t: number): void {
    canary.inWindow = true;
    canary.lastMs = Math.max(canary.lastMs, t);
    canary.targetLines++;
    const systemd = line.systemd ?? null;
    const snapshot: Snapshot = {
      t,
      cgroupState: line.cgroup_state ?? null,
      recreated: line.recreated ?? 0,
      activeState: systemd?.active_state ?? null,
      result: systemd?.result ?? null,
      nRestarts: systemd?.n_restarts ?? null,
    };
    canary.first = earlier(canary.first, snapshot);
    canary.last = later(canary.last, snapshot);
    canary.maxRecreated = Math.max(canary.maxRecreated, snapshot.recreated);
    if (snapshot.cgroupState === 'empty' || snapshot.cgroupState === 'absent') canary.stoppedSeen = true;
    if (systemd) canary.systemdSeen = true;
    if (snapshot.activeState === 'failed') canary.failedSeen = true;
    if (snapshot.result && snapshot.result !== 'success' && !canary.results.includes(snapshot.result))
      canary.results.push(snapshot.result);
    canary.minRestarts = minOf(canary.minRestarts, snapshot.nRestarts);
    canary.maxRestarts = maxOf(canary.maxRestarts, snapshot.nRestarts);
  }

  /** What was read since the last call, handed over and forgotten here (plain data: a worker may clone it). */
  takePartial(): CanaryPartial {
    const partial = { canaries: this.canaries, unrefused: this.unrefused };
    this.canaries = new Map();
    this.unrefused = new Map();
    this.kept = 0;
    return partial;
  }

  /** Another reader's part, added. */
  absorb(partial: CanaryPartial): void {
    for (const other of [...partial.unrefused.values()].flatMap((cgroups) => [...cgroups.values()])) {
      const entry = this.unrefusedOf(other.host, other.cgroup);
      addUnkept(entry, other.unkept, other.unkeptFromMs, other.unkeptToMs);
      for (const [group, times] of other.times) {
        const room = Math.max(0, Math.min(times.length, this.maxKept - this.kept));
        this.kept += room;
        const mine = entry.times.get(group);
        if (mine) for (let i = 0; i < room; i++) mine.push(times[i] as number);
        else if (room > 0) entry.times.set(group, times.slice(0, room));
        for (let i = room; i < times.length; i++) addUnkept(entry, 1, times[i] as number, times[i] as number);
      }
    }
    for (const other of partial.canaries.values()) {
      const canary = this.canary(other.host, other.target, other.until);
      canary.cgroup ??= other.cgroup;
      canary.startMs = minOf(canary.startMs, other.startMs);
      if (other.endMs !== null) {
        canary.endMs = other.endMs;
        canary.endReason = other.endReason;
        canary.kernel = other.kernel;
      }
      canary.inWindow ||= other.inWindow;
      canary.lastMs = Math.max(canary.lastMs, other.lastMs);
      canary.refused += other.refused;
      mergeCounts(canary.answered, other.answered);
      for (const [key, program] of other.programs) {
        const mine = canary.programs.get(key);
        if (!mine) {
          if (canary.programs.size >= MAX_PROGRAMS) canary.programsUnlisted += program.count;
          else canary.programs.set(key, program);
          continue;
        }
        mine.count += program.count;
        mergeCounts(mine.answered, program.answered);
        mine.firstMs = Math.min(mine.firstMs, program.firstMs);
        mine.lastMs = Math.max(mine.lastMs, program.lastMs);
        for (const path of program.paths)
          if (mine.paths.length < MAX_PATHS && !mine.paths.includes(path)) mine.paths.push(path);
      }
      canary.programsUnlisted += other.programsUnlisted;
      canary.first = earlier(canary.first, other.first);
      canary.last = later(canary.last, other.last);
      canary.targetLines += other.targetLines;
      canary.systemdSeen ||= other.systemdSeen;
      canary.failedSeen ||= other.failedSeen;
      for (const result of other.results) if (!canary.results.includes(result)) canary.results.push(result);
      canary.stoppedSeen ||= other.stoppedSeen;
      canary.maxRecreated = Math.max(canary.maxRecreated, other.maxRecreated);
      canary.minRestarts = minOf(canary.minRestarts, other.minRestarts);
      canary.maxRestarts = maxOf(canary.maxRestarts, other.maxRestarts);
    }
  }

  /**
   * The section: one entry per canary with a line in the window, by host, then start;
   * `identity` names the caller group of an escaped request.
   */
  result(identity: (group: string) => EscapedIdentity | undefined): CanarySection[] {
    return [...this.canaries.values()]
      .filter((c) => c.inWindow)
      .map((c) => sectionOf(c, this.escapesOf(c, identity)))
      .sort(
        (a, b) =>
          a.host.localeCompare(b.host) ||
          (a.started_at ?? a.until).localeCompare(b.started_at ?? b.until) ||
          a.target.localeCompare(b.target) ||
          a.until.localeCompare(b.until),
      );
  }

  /** The tokenless requests of the canary's subtree within its window that it did not refuse. */
  private escapesOf(c: CanaryState, identity: (group: string) => EscapedIdentity | undefined): Escapes {
    const fromMs = c.startMs;
    const toMs = c.endMs ?? (Number.isFinite(c.lastMs) ? c.lastMs : null);
    if (c.cgroup === null || fromMs === null || toMs === null) return { escaped: null, programs: [], unchecked: 0 };
    const root = c.cgroup;
    const counts = new Map<string, { count: number; firstMs: number; lastMs: number }>();
    let unchecked = 0;
    for (const entry of this.unrefused.get(c.host)?.values() ?? []) {
      if (!inSubtree(entry.cgroup, root)) continue;
      if (entry.unkept > 0 && entry.unkeptFromMs <= toMs && entry.unkeptToMs >= fromMs) unchecked += entry.unkept;
      for (const [group, times] of entry.times)
        for (const t of times) {
          if (t < fromMs || t > toMs) continue;
          const seen = counts.get(group);
          if (seen) {
            seen.count++;
            seen.firstMs = Math.min(seen.firstMs, t);
            seen.lastMs = Math.max(seen.lastMs, t);
          } else counts.set(group, { count: 1, firstMs: t, lastMs: t });
        }
    }
    const programs: EscapedProgram[] = [...counts]
      .map(([group, { count, firstMs, lastMs }]) => {
        const named = identity(group);
        return redactLine({
          command: named?.command ?? '(unknown process)',
          script: named?.script ?? null,
          exe: named?.exe ?? null,
          unit: named?.unit ?? null,
          sdk: named?.sdk ?? null,
          count,
          first_seen: iso(firstMs) as string,
          last_seen: iso(lastMs) as string,
        }).line;
      })
      .sort((a, b) => b.count - a.count || a.command.localeCompare(b.command));
    return { escaped: programs.reduce((n, p) => n + p.count, 0), programs, unchecked };
  }
}

interface Escapes {
  escaped: number | null;
  programs: EscapedProgram[];
  unchecked: number;
}

function addUnkept(entry: Unrefused, n: number, fromMs: number, toMs: number): void {
  if (n === 0) return;
  entry.unkept += n;
  entry.unkeptFromMs = Math.min(entry.unkeptFromMs, fromMs);
  entry.unkeptToMs = Math.max(entry.unkeptToMs, toMs);
}

function sectionOf(c: CanaryState, escapes: Escapes): CanarySection {
  const programs: CanaryProgram[] = [...c.programs.values()]
    .sort((a, b) => b.count - a.count)
    .map(
      ({ firstMs, lastMs, ...rest }) =>
        redactLine({ ...rest, first_seen: iso(firstMs) as string, last_seen: iso(lastMs) as string }).line,
    );
  const endMs = c.endMs ?? (Number.isFinite(c.lastMs) ? c.lastMs : null);
  const seconds = c.startMs !== null && endMs !== null ? Math.max(0, (endMs - c.startMs) / 1000) : null;
  const recreated = c.maxRecreated;
  const systemdRestarts = c.minRestarts !== null && c.maxRestarts !== null ? c.maxRestarts - c.minRestarts : null;
  const unit: CanarySection['unit'] = {
    evidence: c.systemdSeen ? 'systemd' : c.targetLines > 0 ? 'cgroup' : 'none',
    restarts: c.targetLines > 0 ? Math.max(recreated, systemdRestarts ?? 0) : null,
    failed: c.systemdSeen ? c.failedSeen : null,
    results: [...c.results].sort(),
    stopped: c.targetLines > 0 ? c.stoppedSeen : null,
    final_state: c.last?.activeState ?? c.last?.cgroupState ?? null,
  };
  const kernel = c.kernel;
  const section: Omit<CanarySection, 'outcome' | 'advice'> = {
    host: c.host,
    target: c.target,
    cgroup: c.cgroup,
    started_at: iso(c.startMs),
    until: c.until,
    ended_at: iso(c.endMs),
    end_reason: c.endReason,
    seconds,
    refused: c.refused,
    answered: { ...c.answered },
    programs,
    programs_unlisted: c.programsUnlisted,
    escaped: escapes.escaped,
    escaped_programs: escapes.programs,
    escapes_unchecked: escapes.unchecked,
    kernel,
    unit,
  };
  const { outcome, advice } = judge(section);
  return { ...section, outcome, advice };
}

const sum = (counts: Record<string, number>, keep: (key: string) => boolean) =>
  Object.entries(counts).reduce((n, [key, value]) => (keep(key) ? n + value : n), 0);

/** What the canary shows about its target, and what to do: pure, from the section's own numbers. */
export function judge(s: Omit<CanarySection, 'outcome' | 'advice'>): { outcome: Outcome; advice: string[] } {
  const advice: string[] = [];
  const during = s.seconds === null ? 'while it ran' : `in ${formatDuration(s.seconds)}`;
  const accepted = sum(s.answered, (status) => /^2\d\d$/.test(status));
  const kernelRefused = s.kernel?.refused ?? 0;
  const leftAlone = s.kernel ? sum(s.kernel, (name) => LEFT_ALONE.test(name)) : 0;
  const fate = unitFate(s.unit);
  const escaped = escapeAdvice(s, leftAlone);
  if (accepted > 0) {
    advice.push(
      `IMDS answered ${plural(accepted, 'refused request')} 2xx: on this instance IMDS does not refuse the canary's invalid token, so this canary proves nothing here (docs/canary.md); HttpTokens=required still refuses them.`,
      ...escaped,
    );
    return { outcome: 'imds_did_not_refuse', advice };
  }
  if (s.refused > 0 || kernelRefused > 0) {
    for (const p of s.programs) {
      const sdk = p.sdk ? ` (${p.sdk.name} ${p.sdk.version ?? ''})`.replace(' )', ')') : '';
      advice.push(
        `${p.command}${sdk}: ${plural(p.count, 'tokenless request')} refused as HttpTokens=required would; ${p.advice ?? 'make it fetch a token first'}`,
      );
    }
    if (s.refused < kernelRefused)
      advice.push(
        `the kernel refused ${kernelRefused} request(s), ${s.refused} logged in full: the others were counted in their program's summary lines (bounded evidence) or not captured (see the report's evidence reasons).`,
      );
    advice.push(
      fate.broke
        ? `${s.target} ${fate.text} while refused: it breaks under HttpTokens=required until the programs above are fixed.`
        : `${s.target} ${fate.text}: check that what the refused requests were for (credentials, region, tags) is not silently missing; fix the programs above before requiring IMDSv2.`,
      ...escaped,
    );
    return { outcome: 'refused', advice };
  }
  if (escaped.length > 0) return { outcome: 'escaped', advice: escaped };
  if (s.kernel === null) {
    advice.push(
      `no refused request was logged ${during}, but the canary's end line (its kernel counters) is not in the input (it still ran, or its daemon was killed): whether the workload called IMDS is unknown; report once it ended (expiry or canary stop).`,
    );
    return { outcome: 'incomplete', advice };
  }
  if (leftAlone > 0) {
    advice.push(
      `no tokenless request refused ${during}, but ${plural(leftAlone, 'request')} the canary could not judge passed unchanged (kernel counters left_alone_*): not proven safe.`,
    );
    return { outcome: 'incomplete', advice };
  }
  if (s.escaped === null || s.escapes_unchecked > 0) {
    advice.push(
      s.escaped === null
        ? `no tokenless request refused ${during}, but the canary's cgroup or start is not in the input: whether requests of ${s.target} escaped it is unknown; not proven safe.`
        : `no tokenless request refused ${during}, but ${plural(s.escapes_unchecked, 'tokenless request')} of its cgroup around its window were beyond what the report keeps in memory, so escapes among them were not counted: report over a shorter window (--since/--until); not proven safe.`,
    );
    return { outcome: 'incomplete', advice };
  }
  const passed = s.kernel.passed_token ?? 0;
  if (passed === 0 && (s.kernel.sockets ?? 0) === 0) {
    advice.push(
      `the workload made no IMDS connection ${during}: the canary proves nothing about it; run it over a window in which the workload uses IMDS (its start, a credential refresh).`,
    );
    return { outcome: 'no_imds_requests', advice };
  }
  advice.push(
    `no tokenless request refused ${during} (${plural(passed, 'request')} with a token passed): HttpTokens=required is safe for this workload, as far as it called IMDS in this window.`,
  );
  if (fate.broke)
    advice.push(`${s.target} ${fate.text} meanwhile, though IMDS refused nothing: look for another cause.`);
  return { outcome: 'safe', advice };
}

/**
 * Tokenless requests of the target the canary did not refuse: each program, then why it can
 * happen and what to do (none when nothing escaped).
 */
function escapeAdvice(s: Omit<CanarySection, 'outcome' | 'advice'>, leftAlone: number): string[] {
  if (!s.escaped) return [];
  const advice = s.escaped_programs.map((p) => {
    const sdk = p.sdk ? ` (${p.sdk.name} ${p.sdk.version ?? ''})`.replace(' )', ')') : '';
    return `${p.command}${sdk}: ${plural(p.count, 'tokenless request')} escaped the canary (not refused, IMDS answered as without it); HttpTokens=required will refuse them.`;
  });
  const restarts = s.unit.restarts ?? 0;
  const causes: string[] = [];
  if (restarts > 0 && s.target.startsWith('unit:'))
    causes.push(
      `the unit restarted ${plural(restarts, 'time')} and its first requests were made before the canary re-attached to its new cgroup (it attaches when it sees the new cgroup made)`,
    );
  else if (restarts > 0 || s.unit.stopped)
    causes.push('its cgroup was made anew (a restart), and a canary on a cgroup or container does not follow it');
  if (leftAlone > 0)
    causes.push(`the canary left ${plural(leftAlone, 'request')} alone (kernel counters left_alone_*)`);
  causes.push('a connection opened before the canary started is not in its map');
  advice.push(
    `${s.target}: ${plural(s.escaped, 'tokenless request')} escaped the canary, so this window does not prove the workload safe: ${causes.join('; or ')}. Rerun the canary over a window in which the target does not restart, or fix the programs above before requiring IMDSv2.`,
  );
  return advice;
}

/** What became of the target, in words, and whether it broke (failed or restarted). */
function unitFate(unit: CanarySection['unit']): { text: string; broke: boolean } {
  if (unit.evidence === 'none') return { text: 'left no state line (what became of it is unknown)', broke: false };
  const parts: string[] = [];
  if (unit.restarts) parts.push(`restarted ${plural(unit.restarts, 'time')}`);
  if (unit.failed) parts.push(`entered the failed state${unit.results.length ? ` (${unit.results.join(', ')})` : ''}`);
  else if (unit.results.length > 0) parts.push(`had the result ${unit.results.join(', ')}`);
  if (parts.length > 0) return { text: parts.join(' and '), broke: true };
  if (unit.stopped) return { text: 'had no process at some point (stopped or between runs)', broke: false };
  return {
    text: `kept running (no restart${unit.evidence === 'systemd' ? ', not failed' : ' seen in its cgroup'})`,
    broke: false,
  };
}

/** `401 ×3, none ×1`: what IMDS answered, the most frequent first. */
export function answeredText(answered: Record<string, number>): string {
  const entries = Object.entries(answered).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.length === 0 ? '-' : entries.map(([status, n]) => `${status} ×${n}`).join(', ');
}

/** A canary's facts as label and text, in the order every format shows them. */
export function canaryFacts(s: CanarySection): Array<[string, string]> {
  const k = s.kernel;
  const window = `${s.started_at ?? '(start not in the input)'} .. ${s.ended_at ?? `(no end line; until ${s.until})`}`;
  const u = s.unit;
  const fate =
    u.evidence === 'none'
      ? 'no state line (a daemon before canary_target lines, or none written)'
      : [
          `restarts ${u.restarts ?? '?'}`,
          `failed ${u.failed === null ? 'unknown (no systemd)' : u.failed ? `yes${u.results.length ? ` (${u.results.join(', ')})` : ''}` : 'no'}`,
          `without a process ${u.stopped ? 'at some point' : 'never'}`,
          `last ${u.final_state ?? '-'}`,
          `from ${u.evidence}`,
        ].join(', ');
  return [
    [
      'window',
      `${window}${s.seconds === null ? '' : ` (${formatDuration(s.seconds)})`}${s.end_reason ? `, ended: ${s.end_reason}` : ''}`,
    ],
    ['cgroup', s.cgroup ?? '-'],
    [
      'refused',
      `${s.refused} request(s) by ${plural(s.programs.length, 'program')}; IMDS answered ${answeredText(s.answered)}`,
    ],
    [
      'escaped',
      s.escaped === null
        ? "unknown (the canary's cgroup or start is not in the input)"
        : `${s.escaped} tokenless request(s) of its subtree not refused, by ${plural(s.escaped_programs.length, 'program')}${s.escapes_unchecked > 0 ? `; ${s.escapes_unchecked} not checked (beyond the report's memory bound)` : ''}`,
    ],
    [
      'kernel',
      k === null
        ? 'no end line: counters unknown'
        : Object.entries(k)
            .filter(([, n]) => n > 0)
            .map(([name, n]) => `${name}=${n}`)
            .join(' ') || 'all 0',
    ],
    ['target', fate],
  ];
}
