// The fleet report's fast path: of many hosts' verdict lines (each host writes one an hour),
// only each host's latest counts. The host and the time are read from the line's start
// without parsing it; only the lines kept are parsed, checked and added to the report.
// offerChunk() does the same on bytes: a line of the sink's usual shape is judged by a few
// of its bytes and decoded only if kept; any other line is decoded and given to offer().
import { messageOf } from '../../model/stored-line.js';

const VERDICT_EVENT = '"event":"verdict"';
const INSTANCE_ID_FIELD = '"instance_id":';
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
  const at = json.indexOf(INSTANCE_ID_FIELD);
  if (at < 0) return null;
  const value = at + INSTANCE_ID_FIELD.length;
  if (json.charCodeAt(value) === 34 /* " */) return quoted(json, value + 1);
  if (!json.startsWith('null', value)) return null;
  const host = json.indexOf(HOSTNAME);
  return host < 0 ? null : quoted(json, host + HOSTNAME.length);
}

/** How the sink ends a verdict line (pino writes msg last): the byte path's sign of one. */
const SINK_VERDICT_END = Buffer.from(',"event":"verdict","msg":"verdict"}');
const VERDICT_EVENT_BYTES = Buffer.from(VERDICT_EVENT);
const LEVEL = Buffer.from('{"level":');
const TIME = Buffer.from(',"time":');
const INSTANCE_ID = Buffer.from(INSTANCE_ID_FIELD);
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Digits a time may have to be read here exactly as Number() reads it. */
const MAX_TIME_DIGITS = 15;

const isDigit = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x39;
/** Byte by byte: for a few dozen bytes cheaper than a native call. */
function startsWithAt(buf: Buffer, at: number, what: Buffer): boolean {
  if (at < 0 || at + what.length > buf.length) return false;
  for (let i = 0; i < what.length; i++) if (buf[at + i] !== what[i]) return false;
  return true;
}

/** `{"level":N,"time":T` at `at`: T, or -1 when the line does not start so (or T is too long to read here). */
function lineTime(buf: Buffer, at: number, end: number): number {
  if (!startsWithAt(buf, at, LEVEL)) return -1;
  let i = at + LEVEL.length;
  const levelFrom = i;
  while (i < end && isDigit(buf[i])) i++;
  if (i === levelFrom || !startsWithAt(buf, i, TIME)) return -1;
  i += TIME.length;
  const timeFrom = i;
  let t = 0;
  for (; i < end && isDigit(buf[i]); i++) t = t * 10 + ((buf[i] as number) - 0x30);
  const digits = i - timeFrom;
  if (digits === 0 || digits > MAX_TIME_DIGITS || (buf[i] !== 0x2c && buf[i] !== 0x7d)) return -1;
  return t;
}

/** Where the line's first `"instance_id":` value lies, if a plain ASCII string, and a hash of its bytes. */
interface IdBytes {
  from: number;
  to: number;
  hash: number;
}

function instanceIdBytes(buf: Buffer, at: number, end: number, out: IdBytes): boolean {
  const field = buf.indexOf(INSTANCE_ID, at);
  const from = field + INSTANCE_ID.length + 1;
  // A null instance id (the host is its hostname), or none: the text path decides.
  if (field < 0 || from > end || buf[from - 1] !== QUOTE) return false;
  let hash = 0;
  for (let i = from; i < end; i++) {
    const b = buf[i] as number;
    if (b === QUOTE) {
      out.from = from;
      out.to = i;
      out.hash = hash;
      return true;
    }
    if (b === BACKSLASH || b >= 0x80) return false;
    hash = (Math.imul(hash, 31) + b) | 0;
  }
  return false;
}

function sameText(buf: Buffer, from: number, to: number, text: string): boolean {
  if (to - from !== text.length) return false;
  for (let i = 0; i < text.length; i++) if (buf[from + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** A host's latest line: its text, or while its chunk is read only where its bytes are. */
interface Kept {
  t: number;
  json: string;
  start: number;
  end: number;
  /** Its bytes are in the chunk being read, not yet decoded. */
  inChunk: boolean;
}

export class LatestVerdicts {
  private readonly latest = new Map<string, Kept>();
  /** Host keys by a hash of their bytes: the byte path finds a host without making a string. */
  private readonly keysByHash = new Map<number, string>();
  /** Hosts whose latest line is in the chunk being read. */
  private readonly inChunk: Kept[] = [];
  private readonly id: IdBytes = { from: 0, to: 0, hash: 0 };
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
    if (!this.inWindow(t)) return;
    const kept = this.latest.get(key);
    if (!kept || t >= kept.t) this.latest.set(key, { t, json, start: 0, end: 0, inChunk: false });
  }

  private inWindow(t: number): boolean {
    const { sinceMs, untilMs } = this.window;
    return !((sinceMs !== undefined && t < sinceMs) || (untilMs !== undefined && t > untilMs));
  }

  /** Many whole lines as bytes (readLineChunks): the same as offer() on each line's text. */
  offerChunk(buf: Buffer): void {
    let start = 0;
    while (start < buf.length) {
      let next = buf.indexOf(LF, start);
      if (next < 0) next = buf.length;
      const end = next > start && buf[next - 1] === CR ? next - 1 : next;
      this.offerBytes(buf, start, end);
      start = next + 1;
    }
    this.flush(buf);
  }

  private offerBytes(buf: Buffer, start: number, end: number): void {
    const usual =
      end - start > SINK_VERDICT_END.length && startsWithAt(buf, end - SINK_VERDICT_END.length, SINK_VERDICT_END);
    const t = usual ? lineTime(buf, start, end) : -1;
    const id = this.id;
    if (t < 0 || !instanceIdBytes(buf, start, end, id)) {
      if (!usual && buf.subarray(start, end).indexOf(VERDICT_EVENT_BYTES) < 0) {
        this.skipped++;
        return;
      }
      // Anything unusual is read as text, after the lines before it.
      this.flush(buf);
      this.offer(buf.toString('utf8', start, end));
      return;
    }
    if (!this.inWindow(t)) return;
    let key = this.keysByHash.get(id.hash);
    if (key === undefined || !sameText(buf, id.from, id.to, key)) {
      const text = buf.toString('latin1', id.from, id.to);
      if (key === undefined) this.keysByHash.set(id.hash, text);
      key = text;
    }
    const kept = this.latest.get(key);
    if (kept && t < kept.t) return;
    if (!kept) {
      const fresh = { t, json: '', start, end, inChunk: true };
      this.latest.set(key, fresh);
      this.inChunk.push(fresh);
      return;
    }
    kept.t = t;
    kept.start = start;
    kept.end = end;
    if (!kept.inChunk) {
      kept.inChunk = true;
      this.inChunk.push(kept);
    }
  }

  /** The chunk's kept lines become text before its bytes go. */
  private flush(buf: Buffer): void {
    for (const kept of this.inChunk) {
      kept.json = buf.toString('utf8', kept.start, kept.end);
      kept.inChunk = false;
    }
    this.inChunk.length = 0;
  }

  /** The lines the report reads: each host's latest, and the irregular ones. */
  *lines(): Generator<string> {
    yield* this.irregular;
    for (const { json } of this.latest.values()) yield json;
  }
}
