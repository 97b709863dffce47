// Reading a stored log line through the contract: the one way `report`, the test rigs and
// the e2e tests take a line back. What comes out is typed from the writer's schemas, so a
// reader cannot name a field the daemon does not write.
import * as z from 'zod';
import { compileCheck, type FastCheck } from './fast-check.js';
import { EXPORT_PREFIX, LineTemplates, type Projection } from './line-scanner.js';
import { type LogLine, lineSchemas, pinoLineSchema } from './log-line.js';

/**
 * A value as a reader of stored logs gets it: every field may be absent (older versions
 * wrote fewer; unknown fields of newer versions are kept but not typed), and a field that is
 * there has the contract's type.
 */
export type Stored<T> = T extends readonly (infer E)[]
  ? Stored<E>[]
  : T extends object
    ? { readonly [K in keyof T]?: Stored<T[K]> }
    : T;

/** One event's stored line: the event and pino's `time` are always there (see readStoredLine). */
type StoredOf<T extends { event: string; time: number }> = Stored<Omit<T, 'event' | 'time'>> &
  Pick<T, 'event' | 'time'>;
type EachStored<T> = T extends LogLine ? StoredOf<T> : never;
export type StoredLogLine = EachStored<LogLine>;
export type StoredEvent = StoredLogLine['event'];
export type StoredLineOf<E extends StoredEvent> = Extract<StoredLogLine, { event: E }>;
/** A line of an event this version does not know (a newer version's): only pino's fields are read. */
export type ForeignLine = Stored<z.infer<typeof pinoLineSchema>> & { time: number };

/** What a line that could not be read still tells: pino's leading fields, found in its text. */
export interface CorruptLine {
  time: number | null;
  hostname: string | null;
  instance_id: string | null;
  boot_id: string | null;
  /** The event the line names, when it names one before it was cut. */
  event: string | null;
  /** false only when the line names an event that is not a request. */
  couldBeRequest: boolean;
}

export type StoredReading =
  | { kind: 'line'; line: StoredLogLine }
  | { kind: 'foreign'; line: ForeignLine }
  | { kind: 'corrupt'; line: CorruptLine }
  | { kind: 'blank' };

/** The stored form of a writer's schema (see Stored), derived, never written by hand. */
function asStored(schema: z.ZodType): z.ZodType {
  if (schema instanceof z.ZodObject) {
    const shape = schema.shape as Record<string, z.ZodType>;
    return z.looseObject(
      Object.fromEntries(Object.entries(shape).map(([key, field]) => [key, asStored(field).optional()])),
    );
  }
  if (schema instanceof z.ZodNullable) return asStored(schema.unwrap() as z.ZodType).nullable();
  if (schema instanceof z.ZodOptional) return asStored(schema.unwrap() as z.ZodType).optional();
  if (schema instanceof z.ZodArray) return z.array(asStored(schema.element as z.ZodType));
  return schema;
}

const always = { time: z.number() };
const storedSchemas = new Map<string, z.ZodType>(
  lineSchemas.map((schema) => [
    schema.shape.event.value,
    (asStored(schema) as z.ZodObject).extend({ ...always, event: schema.shape.event }),
  ]),
);
const foreignSchema = (asStored(pinoLineSchema) as z.ZodObject).extend(always);
/** Each event's stored schema as plain type checks: the fast path; zod decides what they do not accept. */
const fastChecks = new Map<string, FastCheck | null>(
  [...storedSchemas].map(([event, schema]) => [event, compileCheck(schema)]),
);

/** The stored schema of one of our events (for the tests of the fast path). */
export const storedSchemaOf = (event: string): z.ZodType | undefined => storedSchemas.get(event);

/**
 * Templates of one event's lines, learnt from lines the contract accepted, giving the fields
 * `projection` names straight from a line's text (line-scanner.ts); a line they do not match
 * is read by readStoredLine, which decides.
 */
export function storedLineTemplates<E extends StoredEvent>(
  event: E,
  projection: Projection<StoredLineOf<E>>,
): LineTemplates<StoredLineOf<E>> | null {
  const schema = storedSchemas.get(event);
  return schema ? new LineTemplates(schema, projection) : null;
}

/** The daemon's JSON text of a stored line: the line itself, or the message of an export line. */
export function messageOf(text: string): string {
  if (text.startsWith('{')) return text;
  const prefix = EXPORT_PREFIX.exec(text);
  return prefix ? text.slice(prefix[0].length) : text;
}

// pino writes its fields first (level, time, timestamp, region, hostname, instance_id, boot_id), then
// the event: a line cut after them still says whose and when it was. A quote inside a JSON
// string is escaped, so these patterns cannot match inside a value the line carries.
const TORN_FIELDS = {
  time: /"time":(\d+)[,}]/,
  hostname: /"hostname":"((?:[^"\\]|\\.)*)"/,
  instance_id: /"instance_id":"((?:[^"\\]|\\.)*)"/,
  boot_id: /"boot_id":"((?:[^"\\]|\\.)*)"/,
  event: /"event":"((?:[^"\\]|\\.)*)"/,
};
const REQUEST_EVENT: StoredEvent = 'imds_request';

function corrupt(json: string, otherJson: boolean): StoredReading {
  const field = (pattern: RegExp): string | null => pattern.exec(json)?.[1] ?? null;
  const time = field(TORN_FIELDS.time);
  const event = field(TORN_FIELDS.event);
  return {
    kind: 'corrupt',
    line: {
      time: time === null ? null : Number(time),
      hostname: field(TORN_FIELDS.hostname),
      instance_id: field(TORN_FIELDS.instance_id),
      boot_id: field(TORN_FIELDS.boot_id),
      event,
      // Complete JSON that is no object is not a line of ours; a cut one may be anything.
      couldBeRequest: !otherJson && (event === null || event === REQUEST_EVENT || !storedSchemas.has(event)),
    },
  };
}

/**
 * One stored line (ours as written, or a CloudWatch Logs export line) read through the
 * contract. `corrupt`: not a JSON object, no `time`, or a field of our events not of the
 * contract's type (never half used). `foreign`: a JSON line of an event this version does
 * not know, or of no event. Lines the compiled checks accept skip zod (fast-check.ts).
 */
export function readStoredLine(text: string): StoredReading {
  return read(text, true);
}

/** readStoredLine without the fast path: every line checked by zod (the reference the fast path is tested against). */
export function readStoredLineByZod(text: string): StoredReading {
  return read(text, false);
}

function read(text: string, fast: boolean): StoredReading {
  if (!text.trim()) return { kind: 'blank' };
  const json = messageOf(text);
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return corrupt(json, false);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return corrupt(json, true);
  const event = (value as { event?: unknown }).event;
  const schema = typeof event === 'string' ? storedSchemas.get(event) : undefined;
  if (schema) {
    // zod's copy and this value hold the same fields and values: readers use them by name.
    if (fast && fastChecks.get(event as string)?.(value) === true)
      return { kind: 'line', line: value as StoredLogLine };
    const parsed = schema.safeParse(value);
    return parsed.success ? { kind: 'line', line: parsed.data as StoredLogLine } : corrupt(json, false);
  }
  const foreign = foreignSchema.safeParse(value);
  return foreign.success ? { kind: 'foreign', line: foreign.data as ForeignLine } : corrupt(json, false);
}
