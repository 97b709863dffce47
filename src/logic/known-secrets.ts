// Secrets the daemon has seen on the wire (IMDSv2 token header values), remembered only as
// keyed hashes so that they can be cut out of argv and any other text wherever they appear,
// also inside a longer argument. Pure: the keyed hash, the fingerprint base and the clock
// are passed in (src/logging/known-secrets.ts gives HMAC-SHA256 with a random key).
//
// Finding a substring whose hash we know: for every length a remembered secret has, a
// rolling fingerprint (polynomial modulo 2^32 with a random odd base, int32 arithmetic)
// slides over the text in one pass; only a window whose fingerprint matches is hashed with
// the keyed hash to confirm. The fingerprint keeps 32 bits of a token of hundreds.

/** IMDS tokens live at most 6 hours (X-aws-ec2-metadata-token-ttl-seconds <= 21600). */
export const KNOWN_SECRET_MAX_AGE_MS = 6 * 3600 * 1000;
export const MAX_KNOWN_SECRETS = 4096;
/** Each distinct length costs one pass over the text. */
export const MAX_KNOWN_SECRET_LENGTHS = 8;
/** Shorter values would match ordinary words; real tokens are 56 characters and more. */
export const MIN_KNOWN_SECRET_LENGTH = 16;
export const MAX_KNOWN_SECRET_LENGTH = 1024;

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
}

export class KnownSecrets {
  /** By keyed hash, oldest first (Map order). */
  private readonly entries = new Map<string, Entry>();
  /** length -> fingerprint -> how many entries have it. */
  private readonly byLength = new Map<number, Map<number, number>>();
  private readonly base: number;

  constructor(private readonly options: KnownSecretOptions) {
    this.base = Math.floor(options.fingerprintBase) | 1;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Remembers `secret` (surrounding blanks dropped) from `nowMs` for KNOWN_SECRET_MAX_AGE_MS. */
  remember(secret: string, nowMs: number): void {
    const value = secret.trim();
    if (value.length < MIN_KNOWN_SECRET_LENGTH || value.length > MAX_KNOWN_SECRET_LENGTH) return;
    this.expire(nowMs);
    const digest = this.options.keyedHash(value);
    if (this.entries.has(digest)) return;
    // Bounded count and bounded distinct lengths: the oldest goes first.
    while (
      this.entries.size >= MAX_KNOWN_SECRETS ||
      (!this.byLength.has(value.length) && this.byLength.size >= MAX_KNOWN_SECRET_LENGTHS)
    ) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.forget(oldest.value);
    }
    const entry = { length: value.length, fingerprint: this.fingerprint(value), firstSeenMs: nowMs };
    this.entries.set(digest, entry);
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
    const counts = this.byLength.get(entry.length);
    if (!counts) return;
    const left = (counts.get(entry.fingerprint) ?? 1) - 1;
    if (left > 0) counts.set(entry.fingerprint, left);
    else counts.delete(entry.fingerprint);
    if (counts.size === 0) this.byLength.delete(entry.length);
  }
}
