// The log sink the daemon writes through: pino in the main thread (so every line is
// counted and a shutdown flushes synchronously) over the rolling file, pino `redact` as
// defence in depth for secrets, and the console mode's readable line per request.
import { hostname as osHostname } from 'node:os';
import pino from 'pino';
import { formatConsoleLine, isV1, requestMessage } from './console-line.js';
import { visible } from './visible.js';
import { RollingFile, type RotationOptions, type WriteCounters } from './rolling-file.js';

export interface LogSinkOptions {
  dir: string;
  rotation: RotationOptions;
  console: boolean;
  level: 'debug' | 'info' | 'warn';
  hostname?: string;
}

export type LifecycleEvent = 'ready' | 'stats' | 'stopping' | 'error';

export interface LogSink {
  /** One imds_request line: warn for IMDSv1, info otherwise. */
  request(line: object): void;
  /** ready / stats / stopping are written whatever the level; error at level error. */
  lifecycle(event: LifecycleEvent, fields: object): void;
  counters(): WriteCounters;
  flush(): Promise<void>;
  /** Flushes everything written so far and closes the file. */
  close(): Promise<void>;
}

const SECRET_KEYS = ['token', 'secret', 'password', 'authorization', 'x-aws-ec2-metadata-token'];
/** Credential keys as IMDS returns them. */
const AWS_SECRET_KEYS = ['Token', 'SecretAccessKey', 'SessionToken', 'aws_secret_access_key', 'aws_session_token'];

/** pino redact matches keys exactly: the spellings a header or a field name is seen in. */
function spellings(key: string): string[] {
  const first = key.charAt(0).toUpperCase() + key.slice(1);
  const everyWord = key.replace(/(^|-)([a-z])/g, (_, dash: string, ch: string) => dash + ch.toUpperCase());
  return [...new Set([key, first, everyWord, key.toUpperCase()])];
}

/** pino redact paths for each secret key at the top level and up to three levels down. */
export const REDACT_PATHS = [...SECRET_KEYS.flatMap(spellings), ...AWS_SECRET_KEYS].flatMap((key) => {
  const accessor = /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `["${key}"]`;
  const top = accessor.startsWith('.') ? key : accessor;
  return [top, `*${accessor}`, `*.*${accessor}`, `*.*.*${accessor}`];
});

export async function createLogSink(options: LogSinkOptions): Promise<LogSink> {
  const file = await RollingFile.open(options.dir, options.rotation);
  const logger = pino(
    {
      level: options.level,
      base: { hostname: options.hostname ?? osHostname() },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    },
    { write: (line: string) => file.write(line) },
  );
  // The daemon's own state lines are what `report` and `status` build on: never filtered out.
  const lifecycleLogger = logger.child({}, { level: 'info' });

  return {
    request(line) {
      const msg = requestMessage(line);
      if (isV1(line)) logger.warn(line, msg);
      else logger.info(line, msg);
      if (options.console) process.stdout.write(`${formatConsoleLine(line, new Date())}\n`);
    },
    lifecycle(event, fields) {
      const record = { ...fields, event };
      if (event === 'error') lifecycleLogger.error(record, `error: ${visible(String((fields as { message?: unknown }).message ?? 'unknown'), 300)}`);
      else lifecycleLogger.info(record, event);
    },
    counters: () => file.counters(),
    flush: async () => file.flush(),
    close: () => file.close(),
  };
}
