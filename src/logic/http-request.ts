// HTTP/1.x request parsing over the reassembled client->IMDS byte stream: one record per
// request, several per keep-alive (or pipelined) connection. Only header NAMES decide
// IMDSv1 vs IMDSv2, and no header value but the User-Agent is kept: the token header's
// value is a credential and never enters a record's fields; tokenValuesOf(record) hands it to
// the connection tracker, which gives it to the redactor's store of known secrets (a keyed
// hash of it) once IMDS has accepted the request.
//
// How odd input is treated:
// - header block not fully seen (gap in the capture, over MAX_HEADER_BLOCK, connection
//   closed mid-headers): a record with headerBlockComplete false (classified unknown);
// - a request line that is not `METHOD SP target SP HTTP/x.y` (random bytes, no version):
//   a record with requestLineValid false (classified unknown); a version-less line ends
//   its request at the line (HTTP/0.9 style);
// - methods are kept as sent (a lower-case `get` is recorded as `get`);
// - obsolete folding (a header line starting with SP/HTAB) continues the previous header;
// - NUL and other bytes are kept, escaped by decodeBytes;
// - after a gap or unparsable framing (conflicting Content-Length, bad chunk size), and from
//   the start of a connection joined mid-stream, the parser resynchronises at the next
//   well-formed request line (REQUEST_LINE_START); with none, nothing more is yielded for
//   the connection, and the bytes passed over are counted (bytesSkipped);
// - a first line whose first word is not an HTTP token (a header line: `Name: value`) gives
//   no method and no path: header bytes never become a method, a path or a message.
import { TOKEN_HEADER, TOKEN_TTL_HEADER } from '../model/imds.js';
import type { StreamChunk } from './tcp-stream.js';
import { decodeBytes } from './text.js';

export interface HttpRequestRecord {
  method: string;
  path: string;
  httpVersion: string | null;
  requestLineValid: boolean;
  headerBlockComplete: boolean;
  hasTokenHeader: boolean;
  hasTokenTtlHeader: boolean;
  hasForwardedFor: boolean;
  /**
   * Its token header is the one a canary inserted (the client sent none): a tokenless
   * request, refused by IMDS because of the canary (docs/canary.md).
   */
  canaryHeader: boolean;
  userAgent: string | null;
  headerCount: number;
  /** Offset of the request's first byte in the connection's byte stream. */
  streamOffset: number;
  /** Fields cut to their bound: 'method', 'path', 'user_agent'. */
  truncated: string[];
}

export const MAX_HEADER_BLOCK = 16 * 1024;
export const MAX_PATH_CHARS = 2048;
export const MAX_USER_AGENT_CHARS = 512;
const MAX_METHOD_CHARS = 32;
/** 12 hex digits (256 TiB) is more than any body a metadata client sends. */
export const MAX_CHUNK_SIZE_DIGITS = 12;
/** A chunk-size line longer than this is unparsable framing. */
export const MAX_CHUNK_LINE = 1024;
/** Bytes kept while looking for a request line to resynchronise on. */
const RESYNC_WINDOW = 4096;
const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const REQUEST_LINE = new RegExp(`^(${TOKEN}) (\\S+) (HTTP\\/\\d\\.\\d)$`);
/** `METHOD target` without a version (HTTP/0.9 style): the request is that line alone. */
const VERSIONLESS_REQUEST_LINE = new RegExp(`^${TOKEN} \\S+$`);
const METHOD = new RegExp(`^${TOKEN}$`);
/**
 * Where parsing resumes after a gap or unparsable framing: a whole line `METHOD SP target SP
 * HTTP/1.x` with a standard method and an origin-form (`/path`) or absolute-form
 * (`http://host/path`) target, at the start of what we hold or after a LF. Only standard
 * methods, so that the tail of an unknown body glued to a request ("abcdGET /...") is not taken
 * for a request line with the method "abcdGET"; a header line never matches.
 */
const REQUEST_LINE_START =
  /(?:^|\n)(?:GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH) (?:\/|https?:\/\/)\S* HTTP\/1\.\d\r?\n/;

type State =
  | { kind: 'headers' }
  | { kind: 'body'; remaining: number }
  | { kind: 'chunk-size' }
  | { kind: 'chunk-data'; remaining: number }
  | { kind: 'trailers' }
  | { kind: 'resync' };

