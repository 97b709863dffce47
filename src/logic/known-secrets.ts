// Secrets the daemon has seen on the wire (IMDSv2 token header values IMDS accepted),
// remembered only as keyed hashes so that they can be cut out of argv and any other text
// wherever they appear, also inside a longer argument. Pure: the keyed hash, the fingerprint
// base and the clock are passed in (src/logging/redactor.ts gives HMAC-SHA256 with a random key).
//
// Token values are chosen by whoever sends the request: only a value IMDS accepted (any answer
// but 401) and that has a token's shape is learnt, and each socket uid has its own bounded share,
// so that no user can make the daemon hide a path, a unit or another user's tokens.
//
// Finding a substring whose hash we know: for every length a remembered secret has, a
// rolling fingerprint (polynomial modulo 2^32 with a random odd base, int32 arithmetic)
// slides over the text in one pass; only a window whose fingerprint matches is hashed with
// the keyed hash to confirm.

/** IMDS tokens live at most 6 hours (X-aws-ec2-metadata-token-ttl-seconds <= 21600). */
export const KNOWN_SECRET_MAX_AGE_MS = 6 * 3600 * 1000;
/**
 * Entries per socket uid: a uid that fills its share forgets its own oldest, never another
 * uid's. Only root hands out uids, so an unprivileged user owns one share.
 */
export const MAX_KNOWN_SECRETS_PER_UID = 512;
/**
 * What a token IMDS issues looks like: base64 (either alphabet, padded), of a few lengths
 * around the 56 characters of the tokens IMDS hands out. Each length costs one pass over the
 * text, and nothing else is learnt: a path, a unit name or a word never has this shape.
 */
export const MIN_TOKEN_LENGTH = 44;
export const MAX_TOKEN_LENGTH = 72;
const TOKEN_SHAPE = /^[A-Za-z0-9+/_-]+={0,2}$/;

export function isTokenShaped(value: string): boolean {
  return (
    value.length >= MIN_TOKEN_LENGTH &&
    value.length <= MAX_TOKEN_LENGTH &&
    value.length % 4 === 0 &&
    TOKEN_SHAPE.test(value)
  );
}

export type Span = readonly [start: number, end: number];

export interface KnownSecretOptions {
  /** A keyed hash of a string (e.g. HMAC-SHA256 with a key that never leaves the process). */
  keyedHash: (text: string) => string;
  /** A random integer (made odd): the base of the rolling fingerprint. */
  fingerprintBase: number;
}

interface Entry {
  length: number;
  fingerprint: number;
  firstSeenMs: number;
  uid: number;
}

export class KnownSecrets {
  /** By keyed hash, oldest first (Map order). */
  private readonly entries = new Map<string, Entry>();
  /** uid -> its entries' keyed hashes, oldest first. */
  private readonly byUid = new Map<number, Set<string>>();
  /** length -> fingerprint -> how many entries have it. */
  private readonly byLength = new Map<number, Map<number, number>>();
  private readonly base: number;

  constructor(private readonly options: KnownSecretOptions) {
    this.base = Math.floor(options.fingerprintBase) | 1;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Remembers a token `secret` (surrounding blanks dropped) that IMDS accepted on a socket of
   * `uid`, from `nowMs` for KNOWN_SECRET_MAX_AGE_MS. A value that is not token-shaped is ignored.
   */
  remember(secret: string, uid: number, nowMs: number): void {
    const value = secret.trim();
    if (!isTokenShaped(value)) return;
    this.expire(nowMs);
    const digest = this.options.keyedHash(value);
    if (this.entries.has(digest)) return;
    const own = this.byUid.get(uid) ?? new Set<string>();
    this.byUid.set(uid, own);
    for (const oldest of own) {
      if (own.size < MAX_KNOWN_SECRETS_PER_UID) break;
      this.forget(oldest);
    }
    const entry = { length: value.length, fingerprint: this.fingerprint(value), firstSeenMs: nowMs, uid };
    this.entries.set(digest, entry);
    own.add(digest);
    const counts = this.byLength.get(entry.length) ?? new Map<number, number>();
    counts.set(entry.fingerprint, (counts.get(entry.fingerprint) ?? 0) + 1);
    this.byLength.set(entry.length, counts);
  }

  /** Forgets every secret older than KNOWN_SECRET_MAX_AGE_MS at `nowMs`. */
  expire(nowMs: number): void {
    for (const [digest, entry] of this.entries) {
      if (nowMs - entry.firstSeenMs < KNOWN_SECRET_MAX_AGE_MS) break;
      this.forget(digest);
    }
  }

  /** Where remembered secrets occur in `text` (possibly overlapping). */
  find(text: string): Span[] {
    const spans: Span[] = [];
    for (const [length, fingerprints] of this.byLength) {
      if (text.length < length) continue;
      let power = 1; // base^(length-1) mod 2^32
      for (let i = 1; i < length; i++) power = Math.imul(power, this.base);
      let h = 0;
      for (let i = 0; i < text.length; i++) {
        if (i >= length) h = (h - Math.imul(text.charCodeAt(i - length), power)) | 0;
        h = (Math.imul(h, this.base) + text.charCodeAt(i)) | 0;
        if (i + 1 < length || !fingerprints.has(h)) continue;
        const start = i + 1 - length;
        if (this.entries.has(this.options.keyedHash(text.slice(start, i + 1)))) spans.push([start, i + 1]);
      }
    }
    return spans;
  }

  private fingerprint(value: string): number {
    let h = 0;
    for (let i = 0; i < value.length; i++) h = (Math.imul(h, this.base) + value.charCodeAt(i)) | 0;
    return h;
  }

  private forget(digest: string): void {
    const entry = this.entries.get(digest);
    if (!entry) return;
    this.entries.delete(digest);
    const own = this.byUid.get(entry.uid);
    own?.delete(digest);
    if (own?.size === 0) this.byUid.delete(entry.uid);
    const counts = this.byLength.get(entry.length);
    if (!counts) return;
    const left = (counts.get(entry.fingerprint) ?? 1) - 1;
    if (left > 0) counts.set(entry.fingerprint, left);
    else counts.delete(entry.fingerprint);
    if (counts.size === 0) this.byLength.delete(entry.length);
  }
}
