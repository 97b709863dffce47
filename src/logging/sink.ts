// The log sink the daemon writes through: pino in the main thread (so every line is
// counted and a shutdown flushes synchronously) over the rolling file, every line and
// console line through the Redactor first (pino `redact` on secret-named keys as defence
// in depth), and the console mode's readable line per request.
import { hostname as osHostname } from 'node:os';
import pino from 'pino';
import type { HostIdentity } from '../logic/host-identity.js';
import { TOKEN_HEADER } from '../model/imds.js';
import type { LifecycleFields, RequestLine } from '../model/log-line.js';
import { formatConsoleLine, isImdsV1Call, requestMessage } from './console-line.js';
import { visible } from './visible.js';
import { Redactor } from './redactor.js';
import { RollingFile, type RotationOptions, type WriteCounters } from './rolling-file.js';

export interface LogSinkOptions {
  dir: string;
  rotation: RotationOptions;
  console: boolean;
  level: 'debug' | 'info' | 'warn';
  hostname?: string;
  /** Written on every line, request and lifecycle alike; its region as it is when each line is written. */
  identity: HostIdentity;
  /** The daemon's redactor (it also learns the tokens seen on the wire). */
  redactor?: Redactor;
  /** The clock lines are stamped with (report fixtures are written at fixed times). */
  now?: () => number;
  /** Every line as written to the file (the daemon's own verdict is computed from them). */
  onLine?: (text: string) => void;
}

export type LifecycleEvent = LifecycleFields['event'];
/** A lifecycle line's own fields, as the contract defines them for that event. */
export type LifecycleBody<E extends LifecycleEvent> = Omit<Extract<LifecycleFields, { event: E }>, 'event'>;

export interface LogSink {
  /** One imds_request line: warn for an IMDSv1 call to the AWS API, info otherwise. */
  request(line: RequestLine): void;
  /** ready / stats / stopping are written whatever the level; error at level error. */
  lifecycle<E extends LifecycleEvent>(event: E, fields: LifecycleBody<E>): void;
  counters(): WriteCounters;
  flush(): Promise<void>;
  /** Reopens the log file by name (SIGHUP). */
  reopen(): void;
  /** Flushes everything written so far and closes the file. */
  close(): Promise<void>;
}

const SECRET_KEYS = ['token', 'secret', 'password', 'authorization', TOKEN_HEADER];
/** Credential keys as IMDS returns them. */
const AWS_SECRET_KEYS = ['Token', 'SecretAccessKey', 'SessionToken', 'aws_secret_access_key', 'aws_session_token'];
const CENSOR = '[REDACTED]';
const SECRET_KEY_SET = new Set([...SECRET_KEYS, ...AWS_SECRET_KEYS].map((key) => key.toLowerCase()));
/** Records are a few levels deep; the bound also stops a cyclic object. */
const MAX_REDACT_DEPTH = 8;

/** pino redact matches keys exactly: the spellings a header or a field name is seen in. */
function spellings(key: string): string[] {
  const first = key.charAt(0).toUpperCase() + key.slice(1);
  const everyWord = key.replace(/(^|-)([a-z])/g, (_, dash: string, ch: string) => dash + ch.toUpperCase());
  return [...new Set([key, first, everyWord, key.toUpperCase()])];
}

/**
 * pino redact paths for top-level secret keys. Nested keys are censored by censorNested:
 * redact's wildcard paths (`*.token`, `*.*.token`) cost far more per line than the walk.
 */
export const REDACT_PATHS = [...SECRET_KEYS.flatMap(spellings), ...AWS_SECRET_KEYS].map((key) =>
  /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`,
);

/** `value` with every secret-named key below the top level censored, copying only what changes. */
function censorNested(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null || depth > MAX_REDACT_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    value.forEach((item: unknown, index) => {
      const censored = censorNested(item, depth + 1);
      if (censored === item) return;
      copy ??= [...value];
      copy[index] = censored;
    });
    return copy ?? value;
  }
  let copy: Record<string, unknown> | null = null;
  for (const [key, item] of Object.entries(value)) {
    const censored = depth > 0 && SECRET_KEY_SET.has(key.toLowerCase()) ? CENSOR : censorNested(item, depth + 1);
    if (censored === item) continue;
    copy ??= { ...value };
    copy[key] = censored;
  }
  return copy ?? value;
}

/**
 * pino's `time` (epoch ms, our contract) and the same instant as ISO-8601 UTC for the
 * CloudWatch agent (`%Y-%m-%dT%H:%M:%S.%fZ`). The agent stamps an event with the leftmost
 * match in the raw line, so this field comes second, before any ISO-looking value a
 * record carries (a process start time, an argument).
 */
function timeFields(now: number): string {
  return `,"time":${now},"timestamp":"${new Date(now).toISOString()}"`;
}

export async function createLogSink(options: LogSinkOptions): Promise<LogSink> {
  // The region may be learnt after the sink opens (cloud-init writes it after the daemon
  // starts at boot), and pino's base fields are fixed when the logger is made: it goes with
  // the time fields, which pino writes anew for every line, as text made once per value.
  let region: string | null | undefined;
  let regionText = '';
  const regionField = (): string => {
    if (options.identity.region !== region) {
      region = options.identity.region;
      regionText = `,"region":${JSON.stringify(region)}`;
    }
    return regionText;
  };
  const file = await RollingFile.open(options.dir, options.rotation);
  const logger = pino(
    {
      level: options.level,
      base: {
        hostname: options.hostname ?? osHostname(),
        instance_id: options.identity.instance_id,
        boot_id: options.identity.boot_id,
      },
      timestamp: () => timeFields(options.now?.() ?? Date.now()) + regionField(),
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      formatters: { log: (record) => censorNested(record, 0) as Record<string, unknown> },
    },
    {
      write: (line: string) => {
        file.write(line);
        options.onLine?.(line);
      },
    },
  );
  // The daemon's own state lines are what `report` and `status` build on: never filtered out.
  const lifecycleLogger = logger.child({}, { level: 'info' });
  const redactor = options.redactor ?? new Redactor();

  return {
    request(raw) {
      const line = redactor.line(raw);
      const msg = requestMessage(line);
      if (isImdsV1Call(line)) logger.warn(line, msg);
      else logger.info(line, msg);
      if (options.console) process.stdout.write(`${formatConsoleLine(line, new Date())}\n`);
    },
    lifecycle(event, fields) {
      // Extract<> over a generic event does not narrow: the union is what was passed.
      const record = redactor.value({ ...fields, event }) as unknown as LifecycleFields;
      if (record.event === 'error') lifecycleLogger.error(record, `error: ${visible(record.message, 300)}`);
      else lifecycleLogger.info(record, event);
    },
    counters: () => file.counters(),
    flush: async () => file.flush(),
    reopen: () => file.reopen(),
    close: () => file.close(),
  };
}