/** Index just past the blank line ending a header block, or -1. */
function headerEnd(buf: Uint8Array, from: number): number {
  for (let i = from; i < buf.length; i++) {
    if (buf[i] !== 10) continue;
    if (buf[i + 1] === 10) return i + 2;
    if (buf[i + 1] === 13 && buf[i + 2] === 10) return i + 3;
  }
  return -1;
}

function lineEnd(buf: Uint8Array, from = 0): number {
  return buf.indexOf(10, from);
}

/** The complete X-aws-ec2-metadata-token header values of a request, kept beside its record. */
const tokenValues = new WeakMap<HttpRequestRecord, readonly string[]>();

/** The token header values a request carried (complete ones only). */
export function tokenValuesOf(record: HttpRequestRecord): readonly string[] {
  return tokenValues.get(record) ?? [];
}
/** Tells the token value a canary inserts from the others. */
export type CanaryTokenTest = (value: string) => boolean;

export class HttpRequestParser {
  private state: State = { kind: 'headers' };
  private buf: Uint8Array = new Uint8Array(0);
  /** Backing store of buf once it had to be copied (see append). */
  private store: Uint8Array = new Uint8Array(0);
  /** Stream offset of buf[0]. */
  private offset = 0;
  /**
   * How far buf was searched for the end of the header block without finding it, so that a
   * header block arriving a byte at a time is scanned once, not once per byte (quadratic).
   */
  private searchedTo = 0;
  /** The request line at buf[0] was complete and is not version-less. */
  private firstLineJudged = false;
  /** Bytes passed over while looking for a request line to resynchronise on. */
  bytesSkipped = 0;

  /** @param joinedMidStream the stream may start anywhere in a request: resynchronise first. */
  constructor(
    joinedMidStream = false,
    private readonly isCanaryToken: CanaryTokenTest | null = null,
  ) {
    if (joinedMidStream) this.state = { kind: 'resync' };
  }

  /** Nothing of a request is held: the next byte starts a request line. */
  get atRequestStart(): boolean {
    return this.state.kind === 'headers' && this.buf.length === 0;
  }

  push(chunk: StreamChunk): HttpRequestRecord[] {
    if (chunk.kind === 'gap') return this.gap(chunk.length);
    this.append(chunk.bytes);
    return this.run();
  }

  /** The connection ended: a request whose header block is unfinished is reported incomplete. */
  end(): HttpRequestRecord[] {
    const out: HttpRequestRecord[] = [];
    if (this.state.kind === 'headers' && this.buf.length > 0) out.push(this.record(this.buf, false));
    this.consume(this.buf.length);
    this.state = { kind: 'headers' };
    return out;
  }

  private gap(length: number): HttpRequestRecord[] {
    const out: HttpRequestRecord[] = [];
    const state = this.state;
    if (state.kind === 'body' || state.kind === 'chunk-data') {
      // Missing body bytes are harmless while we know how many there are.
      const fromBuf = Math.min(this.buf.length, state.remaining);
      const left = state.remaining - fromBuf;
      if (this.buf.length === fromBuf && length <= left) {
        this.consume(fromBuf);
        this.offset += length;
        state.remaining = left - length;
        if (state.remaining === 0) this.state = state.kind === 'body' ? { kind: 'headers' } : { kind: 'chunk-size' };
        return out;
      }
    }
    if (state.kind === 'headers' && this.buf.length > 0) out.push(this.record(this.buf, false));
    this.consume(this.buf.length);
    this.offset += length;
    this.state = { kind: 'resync' };
    return out;
  }

