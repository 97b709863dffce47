// The one redaction step every output of the daemon goes through (log lines, console
// lines, stderr messages, status.json): secret-shaped text (src/logic/redact.ts) and the
// token values IMDS accepted on the wire, remembered as HMAC-SHA256 under a key made at start and
// never written anywhere.
import { createRequire } from 'node:module';
import { KnownSecrets } from '../logic/known-secrets.js';
import { redactLine, redactText } from '../logic/redact.js';

/** A store of known secrets keyed for this process only. */
export function createKnownSecrets(): KnownSecrets {
  // node:crypto (a score of modules to compile) is loaded when the first token is remembered,
  // not at every start: until then there is nothing to hash.
  let keyedHash: ((text: string) => string) | null = null;
  const makeKeyedHash = () => {
    const { createHmac, randomBytes } = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
    const key = randomBytes(32);
    return (text: string) => createHmac('sha256', key).update(text).digest('base64');
  };
  return new KnownSecrets({
    keyedHash: (text) => {
      keyedHash ??= makeKeyedHash();
      return keyedHash(text);
    },
    // Only spreads the rolling fingerprint (a pre-filter: every match is confirmed by the keyed hash).
    fingerprintBase: 2 ** 16 + Math.floor(Math.random() * (2 ** 31 - 2 ** 16)),
  });
}

export class Redactor {
  constructor(
    private readonly known: KnownSecrets = createKnownSecrets(),
    private readonly now: () => number = Date.now,
  ) {}

  /** A token value IMDS accepted from a socket of `uid`: cut out of every output for its lifetime. */
  rememberToken(value: string, uid: number): void {
    this.known.remember(value, uid, this.now());
  }

  /** A log line with secrets cut out and `redacted` naming the fields that changed (here or before). */
  line<T extends { redacted?: string[] }>(line: T): T & { redacted: string[] } {
    this.known.expire(this.now());
    const r = redactLine(line, this.known);
    return { ...r.line, redacted: [...new Set([...(line.redacted ?? []), ...r.redacted])] };
  }

  /** Any other value (lifecycle fields, status.json): secrets cut out, no marker added. */
  value<T>(value: T): T {
    this.known.expire(this.now());
    return redactLine(value, this.known).line;
  }

  /** A message for stderr. */
  text(message: string): string {
    return redactText(message, this.known).text;
  }
}
