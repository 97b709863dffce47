// The log contract compiled into plain type checks: the fast path of reading a stored line.
// zod's safeParse costs several microseconds per line (it builds a copy and an issue list);
// a line of a common shape is checked here in a fraction of that. The checks are derived from
// the contract's own zod schemas, never written by hand: a schema kind or refinement this
// compiler does not know makes its event go through zod always, and a line the fast check
// does not accept is given to zod, which decides. So the answer is zod's on every line, and
// the fast check only ever says "certainly valid" (test/unit/report-fast-read.test.ts).
import type * as z from 'zod';

/** true: the contract certainly accepts the value; false: ask zod. */
export type FastCheck = (value: unknown) => boolean;

export interface Def {
  type: string;
  checks?: Array<{ _zod: { def: { check: string; format?: string; value?: unknown; inclusive?: boolean } } }>;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  innerType?: z.ZodType;
  element?: z.ZodType;
  values?: unknown[];
  entries?: Record<string, unknown>;
  keyType?: z.ZodType;
  valueType?: z.ZodType;
}

export const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** One number refinement as a predicate, or null when this compiler does not know it. */
export function numberCheck(check: NonNullable<Def['checks']>[number]): ((n: number) => boolean) | null {
  const d = check._zod.def;
  if (d.check === 'number_format' && d.format === 'safeint') return Number.isSafeInteger;
  if (d.check === 'greater_than' && typeof d.value === 'number') {
    const bound = d.value;
    return d.inclusive ? (n) => n >= bound : (n) => n > bound;
  }
  return null;
}

/** The schema as a fast check, or null when any part of it is of a kind not handled here. */
export function compileCheck(schema: z.ZodType): FastCheck | null {
  const def = defOf(schema);
  const noChecks = !def.checks || def.checks.length === 0;
  switch (def.type) {
    case 'string':
      return noChecks ? (v) => typeof v === 'string' : null;
    case 'boolean':
      return noChecks ? (v) => typeof v === 'boolean' : null;
    case 'number': {
      const checks = (def.checks ?? []).map(numberCheck);
      if (checks.some((c) => c === null)) return null;
      const all = checks as Array<(n: number) => boolean>;
      return (v) => typeof v === 'number' && Number.isFinite(v) && all.every((c) => c(v));
    }
    case 'literal': {
      const values = def.values ?? [];
      return noChecks ? (v) => values.includes(v) : null;
    }
    case 'enum': {
      const values = new Set(Object.values(def.entries ?? {}));
      return noChecks ? (v) => values.has(v) : null;
    }
    case 'optional':
    case 'nullable': {
      const inner = def.innerType ? compileCheck(def.innerType) : null;
      if (!inner || !noChecks) return null;
      return def.type === 'optional' ? (v) => v === undefined || inner(v) : (v) => v === null || inner(v);
    }
    case 'array': {
      const item = def.element ? compileCheck(def.element) : null;
      if (!item || !noChecks) return null;
      // Every index, holes too (every() would skip them; zod does not).
      return (v) => {
        if (!Array.isArray(v)) return false;
        for (let i = 0; i < v.length; i++) if (!item(v[i])) return false;
        return true;
      };
    }
    case 'record': {
      const key = def.keyType ? defOf(def.keyType) : null;
      const value = def.valueType ? compileCheck(def.valueType) : null;
      if (!value || !noChecks || key?.type !== 'string' || (key.checks?.length ?? 0) > 0) return null;
      return (v) => isPlainObject(v) && Object.values(v).every(value);
    }
    case 'object':
      return noChecks ? compileObject(def) : null;
    default:
      return null;
  }
}

function compileObject(def: Def): FastCheck | null {
  const rest = def.catchall ? defOf(def.catchall).type : 'strip';
  // Loose (other keys kept), strict (none allowed) or strip (ignored): anything else is zod's.
  if (rest !== 'unknown' && rest !== 'never' && rest !== 'strip') return null;
  const fields: Array<[string, FastCheck]> = [];
  for (const [key, field] of Object.entries(def.shape ?? {})) {
    const check = compileCheck(field);
    if (!check) return null;
    fields.push([key, check]);
  }
  const known = new Set(fields.map(([key]) => key));
  return (v) => {
    if (!isPlainObject(v)) return false;
    for (const [key, check] of fields) if (!check(v[key])) return false;
    return rest !== 'never' || Object.keys(v).every((key) => known.has(key));
  };
}
