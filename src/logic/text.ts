// Bytes from processes and packets become text for logs: UTF-8, with every invalid
// byte written as the escape \xNN so that nothing is lost and nothing is ambiguous
// (a literal backslash stays a backslash; JSON escapes it), bounded in length.

export interface DecodedText {
  text: string;
  truncated: boolean;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function hex(byte: number): string {
  return `\\x${byte.toString(16).padStart(2, '0')}`;
}

/** Length of the valid UTF-8 sequence starting at `i`, or 0 when the byte there starts none. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const b = bytes[i] ?? 0;
  const need = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
  if (need <= 1) return need;
  if (i + need > bytes.length) return 0;
  try {
    decoder.decode(bytes.subarray(i, i + need));
    return need;
  } catch {
    return 0;
  }
}

/** `text` cut to at most maxChars UTF-16 units without splitting a surrogate pair. */
export function boundedText(text: string, maxChars: number): DecodedText {
  if (text.length <= maxChars) return { text, truncated: false };
  const cut = /[\ud800-\udbff]/.test(text.charAt(maxChars - 1)) ? maxChars - 1 : maxChars;
  return { text: text.slice(0, Math.max(cut, 0)), truncated: true };
}

/**
 * UTF-8 to text, bounded to maxChars UTF-16 units. The bound never splits a character or an
 * escape: the text ends before the first piece that does not fit whole.
 */
export function decodeBytes(bytes: Uint8Array, maxChars: number): DecodedText {
  // Fast path: valid UTF-8 (the common case).
  try {
    return boundedText(decoder.decode(bytes), maxChars);
  } catch {
    // fall through to the byte-by-byte decoder
  }
  let text = '';
  for (let i = 0; i < bytes.length; ) {
    const n = sequenceLength(bytes, i);
    const piece = n === 0 ? hex(bytes[i] ?? 0) : decoder.decode(bytes.subarray(i, i + n));
    if (text.length + piece.length > maxChars) return { text, truncated: true };
    text += piece;
    i += Math.max(n, 1);
  }
  return { text, truncated: false };
}

/** NUL-separated argv (as in /proc/<pid>/cmdline) to strings, bounded in count and length. */
export function splitArgv(
  bytes: Uint8Array,
  maxArgs: number,
  maxArgChars: number,
): { argv: string[]; truncated: boolean } {
  const argv: string[] = [];
  let truncated = false;
  let start = 0;
  while (start < bytes.length) {
    if (argv.length >= maxArgs) {
      truncated = true;
      break;
    }
    let end = bytes.indexOf(0, start);
    if (end < 0) end = bytes.length;
    const arg = decodeBytes(bytes.subarray(start, end), maxArgChars);
    truncated ||= arg.truncated;
    argv.push(arg.text);
    start = end + 1;
  }
  return { argv, truncated };
}

/** Text safe for a terminal: C0/C1 controls, DEL and ESC become visible escapes. */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this escapes
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    const code = c.charCodeAt(0);
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return code <= 0xff ? hex(code) : c;
  });
}
