// What one host's lines prove: whether its daemon saw everything for long enough that
// "no IMDSv1 request" means "no IMDSv1 caller" (issue 12, item 8). A host is NO on one
// IMDSv1 request; YES only when every condition below holds; UNKNOWN otherwise, with one
// reason per missing condition saying what to do about it.
import { formatDuration } from './duration.js';
import { type Line, num, obj, str } from './line.js';
import type { Answer, HostVerdict, Reason } from './schema.js';

/**
 * A daemon whose READY came at most this long after the kernel started was started by the
 * boot itself: the unit runs before network-pre.target, which on EC2 is typically 3–15 s
 * after kernel start. Installing by user data (cloud-final) or by SSM happens later, after
 * cloud-init's own IMDS calls; 30 s separates the two on most instances (docs/report.md).
 */
export const EARLY_BOOT_MS = 30_000;
/** Default minimum observation: programs that run daily must have had their chance. */
export const DEFAULT_MIN_OBSERVED_MS = 24 * 3600_000;
/** Gaps named one by one in a reason; the rest are counted. */
const MAX_GAPS_NAMED = 3;

export interface EvidenceRules {
  minObservedMs: number;
  requireBootFromStart: boolean;
}

/** One daemon run (a boot and a pid): its loss counters are cumulative since its start. */
interface Run {
  boot: string;
  firstMs: number;
  lastMs: number;
  readies: number;
  /** ready lines saying the kernel kept capturing since the previous run on this boot stopped. */
  continuedReadies: number;
  /** The run's start, in ms since the kernel started (its ready line's uptime_ms). */
  uptimeMs: number | null;
  eventsLost: number;
  perfLost: number;
  decodeErrors: number;
  processLost: number;
  linesNotWritten: number;
}

export interface BootCoverage {
  boot: string;
  fromMs: number;
  toMs: number;
  /** A run on this boot started by the boot itself (ready at most EARLY_BOOT_MS after kernel start). */
  fromStart: boolean;
  runs: number;
  /** Uncovered gaps between runs on this boot. */
  gaps: number;
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function imdsv1Callers(programs: number, requests: number): string {
  return `${plural(programs, 'program')} still use${programs === 1 ? 's' : ''} IMDSv1 (${plural(requests, 'request')})`;
}
const iso = (ms: number) => new Date(ms).toISOString();
const sum = (runs: Run[], pick: (r: Run) => number) => runs.reduce((n, r) => n + pick(r), 0);

export class HostEvidence {
  firstMs = Infinity;
  lastMs = -Infinity;
  v1Requests = 0;
  unknownRequests = 0;
  private readonly boots = new Set<string>();
  private readonly runs = new Map<string, Run>();
  private readies = 0;
  private readiesWithoutUptime = 0;
  private earliestUptimeMs: number | null = null;

  constructor(
    readonly host: string,
    readonly instanceId: string | null,
    readonly hostname: string | null,
  ) {}

  get bootCount(): number {
    return this.boots.size;
  }

  /** Every line of this host that passed the filters. */
  see(line: Line, t: number): void {
    if (t < this.firstMs) this.firstMs = t;
    if (t > this.lastMs) this.lastMs = t;
    const boot = str(line.boot_id);
    const pid = num(line.pid);
    if (boot === null || pid === null) return;
    const event = line.event;
    const lifecycle = event === 'ready' || event === 'stats' || event === 'stopping';
    if (lifecycle) this.boots.add(boot);
    const run = this.run(boot, pid, t);
    if (t < run.firstMs) run.firstMs = t;
    if (t > run.lastMs) run.lastMs = t;
    if (event === 'ready') this.addReady(run, line);
    if (event === 'stats' || event === 'stopping') this.addCounters(run, line);
  }

  private run(boot: string, pid: number, t: number): Run {
    const key = `${boot}\u0000${pid}`;
    let run = this.runs.get(key);
    if (!run) {
      run = {
        boot,
        firstMs: t,
        lastMs: t,
        readies: 0,
        continuedReadies: 0,
        uptimeMs: null,
        eventsLost: 0,
        perfLost: 0,
        decodeErrors: 0,
        processLost: 0,
        linesNotWritten: 0,
      };
      this.runs.set(key, run);
    }
    return run;
  }

