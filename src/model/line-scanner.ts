// Reading the common stored lines straight from their text. A line the contract accepted
// teaches a template: one regular expression for lines of the same shape (the same keys in
// the same order), each value's pattern derived from the contract's zod schema for its field,
// capturing only the fields a reader names (its projection). A later line that matches a
// template is certainly valid and gives those fields, checked in native code without building
// the whole value; any other line is read in full (JSON.parse and the contract), which
// decides. Templates never match: escapes or control characters in strings, whitespace
// between tokens, numbers other than plain integers of at most 15 digits, keys named twice,
// nested values under keys the schema does not name, schema kinds not handled here. Pure;
// shared by the readers of stored lines that need speed.
import type * as z from 'zod';
import { type Def, defOf, numberCheck } from './fast-check.js';

/**
 * The fields a reader takes from a line, shaped like the line: `true` takes the field's value
 * whole; an object takes those fields of an object.
 */
export type Projection<T> = {
  [K in keyof T]?: true | (NonNullable<T[K]> extends ReadonlyArray<unknown> ? true : Projection<NonNullable<T[K]>>);
};

/** A CloudWatch Logs export line: the event's ISO 8601 timestamp, one space, the message. */
export const EXPORT_PREFIX = /^\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d) /;
const EXPORT_PREFIX_SOURCE = EXPORT_PREFIX.source.slice(1);

/** A JSON string without escapes or control characters: its text is its value. */
const PLAIN_STRING = '"[^"\\\\\\u0000-\\u001f]*"';
const PLAIN_STRING_CAPTURED = '"([^"\\\\\\u0000-\\u001f]*)"';
/** Integers of at most 15 digits are exact and safe whatever produced them. */
const INTEGER = '-?(?:0|[1-9]\\d{0,14})';
const NONNEGATIVE_INTEGER = '(?:0|[1-9]\\d{0,14})';
/** Any JSON number: a value under a key the schema does not name (the contract takes anything there). */
const ANY_NUMBER = '-?(?:0|[1-9]\\d*)(?:\\.\\d+)?(?:[eE][+-]?\\d+)?';
const MAX_TEMPLATES = 16;

/** How a template's captures become the projected value. */
type Build =
  | { kind: 'string' | 'integer' | 'boolean' | 'strings' | 'json'; group: number }
  | { kind: 'object'; nullGroup: number; fields: Array<[string, Build]> };

/**
 * The projected value's expression over a match `m`, as JavaScript. A nullable field's value
 * pattern is `null|(...)`: no capture is its null. No string holds a quote or an escape, so a
 * string's text is its value and `","` separates strings.
 */
function expressionOf(build: Build): string {
  if (build.kind === 'object') {
    const fields = build.fields.map(([key, field]) => `${JSON.stringify(key)}: ${expressionOf(field)}`).join(', ');
    return build.nullGroup > 0 ? `(m[${build.nullGroup}] !== undefined ? null : { ${fields} })` : `{ ${fields} }`;
  }
  const raw = `m[${build.group}]`;
  const value = {
    string: raw,
    integer: `+${raw}`,
    boolean: `${raw} === 'true'`,
    strings: `${raw} === '' ? [] : ${raw}.slice(1, -1).split('","')`,
    json: `JSON.parse(${raw})`,
  }[build.kind];
  return `(${raw} === undefined ? null : ${value})`;
}

