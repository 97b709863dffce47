// Reading fields of a parsed log line without trusting its shape, and taking our JSON line
// out of the ways it is stored: as written, or in a CloudWatch Logs export object.

export type Line = Record<string, unknown>;

export const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
export const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
export const obj = (v: unknown): Line => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Line) : {});
export const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** A CloudWatch Logs export line: the event's ISO 8601 timestamp, one space, the message. */
const EXPORT_PREFIX = /^\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d) /;

/** The daemon's JSON text of a stored line: the line itself, or the message of an export line. */
export function messageOf(text: string): string {
  if (text.startsWith('{')) return text;
  const prefix = EXPORT_PREFIX.exec(text);
  return prefix ? text.slice(prefix[0].length) : text;
}
