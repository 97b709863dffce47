// Makes any text safe to print on a terminal: control characters, ANSI escapes, bidi
// overrides and line separators become visible escapes, and the result is bounded.
// Pure, no I/O.

// C0, DEL, C1, line/paragraph separators, bidi embeddings/overrides/isolates, BOM.
const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"\\]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '"': '\\"', '\\': '\\\\' };

function escapeOne(ch: string): string {
  const named = NAMED[ch];
  if (named !== undefined) return named;
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with every hidden character escaped, cut to `max` characters with a trailing "…". */
export function visible(text: string, max: number): string {
  const escaped = text.replace(HIDDEN, escapeOne);
  if (escaped.length <= max) return escaped;
  // Never cut inside an escape sequence or a surrogate pair: back up to a clean boundary.
  let cut = max - 1;
  const lastEscape = escaped.lastIndexOf('\\', cut);
  if (lastEscape >= 0 && lastEscape > cut - 6) {
    const sequence = /^\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|.)/.exec(escaped.slice(lastEscape))?.[0] ?? '';
    if (lastEscape + sequence.length > cut) cut = lastEscape;
  }
  const code = escaped.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return `${escaped.slice(0, cut)}…`;
}