  private run(): HttpRequestRecord[] {
    const out: HttpRequestRecord[] = [];
    for (;;) {
      const state = this.state;
      switch (state.kind) {
        case 'headers': {
          if (this.buf.length === 0) return out;
          // Blank lines between requests are tolerated (RFC 9112 section 2.2).
          if (this.buf[0] === 13 || this.buf[0] === 10) {
            const eol = lineEnd(this.buf);
            if (eol < 0 && this.buf.length <= MAX_HEADER_BLOCK) return out;
            const blank = eol >= 0 && this.buf.subarray(0, eol).every((b) => b === 13);
            if (blank) {
              this.consume(eol + 1);
              continue;
            }
          }
          // Bytes before searchedTo hold no LF unless the first line was already judged.
          const firstEol = this.firstLineJudged ? -1 : lineEnd(this.buf, this.searchedTo);
          const firstLine = firstEol < 0 ? null : this.lineText(this.buf.subarray(0, firstEol));
          if (firstLine !== null && VERSIONLESS_REQUEST_LINE.test(firstLine)) {
            // A version-less request line: the request is that line alone.
            out.push(this.record(this.buf.subarray(0, firstEol + 1), true));
            this.consume(firstEol + 1);
            continue;
          }
          if (firstEol >= 0) this.firstLineJudged = true;
          const end = headerEnd(this.buf, Math.max(0, this.searchedTo - 2));
          if (end < 0 || end > MAX_HEADER_BLOCK) {
            if (this.buf.length <= MAX_HEADER_BLOCK && end < 0) {
              this.searchedTo = this.buf.length;
              return out;
            }
            out.push(this.record(this.buf.subarray(0, Math.min(this.buf.length, MAX_HEADER_BLOCK)), false));
            this.consume(Math.min(this.buf.length, MAX_HEADER_BLOCK));
            this.state = { kind: 'resync' };
            continue;
          }
          const block = this.buf.subarray(0, end);
          const rec = this.record(block, true);
          out.push(rec);
          const framing = this.framing(block);
          this.consume(end);
          if (!rec.requestLineValid || framing === 'unknown') this.state = { kind: 'resync' };
          else if (framing === 'chunked') this.state = { kind: 'chunk-size' };
          else if (framing > 0) this.state = { kind: 'body', remaining: framing };
          continue;
        }
        case 'body':
        case 'chunk-data': {
          const take = Math.min(this.buf.length, state.remaining);
          this.consume(take);
          state.remaining -= take;
          if (state.remaining > 0) return out;
          if (state.kind === 'body') {
            this.state = { kind: 'headers' };
          } else {
            // Each chunk's data ends with CRLF.
            this.state = { kind: 'chunk-size' };
          }
          continue;
        }
        case 'chunk-size': {
          const text = this.takeLine(MAX_CHUNK_LINE);
          if (text === undefined) return out;
          if (text === null || text === '') continue; // resynchronising, or the CRLF after a chunk's data
          const sizeText = (text.split(';')[0] ?? '').trim();
          // At most MAX_CHUNK_SIZE_DIGITS hex digits: a longer or non-hex size is unparsable framing.
          const size =
            /^[0-9a-f]+$/i.test(sizeText) && sizeText.length <= MAX_CHUNK_SIZE_DIGITS
              ? Number.parseInt(sizeText, 16)
              : Number.NaN;
          if (!Number.isSafeInteger(size)) this.state = { kind: 'resync' };
          else if (size === 0) this.state = { kind: 'trailers' };
          else this.state = { kind: 'chunk-data', remaining: size };
          continue;
        }
        case 'trailers': {
          const text = this.takeLine(MAX_HEADER_BLOCK);
          if (text === undefined) return out;
          if (text === '') this.state = { kind: 'headers' };
          continue;
        }
        case 'resync': {
          const text = new TextDecoder('latin1').decode(this.buf);
          const found = REQUEST_LINE_START.exec(text);
          if (!found) {
            const keep = Math.min(this.buf.length, RESYNC_WINDOW);
            this.consume(this.buf.length - keep);
            return out;
          }
          const start = found.index + (text[found.index] === '\n' ? 1 : 0);
          this.consume(start);
          this.state = { kind: 'headers' };
          continue;
        }
      }
    }
  }

  /**
   * The next line, trimmed and consumed; undefined while its end may still come within `max`
   * bytes; null once it has not (the stream is then resynchronised).
   */
  private takeLine(max: number): string | null | undefined {
    const eol = lineEnd(this.buf);
    if (eol < 0) {
      if (this.buf.length <= max) return undefined;
      this.state = { kind: 'resync' };
      return null;
    }
    const text = this.lineText(this.buf.subarray(0, eol)).trim();
    this.consume(eol + 1);
    return text;
  }

  /** Body length after a header block: bytes, 'chunked', or 'unknown' (conflicting/invalid). */
  private framing(block: Uint8Array): number | 'chunked' | 'unknown' {
    let length: number | null = null;
    let chunked = false;
    for (const [name, value] of this.headers(block)) {
      if (name === 'transfer-encoding' && /chunked/i.test(value)) chunked = true;
      if (name === 'content-length') {
        const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
        if (!Number.isSafeInteger(n) || (length !== null && length !== n)) return 'unknown';
        length = n;
      }
    }
    if (chunked) return 'chunked';
    return length ?? 0;
  }

