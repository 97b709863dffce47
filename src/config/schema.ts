// /etc/imds-analyzer/config.json: every key optional, unknown keys rejected at every level.
import * as z from 'zod';
import { DEFAULTS } from './defaults.js';

const wholeNumber = (min: number, max: number) =>
  z
    .number()
    .int({ error: `must be a whole number from ${min} to ${max}` })
    .min(min, { error: `must be at least ${min} (range ${min}..${max})` })
    .max(max, { error: `must be at most ${max} (range ${min}..${max})` });

const powerOfTwo = (min: number, max: number) =>
  wholeNumber(min, max).refine((n) => (n & (n - 1)) === 0, { error: `must be a power of two from ${min} to ${max}` });

export const configSchema = z.strictObject({
  logDir: z.string().min(1).default(DEFAULTS.logDir),
  logLevel: z.enum(['debug', 'info', 'warn']).default(DEFAULTS.logLevel),
  console: z.boolean().default(DEFAULTS.console),
  rotation: z
    .strictObject({
      maxSizeMB: wholeNumber(1, 10240).default(DEFAULTS.rotation.maxSizeMB),
      frequency: z.enum(['daily', 'hourly']).default(DEFAULTS.rotation.frequency),
      maxFiles: wholeNumber(1, 1000).default(DEFAULTS.rotation.maxFiles),
    })
    .prefault({}),
  buffer: z
    .strictObject({
      kind: z.enum(['auto', 'ringbuf', 'perfbuf']).default(DEFAULTS.buffer.kind),
      ringSizeKB: powerOfTwo(64, 1048576).default(DEFAULTS.buffer.ringSizeKB),
      perfPagesPerCpu: powerOfTwo(8, 4096).default(DEFAULTS.buffer.perfPagesPerCpu),
    })
    .prefault({}),
  statsIntervalSeconds: wholeNumber(1, 86400).default(DEFAULTS.statsIntervalSeconds),
  responseWaitMs: wholeNumber(0, 30000).default(DEFAULTS.responseWaitMs),
  processTableMaxEntries: wholeNumber(1024, 1_000_000).default(DEFAULTS.processTableMaxEntries),
  stateDir: z.string().min(1).default(DEFAULTS.stateDir),
  /** Kept across boots; the daemon works without it (only slower to start). */
  cacheDir: z.string().min(1).default(DEFAULTS.cacheDir),
});

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export const DEFAULT_CONFIG: Config = configSchema.parse({});