/** A value shared by the lines that hold the same text, frozen: no reader can change it for another. */
function deepFreeze<V>(value: V): V {
  if (value && typeof value === 'object') {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

/**
 * A class whose instances read a line's projected fields from its match when asked (a reader
 * of the common lines reads a few of them and drops the line): one getter per top-level field.
 * A nested value parsed from its text is kept for the next line with the same text (the
 * ancestors of one caller repeat line after line). Generated from the schema's keys and the
 * template's capture numbers, never from a line's text.
 */
function lineClassOf<T>(build: Build & { kind: 'object' }): (match: RegExpExecArray) => T {
  const state: string[] = [];
  const fields: string[] = [];
  const getters = build.fields.map(([key, field], index) => {
    if (field.kind === 'object' || field.kind === 'strings') {
      // Built once per line: a reader may ask a line for the same object several times.
      fields.push(`#v${index} = UNREAD;`);
      return `get ${JSON.stringify(key)}() {
        if (this.#v${index} === UNREAD) { const m = this.#m; this.#v${index} = ${expressionOf(field)}; }
        return this.#v${index};
      }`;
    }
    if (field.kind !== 'json')
      return `get ${JSON.stringify(key)}() { const m = this.#m; return ${expressionOf(field)}; }`;
    const [raw, value] = [`raw${field.group}`, `value${field.group}`];
    state.push(`let ${raw}, ${value};`);
    return `get ${JSON.stringify(key)}() {
      const text = this.#m[${field.group}];
      if (text === undefined) return null;
      if (text !== ${raw}) { ${raw} = text; ${value} = freeze(JSON.parse(text)); }
      return ${value};
    }`;
  });
  const source = `const UNREAD = Symbol();\n${state.join('\n')}\nclass TemplateLine { #m; ${fields.join(' ')} constructor(m) { this.#m = m; }\n${getters.join('\n')}\n}\nreturn (m) => new TemplateLine(m);`;
  return new Function('freeze', source)(deepFreeze) as (match: RegExpExecArray) => T;
}

const escapeRegExp = (text: string) => text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');

/** What a template is made of while it is derived from one line. */
class TemplateSource {
  source = '';
  groups = 0;

  group(pattern: string): number {
    this.source += `(${pattern})`;
    return ++this.groups;
  }
}

/** The JSON type of a value under a key the schema does not name, as a pattern, or null when it is nested. */
function unnamedValuePattern(value: unknown): string | null {
  if (typeof value === 'string') return PLAIN_STRING;
  if (typeof value === 'number') return ANY_NUMBER;
  if (typeof value === 'boolean') return String(value);
  return value === null ? 'null' : null;
}

function numberPattern(def: Def): string | null {
  let pattern = INTEGER;
  for (const check of def.checks ?? []) {
    const d = check._zod.def;
    if (d.check === 'number_format' && d.format === 'safeint') continue;
    if (d.check === 'greater_than' && d.value === 0 && d.inclusive && numberCheck(check)) pattern = NONNEGATIVE_INTEGER;
    else return null;
  }
  return pattern;
}

/**
 * Appends the pattern of `value` (a value the contract accepted under `schema`) to `out`;
 * what the value's shape decides (keys present, their order) is fixed, every value of the
 * field's type matches. Gives how to build the projected value, undefined when nothing is
 * projected, or null when no template can be made (the line is then always read in full).
 */
function derive(schema: z.ZodType, value: unknown, projection: unknown, out: TemplateSource): Build | undefined | null {
  const def = defOf(schema);
  const projected = projection !== undefined;
  const checks = def.checks ?? [];
  const leaf = (kind: 'string' | 'integer' | 'boolean' | 'strings' | 'json', pattern: string): Build | undefined => {
    if (!projected) {
      out.source += pattern;
      return undefined;
    }
    return { kind, group: out.group(pattern) };
  };
  switch (def.type) {
    case 'string':
      if (checks.length > 0) return null;
      if (!projected) {
        out.source += PLAIN_STRING;
        return undefined;
      }
      out.source += PLAIN_STRING_CAPTURED;
      return { kind: 'string', group: ++out.groups };
    case 'boolean':
      return checks.length > 0 ? null : leaf('boolean', projected ? 'true|false' : '(?:true|false)');
    case 'number': {
      const pattern = numberPattern(def);
      return pattern === null ? null : leaf('integer', pattern);
    }
    case 'literal':
    case 'enum': {
      const values = def.type === 'literal' ? (def.values ?? []) : Object.values(def.entries ?? {});
      if (checks.length > 0 || !values.every((v) => typeof v === 'string')) return null;
      const alternatives = (values as string[]).map(escapeRegExp).join('|');
      // The quotes stay outside the capture: the value is what is between them.
      out.source += '"';
      const build = leaf('string', `(?:${alternatives})`);
      out.source += '"';
      return build;
    }
    case 'nullable': {
      if (!def.innerType || checks.length > 0) return null;
      if (defOf(def.innerType).type === 'object') return deriveNullableObject(def.innerType, value, projection, out);
      // null|(...): no capture is the null.
      out.source += '(?:null|';
      const build = derive(def.innerType, value ?? undefined, projection, out);
      if (build === null) return null;
      out.source += ')';
      return build;
    }
    case 'optional':
      return def.innerType && checks.length === 0 ? derive(def.innerType, value, projection, out) : null;
    case 'array': {
      if (!def.element || checks.length > 0) return null;
      const element = defOf(def.element);
      const plainStrings = element.type === 'string' && (element.checks?.length ?? 0) === 0;
      const example = Array.isArray(value) ? (value[0] as unknown) : undefined;
      let list = `(?:${PLAIN_STRING}(?:,${PLAIN_STRING})*)?`;
      if (!plainStrings) {
        // Other elements take the first one's shape; an empty array teaches only itself.
        const item = new TemplateSource();
        if (example !== undefined && derive(def.element, example, undefined, item) === null) return null;
        list = example === undefined ? '' : `(?:${item.source}(?:,${item.source})*)?`;
      }
      if (!plainStrings) return leaf('json', `\\[${list}\\]`);
      if (!projected) {
        out.source += `\\[${list}\\]`;
        return undefined;
      }
      out.source += '\\[';
      const build = leaf('strings', list);
      out.source += '\\]';
      return build;
    }
    case 'object':
      return checks.length > 0 ? null : deriveObject(def, value, projection, out);
    default:
      return null;
  }
}

/**
 * A nullable object: its keys' order comes from the value, so a null teaches only `null`; an
 * object teaches `null|{...}`, with a capture of the null when the object is projected.
 */
function deriveNullableObject(
  inner: z.ZodType,
  value: unknown,
  projection: unknown,
  out: TemplateSource,
): Build | undefined | null {
  if (projection === undefined) {
    if (value === null) {
      out.source += 'null';
      return undefined;
    }
    out.source += '(?:null|';
    if (derive(inner, value, undefined, out) === null) return null;
    out.source += ')';
    return undefined;
  }
  out.source += '(?:';
  const nullGroup = out.group('null');
  if (value === null) {
    out.source += ')';
    return { kind: 'object', nullGroup, fields: [] };
  }
  out.source += '|';
  const build = derive(inner, value, projection, out);
  if (build?.kind !== 'object') return null;
  out.source += ')';
  build.nullGroup = nullGroup;
  return build;
}

function deriveObject(def: Def, value: unknown, projection: unknown, out: TemplateSource): Build | undefined | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const rest = def.catchall ? defOf(def.catchall).type : 'strip';
  const shape = def.shape ?? {};
  const fields: Array<[string, Build]> = [];
  out.source += '\\{';
  let first = true;
  for (const [key, item] of Object.entries(value)) {
    if (!first) out.source += ',';
    first = false;
    out.source += escapeRegExp(JSON.stringify(key));
    out.source += ':';
    // JSON.parse makes __proto__ an own key, an object literal a prototype: such a line is read in full.
    if (key === '__proto__') return null;
    const schema = Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (!schema) {
      const pattern = rest === 'never' ? null : unnamedValuePattern(item);
      if (pattern === null) return null;
      out.source += pattern;
      continue;
    }
    const wanted = projection === true ? true : (projection as Record<string, unknown> | undefined)?.[key];
    const build = derive(schema, item, wanted, out);
    if (build === null) return null;
    if (build !== undefined) fields.push([key, build]);
  }
  out.source += '\\}';
  return projection === undefined ? undefined : { kind: 'object', nullGroup: 0, fields };
}

interface Template<T> {
  pattern: RegExp;
  build: (match: RegExpExecArray) => T;
}

/**
 * The templates learnt from lines of one event: `match` gives the projected fields of a line
 * of a learnt shape (certainly valid), or null; `learn` takes a line the contract accepted.
 */
export class LineTemplates<T> {
  private templates: Array<Template<T>> = [];
  /** Sources derived before, and whether they made a template: a shape that cannot is not tried again. */
  private readonly tried = new Map<string, boolean>();

  constructor(
    private readonly schema: z.ZodType,
    private readonly projection: Projection<T>,
  ) {}

  match(text: string): T | null {
    const templates = this.templates;
    for (let i = 0; i < templates.length; i++) {
      const template = templates[i] as Template<T>;
      const match = template.pattern.exec(text);
      if (match === null) continue;
      // The last shape that matched is tried first.
      if (i > 0) {
        templates.splice(i, 1);
        templates.unshift(template);
      }
      return template.build(match);
    }
    return null;
  }

  /** `text`: a line the contract accepted under this schema (its JSON is parsed again here, for its key order). */
  learn(text: string, json: string): void {
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch {
      return;
    }
    const out = new TemplateSource();
    const build = derive(this.schema, value, this.projection, out);
    if (!build) return;
    const source = `^(?:${EXPORT_PREFIX_SOURCE})?${out.source}$`;
    if (this.tried.has(source)) return;
    if (build.kind !== 'object') return;
    const template: Template<T> = { pattern: new RegExp(source), build: lineClassOf<T>(build) };
    // A template that does not match its own line (keys JSON.parse reorders, whitespace) is no use.
    const works = template.pattern.test(text);
    this.tried.set(source, works);
    if (!works) return;
    this.templates.unshift(template);
    if (this.templates.length > MAX_TEMPLATES) this.templates.pop();
  }
}