  private addReady(run: Run, line: Line): void {
    this.readies++;
    run.readies++;
    if (line.capture_continued === true) run.continuedReadies++;
    const uptime = num(line.uptime_ms);
    if (uptime === null) this.readiesWithoutUptime++;
    else {
      this.earliestUptimeMs = Math.min(this.earliestUptimeMs ?? Infinity, uptime);
      run.uptimeMs = Math.min(run.uptimeMs ?? Infinity, uptime);
    }
  }

  /** stats and stopping lines: the highest value of each cumulative counter per run. */
  private addCounters(run: Run, line: Line): void {
    const kernel = obj(line.kernel);
    run.eventsLost = Math.max(run.eventsLost, num(kernel.events_lost) ?? 0);
    run.perfLost = Math.max(run.perfLost, num(kernel.perf_buffer_lost) ?? 0);
    run.decodeErrors = Math.max(run.decodeErrors, num(line.decode_errors) ?? 0);
    run.processLost = Math.max(run.processLost, num(kernel.process_events_lost) ?? 0);
    run.linesNotWritten = Math.max(run.linesNotWritten, num(line.lines_not_written) ?? 0);
  }

  /** Request records that never became lines: the buffer was full, or a record was undecodable. */
  get lostRecords(): number {
    return sum([...this.runs.values()], (r) => r.eventsLost + r.perfLost + r.decodeErrors);
  }

  get lostProcessRecords(): number {
    return sum([...this.runs.values()], (r) => r.processLost);
  }

  get linesNotWritten(): number {
    return sum([...this.runs.values()], (r) => r.linesNotWritten);
  }

  /** Per boot: what its daemon runs covered, earliest boot first. */
  coverage(): BootCoverage[] {
    const byBoot = new Map<string, BootCoverage>();
    for (const run of this.runs.values()) {
      const seen = byBoot.get(run.boot);
      const fromStart = run.uptimeMs !== null && run.uptimeMs <= EARLY_BOOT_MS;
      if (seen) {
        seen.fromMs = Math.min(seen.fromMs, run.firstMs);
        seen.toMs = Math.max(seen.toMs, run.lastMs);
        seen.fromStart ||= fromStart;
        seen.runs++;
      } else {
        byBoot.set(run.boot, { boot: run.boot, fromMs: run.firstMs, toMs: run.lastMs, fromStart, runs: 1, gaps: 0 });
      }
    }
    for (const gap of this.uncoveredGaps()) {
      const boot = byBoot.get(gap.boot);
      if (boot) boot.gaps++;
    }
    return [...byBoot.values()].sort((a, b) => a.fromMs - b.fromMs);
  }

  /** Times between one run's last line and the next run's start on the same boot, unless the kernel kept capturing. */
  uncoveredGaps(): Array<{ boot: string; fromMs: number; toMs: number }> {
    const byBoot = new Map<string, Run[]>();
    for (const run of this.runs.values()) {
      const same = byBoot.get(run.boot);
      if (same) same.push(run);
      else byBoot.set(run.boot, [run]);
    }
    const gaps: Array<{ boot: string; fromMs: number; toMs: number }> = [];
    for (const [boot, runs] of byBoot) {
      runs.sort((a, b) => a.firstMs - b.firstMs);
      runs.forEach((next, i) => {
        const previous = runs[i - 1];
        if (previous && next.continuedReadies === 0) gaps.push({ boot, fromMs: previous.lastMs, toMs: next.firstMs });
      });
    }
    return gaps.sort((a, b) => a.fromMs - b.fromMs);
  }

