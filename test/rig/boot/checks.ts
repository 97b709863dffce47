// What scripts/e2e-boot.sh decides from the booted system's logs, typed: each check reads
// the daemon's lines through the contract (readLogLines) and says in one result what it found
// and whether that is what the boot test requires. Pure over lines: no I/O here (check.ts
// reads the files and prints the results).
import type { LineOf, LogLine, RequestLine } from '../analyzer-process.js';

export interface CheckResult {
  ok: boolean;
  /** What was found, as the boot test prints it (one line each). */
  lines: string[];
}

type Lifecycle = LineOf<'ready'> | LineOf<'stats'> | LineOf<'stopping'>;

const requestsOf = (lines: readonly LogLine[]): RequestLine[] =>
  lines.filter((l): l is RequestLine => l.event === 'imds_request');
const lastOf = <E extends LogLine['event']>(lines: readonly LogLine[], event: E): LineOf<E> | undefined =>
  lines.filter((l): l is LineOf<E> => l.event === event).at(-1);

/** The stand-in cloud-init-local's IMDSv1 call: caught, with its unit and its argv; undefined while not logged. */
export function standInCaught(lines: readonly LogLine[], standInArgv: string): CheckResult | undefined {
  const line = requestsOf(lines).find((l) => l.process.comm === 'curl');
  if (!line) return undefined;
  const argv = line.process.argv.join(' ');
  return {
    ok: line.imds_version === 'v1' && line.unit === 'cloud-init-local.service' && argv === standInArgv,
    lines: [`caught: ${line.imds_version} ${line.request.path} unit=${line.unit} pid=${line.process.pid} argv=${argv}`],
  };
}

/** A stop loses no line: every request the stopping line counts is in the log, and the kernel lost none. */
export function stopLossless(lines: readonly LogLine[]): CheckResult {
  const stopping = lastOf(lines, 'stopping');
  if (!stopping) return { ok: false, lines: ['stop: no stopping line'] };
  const logged = requestsOf(lines).length;
  const counted = stopping.requests.v1 + stopping.requests.v2 + stopping.requests.unknown;
  const lost = stopping.kernel.events_lost;
  return {
    ok: logged === counted && lost === 0,
    lines: [`stop: ${logged} request lines, ${counted} counted by the daemon, kernel lost ${lost}`],
  };
}

/** The continuity client's record: its request numbers and the HTTP status each got ('000': no answer). */
export function parseClientRecord(text: string): Map<number, string> {
  const sent = new Map<number, string>();
  for (const row of text.split('\n')) {
    const [n, code] = row.split(' ');
    if (n && code) sent.set(Number(n), code);
  }
  return sent;
}

const PHASES: Record<string, string> = {
  start: 'before the faults',
  kill: 'through SIGKILL and the automatic restart',
  restart: 'through systemctl restart',
  upgrade: 'through rpm -U to a changed BPF object',
  relayout: 'through rpm -U to maps of a changed layout',
  end: 'after the upgrades',
};

/**
 * Every request the client made is logged exactly once, phase by phase. `marks` are
 * `<phase> <last request number sent before it ended>`, in order; the last phase runs to the
 * client's last request.
 */
export function continuity(lines: readonly LogLine[], sent: Map<number, string>, marks: string[]): CheckResult {
  const logged = new Map<number, number>();
  for (const line of requestsOf(lines)) {
    const n = /ami-id\?n=(\d+)$/.exec(line.request.path)?.[1];
    if (n !== undefined) logged.set(Number(n), (logged.get(Number(n)) ?? 0) + 1);
  }
  const out: string[] = [];
  let ok = true;
  let from = 1;
  const last = Math.max(0, ...sent.keys());
  for (const mark of [...marks, `end ${last}`]) {
    const [name = '', toText = ''] = mark.split(' ');
    const to = Number(toText);
    let made = 0;
    let once = 0;
    let failed = 0;
    const missing: number[] = [];
    const twice: number[] = [];
    for (let n = from; n <= to; n++) {
      const code = sent.get(n);
      if (code === undefined || code === '000') {
        failed++;
        continue;
      }
      made++;
      const count = logged.get(n) ?? 0;
      if (count === 1) once++;
      else if (count === 0) missing.push(n);
      else twice.push(n);
    }
    const some = (list: number[]) => (list.length ? ` ${list.slice(0, 10).join(',')}` : '');
    out.push(
      `continuity ${PHASES[name] ?? name}: requests ${from}..${to}: ${made} made, ${once} logged once, ` +
        `${missing.length} missing${some(missing)}, ${twice.length} logged twice${some(twice)}, ${failed} failed at the client`,
    );
    ok &&= missing.length === 0 && twice.length === 0 && failed === 0;
    from = to + 1;
  }
  return { ok, lines: out };
}

