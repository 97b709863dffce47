// The verdict over every host the report judges: its reasons (one host's own, or per
// condition the number of hosts it concerns) and the sentence that states it. An operator
// reads the sentence first, so it names each missing condition briefly; the reasons say
// what to do about each.
import { formatDuration, plural } from './duration.js';
import { imdsv1Callers } from './host-evidence.js';
import type { Answer, HostVerdict, Reason, ReasonCode } from './schema.js';

/** Hosts listed NO first, then UNKNOWN, then YES: the ones to act on come first. */
export const ANSWER_ORDER: Record<Answer, number> = { NO: 0, UNKNOWN: 1, YES: 2 };
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

/** What the overall verdict is drawn from besides the hosts' own verdicts. */
export interface OverallInput {
  hosts: HostVerdict[];
  /** IMDSv1 programs and requests over all hosts. */
  programs: number;
  requests: number;
  /** Files not read to their end. */
  unreadableFiles: number;
  /** Whether --host, --since or --until narrowed the input. */
  filtered: boolean;
}

/** `value` added to the list kept under `key`. */
export function appendTo<K>(map: Map<K, string[]>, key: K, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** One host: its reasons. Many: one reason per condition, counting the hosts it concerns. */
export function overallReasons({ hosts, programs, requests, unreadableFiles, filtered }: OverallInput): Reason[] {
  const reasons: Reason[] = [];
  if (hosts.length === 0) {
    reasons.push({
      code: 'no_lines',
      message: `no log line in the input${filtered ? ' matches the filters' : ''}: point the report at the daemon's log directory or collected logs`,
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
  if (unreadableFiles > 0) {
    reasons.push({
      code: 'input_incomplete',
      message: `${plural(unreadableFiles, 'file')} not read to the end (named in the warnings): lines in them may be missing; read a complete copy`,
    });
  }
  return reasons;
}

/** The verdict sentence after "HttpTokens=required is safe on ...: ". */
export function verdictSentence(
  answer: Answer,
  reasons: Reason[],
  { hosts, programs, requests, filtered }: OverallInput,
  seconds: number,
  boots: number,
): string {
  if (hosts.length === 0) return `UNKNOWN — no log line in the input${filtered ? ' matches the filters' : ''}`;
  const count = (verdict: Answer) => hosts.filter((h) => h.verdict === verdict).length;
  const of = (verdict: Answer) => (hosts.length > 1 ? `, on ${count(verdict)} of ${hosts.length} hosts` : '');
  if (answer === 'NO') return `NO — ${imdsv1Callers(programs, requests)}${of('NO')}`;
  if (answer === 'UNKNOWN') {
    const missing = reasons.map((r) => SHORT[r.code]).join(', ');
    return `UNKNOWN — no IMDSv1 request seen, but the evidence is incomplete${of('UNKNOWN')}: ${missing}`;
  }
  return `YES — no IMDSv1 request in ${formatDuration(seconds)} of observation, covering ${plural(boots, 'boot')}`;
}
