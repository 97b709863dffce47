// The log sink: pino writing JSON lines through pino-roll (rotation by size and by day
// or hour, a bounded number of files), in the main thread so that every line is
// counted as written or not written and a shutdown can flush synchronously.
// Directory 0750, files 0640 whatever the umask; a symlink planted where a log file
// goes is removed, never followed; a deleted directory is recreated.
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import pinoRoll from 'pino-roll';
import type { Config } from '../config/index.js';
import { consoleLine } from './console-line.js';

export { consoleLine } from './console-line.js';

export interface LogSinkOptions {
  dir: string;
  rotation: Config['rotation'];
  console: boolean;
  level: Config['logLevel'];
  hostname?: string;
}

export interface SinkCounters {
  linesWritten: number;
  linesNotWritten: number;
  writeErrors: number;
}

export interface LogSink {
  request(line: Record<string, unknown>): void;
  lifecycle(event: 'ready' | 'stats' | 'stopping' | 'error', fields: Record<string, unknown>): void;
  counters(): SinkCounters;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export const DIR_MODE = 0o750;
export const FILE_MODE = 0o640;
const FILE_BASE = 'imds-analyzer';
const HEALTH_CHECK_MS = 5000;
/** Keys whose values never reach a log, wherever they appear (defence in depth). */
const REDACT = ['token', 'secret', 'password', 'authorization', 'x-aws-ec2-metadata-token']
  .flatMap((k) => [`["${k}"]`, `*["${k}"]`, `*.*["${k}"]`]);

interface RollStream {
  file: string;
  write(data: string): boolean;
  flushSync(): void;
  reopen(file?: string): void;
  end(): void;
  on(event: string, fn: (...args: unknown[]) => void): void;
  once(event: string, fn: (...args: unknown[]) => void): void;
}

function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  chmodSync(dir, DIR_MODE);
}

/** Removes a symlink sitting where the log file goes; returns true if it did. */
function removePlantedLink(file: string): boolean {
  try {
    if (lstatSync(file).isSymbolicLink()) {
      unlinkSync(file);
      return true;
    }
  } catch {
    // no file yet
  }
  return false;
}

export async function createLogSink(options: LogSinkOptions): Promise<LogSink> {
  ensureDir(options.dir);
  const counters: SinkCounters = { linesWritten: 0, linesNotWritten: 0, writeErrors: 0 };
  const stream = (await pinoRoll({
    file: join(options.dir, FILE_BASE),
    extension: '.log',
    dateFormat: 'yyyy-MM-dd',
    frequency: options.rotation.frequency,
    size: `${options.rotation.maxSizeMB}m`,
    limit: { count: options.rotation.maxFiles },
    mode: FILE_MODE,
    sync: true,
  })) as unknown as RollStream;
  const secureCurrentFile = () => {
    if (removePlantedLink(stream.file)) stream.reopen(stream.file);
    try {
      chmodSync(stream.file, FILE_MODE);
    } catch {
      // the directory may be gone: the health check recreates it
    }
  };
  secureCurrentFile();
  stream.on('ready', secureCurrentFile);
  stream.on('error', () => {
    counters.writeErrors++;
  });

  const destination = {
    write(data: string) {
      try {
        stream.write(data);
        counters.linesWritten++;
      } catch {
        // ENOSPC and friends: the daemon goes on, and `stats` says how many were lost.
        counters.linesNotWritten++;
        counters.writeErrors++;
      }
    },
  };
  const logger = pino(
    { level: options.level, base: { hostname: options.hostname }, redact: { paths: REDACT, censor: '[REDACTED]' } },
    destination,
  );

  const health = setInterval(() => {
    if (!existsSync(stream.file)) {
      try {
        ensureDir(options.dir);
        stream.reopen(stream.file);
      } catch {
        counters.writeErrors++;
      }
    }
  }, HEALTH_CHECK_MS);
  health.unref();

  return {
    request(line) {
      // A GCP/Azure-style probe is not an IMDSv1 call, whatever its headers.
      const v1 = line.imds_version === 'v1' && line.aws_api !== false;
      const proc = (line.process ?? {}) as { comm?: unknown; pid?: unknown };
      const req = (line.request ?? {}) as { method?: unknown; path?: unknown };
      const msg = `${line.aws_api === false ? 'non-AWS metadata' : v1 ? 'IMDSv1' : line.imds_version === 'v2' ? 'IMDSv2' : 'unclassified'} ${String(req.method)} ${String(req.path)} by ${String(proc.comm ?? '?')} (pid ${String(proc.pid ?? '?')})`;
      if (v1) logger.warn(line, msg);
      else logger.info(line, msg);
      if (options.console) process.stdout.write(`${consoleLine(line, new Date())}\n`);
    },
    lifecycle(event, fields) {
      const payload = { event, ...fields };
      if (event === 'error') logger.error(payload, String(fields.message ?? 'error'));
      else logger.info(payload, event);
    },
    counters: () => ({ ...counters }),
    async flush() {
      try {
        stream.flushSync();
      } catch {
        counters.writeErrors++;
      }
    },
    async close() {
      clearInterval(health);
      try {
        stream.flushSync();
      } catch {
        counters.writeErrors++;
      }
      stream.end();
    },
  };
}
