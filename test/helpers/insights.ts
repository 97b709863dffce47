// How CloudWatch Logs Insights sees our JSON lines and our queries: it flattens nested
// objects into dotted names and arrays into one field per element (`process.argv.0`), and
// discovers at most 200 such fields per event.

export const INSIGHTS_FIELD_LIMIT = 200;

/** Every discovered field name of a parsed JSON line, as Logs Insights flattens it. */
export function flattenedFields(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null) return [prefix];
  const entries = Array.isArray(value) ? value.map((item, i) => [String(i), item] as const) : Object.entries(value);
  // An empty object or array still counts as one field: an upper bound.
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([key, item]) => flattenedFields(item, prefix === '' ? key : `${prefix}.${key}`));
}

const KEYWORDS = new Set([
  'fields',
  'filter',
  'stats',
  'sort',
  'limit',
  'display',
  'parse',
  'by',
  'as',
  'and',
  'or',
  'not',
  'asc',
  'desc',
  'like',
  'in',
  'dedup',
]);

/**
 * The log fields a query reads: identifiers that are not keywords, functions, `as` aliases,
 * system fields (@...) or inside string literals and comments.
 */
export function queryFieldNames(query: string): string[] {
  const code = query
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  const aliases = new Set([...code.matchAll(/\bas\s+([A-Za-z_][\w.]*)/g)].map((m) => m[1]));
  const names = new Set<string>();
  for (const match of code.matchAll(/(?<![@\w.])([A-Za-z_][\w]*(?:\.[A-Za-z_0-9][\w]*)*)(\s*\()?/g)) {
    const [, name = '', call] = match;
    if (call || KEYWORDS.has(name) || aliases.has(name)) continue;
    names.add(name);
  }
  return [...names].sort();
}