  /** The conditions a YES needs that these lines do not meet, each with what to do. */
  missingEvidence(rules: EvidenceRules): Reason[] {
    const reasons: Reason[] = [];
    if (this.readies === 0) {
      reasons.push({
        code: 'no_daemon_start',
        message:
          'no daemon start (ready line) in the input: include the logs since the service started (rotated and .gz files too), or check that the service is enabled and running',
      });
    }
    if (rules.requireBootFromStart && !this.sawBootFromStart()) {
      const seen =
        this.earliestUptimeMs !== null
          ? `the earliest start seen was ${formatDuration(this.earliestUptimeMs / 1000)} after boot`
          : this.readiesWithoutUptime > 0
            ? 'its ready lines carry no uptime_ms: they come from an older daemon'
            : 'no start seen';
      reasons.push({
        code: 'no_boot_from_start',
        message: `no boot observed from its start (a ready line at most ${EARLY_BOOT_MS / 1000} s after boot; ${seen}): boot-time callers such as cloud-init and user data may be missing; reboot once with the service enabled, or pass --allow-no-boot`,
      });
    }
    const seconds = this.seconds();
    if (seconds * 1000 < rules.minObservedMs) {
      reasons.push({
        code: 'short_window',
        message: `observed for only ${formatDuration(seconds)}, less than the ${formatDuration(rules.minObservedMs / 1000)} minimum: programs that run daily may not have run yet; keep observing, or pass --min-observed`,
      });
    }
    const lost = this.lostRecords;
    if (lost > 0) {
      reasons.push({
        code: 'lost_records',
        message: `${plural(lost, 'request record')} lost (events_lost, perf_buffer_lost, decode_errors in stats/stopping lines): IMDSv1 requests may be among them; enlarge the buffer (buffer.ringSizeKB) and observe a window without loss`,
      });
    }
    const notWritten = this.linesNotWritten;
    if (notWritten > 0) {
      reasons.push({
        code: 'lines_not_written',
        message: `the daemon could not write ${plural(notWritten, 'log line')} (disk full or write errors): free space in the log directory and observe a window without loss`,
      });
    }
    const gaps = this.uncoveredGaps();
    const lastGap = gaps.at(-1);
    if (lastGap) {
      const named = gaps.slice(0, MAX_GAPS_NAMED).map((g) => `${iso(g.fromMs)} .. ${iso(g.toMs)} (boot ${g.boot})`);
      const more = gaps.length > MAX_GAPS_NAMED ? ` and ${gaps.length - MAX_GAPS_NAMED} more` : '';
      reasons.push({
        code: 'uncovered_restart',
        message: `no daemon was capturing ${named.join(', ')}${more} (a stop or crash, then a restart on the same boot): requests then were not seen; report over a later boot, observed from its start (--since after ${iso(lastGap.toMs)})`,
      });
    }
    if (this.unknownRequests > 0) {
      reasons.push({
        code: 'unclassified_requests',
        message: `${plural(this.unknownRequests, 'AWS-path request')} could not be classified as IMDSv1 or IMDSv2 (imds_version "unknown"): any of them may be IMDSv1; find the program in the "unknown" group and check how it calls IMDS`,
      });
    }
    return reasons;
  }

  private sawBootFromStart(): boolean {
    return this.earliestUptimeMs !== null && this.earliestUptimeMs <= EARLY_BOOT_MS;
  }

  seconds(): number {
    return this.lastMs >= this.firstMs ? (this.lastMs - this.firstMs) / 1000 : 0;
  }

  verdict(imdsv1Programs: string[], rules: EvidenceRules): HostVerdict {
    const missing = this.missingEvidence(rules);
    const callers: Reason[] =
      this.v1Requests > 0
        ? [{ code: 'imdsv1_callers', message: imdsv1Callers(imdsv1Programs.length, this.v1Requests) }]
        : [];
    const answer: Answer = this.v1Requests > 0 ? 'NO' : missing.length > 0 ? 'UNKNOWN' : 'YES';
    return {
      host: this.host,
      instance_id: this.instanceId,
      hostname: this.hostname,
      verdict: answer,
      reasons: [...callers, ...missing],
      imdsv1_programs: imdsv1Programs,
      imdsv1_requests: this.v1Requests,
      boots: this.boots.size,
      first_seen: iso(this.firstMs),
      last_seen: iso(this.lastMs),
      seconds: this.seconds(),
      coverage: this.coverage().map((c) => ({
        boot_id: c.boot,
        from: iso(c.fromMs),
        to: iso(c.toMs),
        seconds: (c.toMs - c.fromMs) / 1000,
        from_start: c.fromStart,
        runs: c.runs,
        uncovered_gaps: c.gaps,
      })),
    };
  }
}