  private lineText(line: Uint8Array): string {
    const end = line.length > 0 && line[line.length - 1] === 13 ? line.length - 1 : line.length;
    return new TextDecoder('latin1').decode(line.subarray(0, end));
  }

  /** [lower-case name, raw value] pairs; folded lines continue the previous value. */
  private headers(block: Uint8Array): Array<[string, string]> {
    const lines = new TextDecoder('latin1').decode(block).split('\n').slice(1);
    const out: Array<[string, string]> = [];
    for (const raw of lines) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line === '') continue;
      const last = out[out.length - 1];
      if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
        last[1] += ` ${line.trim()}`;
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      out.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
    }
    return out;
  }

  private record(block: Uint8Array, complete: boolean): HttpRequestRecord {
    const truncated: string[] = [];
    const eol = lineEnd(block);
    const lineBytes = eol < 0 ? block : block.subarray(0, eol);
    const rawLine = this.lineText(lineBytes);
    const match = REQUEST_LINE.exec(rawLine);
    const [first = '', second = ''] = rawLine.split(' ');
    // Only a line that starts with a method names one (and a path): never a header line.
    const looksLikeRequest = METHOD.test(first);
    const field = (text: string, max: number, name: string) => {
      const decoded = decodeBytes(
        Uint8Array.from(text, (c) => c.charCodeAt(0)),
        max,
      );
      if (decoded.truncated) truncated.push(name);
      return decoded.text;
    };
    const method = field(match?.[1] ?? (looksLikeRequest ? first : ''), MAX_METHOD_CHARS, 'method');
    const path = field(match?.[2] ?? (looksLikeRequest ? second : ''), MAX_PATH_CHARS, 'path');
    let hasTokenHeader = false;
    let hasTokenTtlHeader = false;
    let hasForwardedFor = false;
    let userAgent: string | null = null;
    const all = eol < 0 ? [] : this.headers(block);
    // The canary's own header is no client's token: the request is judged without it.
    const headers = all.filter(([name, value]) => !(name === TOKEN_HEADER && this.isCanaryToken?.(value)));
    const canaryHeader = headers.length < all.length;
    // The last header of a block cut short may be cut too: only whole values are secrets to learn.
    const lastIsWhole = block[block.length - 1] === 10;
    const tokens = headers
      .filter(([name], index) => name === TOKEN_HEADER && (lastIsWhole || index < headers.length - 1))
      .map(([, value]) => value);
    for (const [name, value] of headers) {
      if (name === TOKEN_HEADER) hasTokenHeader = true;
      else if (name === TOKEN_TTL_HEADER) hasTokenTtlHeader = true;
      else if (name === 'x-forwarded-for') hasForwardedFor = true;
      else if (name === 'user-agent' && userAgent === null)
        userAgent = field(value, MAX_USER_AGENT_CHARS, 'user_agent');
    }
    const record: HttpRequestRecord = {
      method,
      path,
      httpVersion: match?.[3] ?? null,
      requestLineValid: match !== null,
      headerBlockComplete: complete,
      hasTokenHeader,
      hasTokenTtlHeader,
      hasForwardedFor,
      canaryHeader,
      userAgent,
      headerCount: headers.length,
      streamOffset: this.offset,
      truncated,
    };
    if (tokens.length > 0) tokenValues.set(record, tokens);
    return record;
  }

  /**
   * Appends into a store we own that grows by doubling, so that bytes arriving one at a time
   * cost linear, not quadratic, copying. Records never hold views of it (only decoded text).
   */
  private append(bytes: Uint8Array): void {
    if (this.buf.length === 0) {
      this.buf = bytes;
      return;
    }
    const length = this.buf.length + bytes.length;
    const ours = this.buf.buffer === this.store.buffer;
    if (ours && this.buf.byteOffset + length <= this.store.length) {
      this.store.set(bytes, this.buf.byteOffset + this.buf.length);
      this.buf = this.store.subarray(this.buf.byteOffset, this.buf.byteOffset + length);
      return;
    }
    const store = new Uint8Array(Math.max(2 * length, 4096));
    store.set(this.buf);
    store.set(bytes, this.buf.length);
    this.store = store;
    this.buf = store.subarray(0, length);
  }

  private consume(n: number): void {
    if (n <= 0) return;
    if (this.state.kind === 'resync') this.bytesSkipped += n;
    this.buf = this.buf.subarray(n);
    this.offset += n;
    this.searchedTo = 0;
    this.firstLineJudged = false;
  }
}
