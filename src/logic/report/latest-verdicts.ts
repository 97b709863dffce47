// The fleet report's fast path: of many hosts' verdict lines (each host writes one an hour),
// only each host's latest counts. The host and the time are read from the line's start
// without parsing it; only the lines kept are parsed, checked and added to the report.
import { messageOf } from '../../model/stored-line.js';

const VERDICT_EVENT = '"event":"verdict"';
const INSTANCE_ID = '"instance_id":';
const HOSTNAME = '"hostname":"';
/** pino writes level, then time, first on every line. */
const LINE_START = /^\{"level":\d+,"time":(\d+)[,}]/;

/** The quoted value at `from` (just after its opening quote), or null if it holds an escape. */
function quoted(json: string, from: number): string | null {
  const end = json.indexOf('"', from);
  if (end < 0) return null;
  const value = json.slice(from, end);
  return value.includes('\\') ? null : value;
}

/** The report's host key (instance_id, else hostname) as the line's base fields give it. */
function hostKeyOf(json: string): string | null {
  const at = json.indexOf(INSTANCE_ID);
  if (at < 0) return null;
  const value = at + INSTANCE_ID.length;
  if (json.charCodeAt(value) === 34 /* " */) return quoted(json, value + 1);
  if (!json.startsWith('null', value)) return null;
  const host = json.indexOf(HOSTNAME);
  return host < 0 ? null : quoted(json, host + HOSTNAME.length);
}

export class LatestVerdicts {
  private readonly latest = new Map<string, { t: number; json: string }>();
  /** Verdict lines whose host or time the quick read cannot take: the report parses them in full. */
  private readonly irregular: string[] = [];
  /** Lines that are not verdict lines, left unread. */
  skipped = 0;

  constructor(private readonly window: { sinceMs?: number; untilMs?: number } = {}) {}

  offer(text: string): void {
    if (!text.includes(VERDICT_EVENT)) {
      this.skipped++;
      return;
    }
    const json = messageOf(text);
    const time = LINE_START.exec(json);
    const key = time ? hostKeyOf(json) : null;
    if (!time || key === null) {
      this.irregular.push(json);
      return;
    }
    const t = Number(time[1]);
    const { sinceMs, untilMs } = this.window;
    if ((sinceMs !== undefined && t < sinceMs) || (untilMs !== undefined && t > untilMs)) return;
    const kept = this.latest.get(key);
    if (!kept || t >= kept.t) this.latest.set(key, { t, json });
  }

  /** The lines the report reads: each host's latest, and the irregular ones. */
  *lines(): Generator<string> {
    yield* this.irregular;
    for (const { json } of this.latest.values()) yield json;
  }
}
