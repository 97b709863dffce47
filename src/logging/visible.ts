// Makes any text safe to print on a terminal and bounded. printable() (src/logic) handles
// C0/C1 controls, DEL and ESC; here also bidi overrides, line separators and the BOM, which
// can make a line read differently from what it holds, and `"` and `\` so that quoted
// fields stay unambiguous. Pure, no I/O.
import { printable } from '../logic/text.js';

const UNICODE_TRICKS = /[\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;
const ESCAPE_AT_END = /\\(?:x[0-9a-f]{0,1}|u[0-9a-f]{0,3})?$/;

/** `text` with every hidden character escaped, cut to `max` characters with a trailing "…". */
export function visible(text: string, max: number): string {
  const escaped = printable(text.replace(/["\\]/g, '\\$&')).replace(
    UNICODE_TRICKS,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  if (escaped.length <= max) return escaped;
  // Never end inside an escape sequence or between the halves of a surrogate pair.
  let cut = escaped.slice(0, max - 1);
  const code = cut.charCodeAt(cut.length - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut = cut.slice(0, -1);
  cut = cut.replace(ESCAPE_AT_END, '');
  return `${cut}…`;
}