/** How each daemon took over: its ready line's handover, what its replay did not log again, how it stopped. */
export function handovers(lines: readonly LogLine[]): CheckResult {
  const lifecycle = lines.filter(
    (l): l is Lifecycle => l.event === 'ready' || l.event === 'stats' || l.event === 'stopping',
  );
  const out = lifecycle
    .filter((l): l is LineOf<'ready'> => l.event === 'ready' && l.handover !== undefined)
    .map((ready) => {
      const h = ready.handover;
      const own = lifecycle.filter((l) => l.pid === ready.pid);
      const stop = own.find((l): l is LineOf<'stopping'> => l.event === 'stopping');
      return (
        `daemon pid ${ready.pid} (${ready.version}): inherited ${h?.inherited_fds} fds, links kept ${h?.links_kept} / ` +
        `switched ${h?.links_updated} / attached ${h?.links_attached}, maps inherited ${h?.maps_inherited}, ` +
        `reused ${h?.maps_reused}, journal replayed ${h?.journaled_records} records, ` +
        `${own.at(-1)?.replayed_duplicates ?? 0} requests already logged not logged again; ` +
        `capture_continued ${ready.capture_continued}, capture_gap ${ready.capture_gap}; ` +
        (stop ? `stopping line, system_shutdown ${stop.system_shutdown}` : 'no stopping line')
      );
    });
  return { ok: true, lines: out };
}

/**
 * The takeovers since `sinceMs`: the crash, the restart and the same-layout upgrade continued
 * the capture; the changed layout reused no map and either drained the old ring (continued)
 * or names its gap.
 */
export function takeovers(lines: readonly LogLine[], sinceMs: number): CheckResult {
  const readies = lines.filter((l): l is LineOf<'ready'> => l.event === 'ready' && l.time >= sinceMs);
  const said = readies.map((r) => `${r.capture_continued}/${r.capture_gap}/${r.handover?.maps_reused}`);
  const continued = (r: LineOf<'ready'>) => r.capture_continued && r.capture_gap === null;
  const named = (r: LineOf<'ready'>) => continued(r) || (!r.capture_continued && (r.capture_gap ?? '') !== '');
  const relayout = readies[3];
  return {
    ok:
      readies.length === 4 &&
      readies.slice(0, 3).every(continued) &&
      relayout?.handover?.maps_reused === false &&
      named(relayout),
    lines: [
      `takeovers in the window (capture_continued/capture_gap/maps_reused): kill ${said[0]}, restart ${said[1]}, ` +
        `upgrade ${said[2]}, relayout ${said[3]}`,
    ],
  };
}

/** A stop then a start on one boot: the stop was no shutdown, and the start names the gap fresh_start. */
export function stopThenStart(lines: readonly LogLine[]): CheckResult {
  const stop = lastOf(lines, 'stopping');
  const ready = lastOf(lines, 'ready');
  return {
    ok: stop?.system_shutdown === false && ready?.capture_continued === false && ready.capture_gap === 'fresh_start',
    lines: [
      `systemctl stop: system_shutdown ${stop?.system_shutdown}; start: capture_continued ${ready?.capture_continued}, capture_gap ${ready?.capture_gap}`,
    ],
  };
}

/** At poweroff the last stopping line says the system was shutting down. */
export function poweroff(lines: readonly LogLine[]): CheckResult {
  const stop = lastOf(lines, 'stopping');
  return {
    ok: stop?.system_shutdown === true,
    lines: [`poweroff: the last stopping line (${stop?.signal}) says system_shutdown ${stop?.system_shutdown}`],
  };
}

/** What a person reading a failure wants of the daemon: its last ready, stats and stopping lines and its last errors. */
export function daemonCounters(lines: readonly LogLine[]): Record<string, unknown> {
  return {
    ready: lastOf(lines, 'ready') ?? null,
    stats: lastOf(lines, 'stats') ?? null,
    stopping: lastOf(lines, 'stopping') ?? null,
    errors: lines.filter((l) => l.event === 'error').slice(-20),
    request_lines: requestsOf(lines).length,
  };
}
