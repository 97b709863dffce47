// The report's caller groups: requests (from request lines and summary lines) grouped by what
// an operator fixes (the program, its unit, its container, its SDK), with their hosts, paths,
// responses and, for the callers that decide the verdict, requests per hour. A group is made
// from its caller's first line; parts of the input read apart (workers) merge into exactly the
// groups of reading it all in order.
import type { StoredLineOf } from '../../model/stored-line.js';
import { adviceFor } from '../advice.js';
import { redactLine } from '../redact.js';
import type { SdkInfo } from '../sdk.js';
import { emptyPathCounts, mergePathCounts, type PathCounts } from './path-counts.js';
import { type Caller, ProgramIdentities, UNKNOWN_PROCESS } from './program.js';
import type { CallerGroup } from './schema.js';

type RequestLine = StoredLineOf<'imds_request'>;
type SummaryLine = StoredLineOf<'summary'>;
export type Kind = CallerGroup['kind'];

export interface GroupState
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

/** What a group keeps of its caller's first request (a summary line has no pid and no fallback). */
export interface FirstRequest {
  pid: number | null;
  fallbackReason: string | undefined;
  status: number | null;
  canary: boolean;
}

const HOUR_MS = 3600_000;

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

/** `requests` of a group's requests made on `host` at `t`. */
export function countRequests(group: GroupState, host: string, t: number, requests: number): void {
  group.count += requests;
  group.hosts.add(host);
  group.firstMs = Math.min(group.firstMs, t);
  group.lastMs = Math.max(group.lastMs, t);
  if (group.hourly) {
    const hour = Math.floor(t / HOUR_MS);
    group.hourly.set(hour, (group.hourly.get(hour) ?? 0) + requests);
  }
}

/** `requests` answered with `status` (null: no response seen); true when IMDS answered them 2xx. */
export function countResponses(group: GroupState, status: number | null, requests: number): boolean {
  if (status === null) group.responses.none += requests;
  else if (status === 401) group.responses.rejected += requests;
  else if (status >= 200 && status < 300) {
    group.responses.ok += requests;
    return true;
  } else group.responses.other += requests;
  return false;
}

export class CallerGroups {
  private readonly groups = new Map<string, GroupState>();
  private readonly identities = new ProgramIdentities();

  get(key: string): GroupState | undefined {
    return this.groups.get(key);
  }

  /** The groups made since the last call, handed over and forgotten here (ReportBuilder.takePartial). */
  take(): Map<string, GroupState> {
    const taken = new Map(this.groups);
    this.groups.clear();
    return taken;
  }

  /** Groups of a later part of the input added: the earlier part's example and advice stand, as they would reading in order. */
  absorb(groups: Map<string, GroupState>): void {
    for (const [key, other] of groups) {
      const group = this.groups.get(key);
      if (!group) {
        this.groups.set(key, other);
        continue;
      }
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

  /** The group of a request or summary line's caller (and its key), made from its first line. */
  groupOf(
    kind: Kind,
    line: RequestLine | SummaryLine,
    first: FirstRequest,
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

  /**
   * The groups as the report shows them, by kind, the busiest first. Logs written before
   * redaction existed may hold secrets: what is shown is redacted again.
   */
  results(): CallerGroup[] {
    return [...this.groups.values()]
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
  }
}
