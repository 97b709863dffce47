// /etc/imds-analyzer/config.json: every key optional, unknown keys rejected at every level.
import * as z from 'zod';

const wholeNumber = (min: number, max: number) =>
  z
    .number()
    .int({ error: `must be a whole number from ${min} to ${max}` })
    .min(min, { error: `must be at least ${min} (range ${min}..${max})` })
    .max(max, { error: `must be at most ${max} (range ${min}..${max})` });

const powerOfTwo = (min: number, max: number) =>
  wholeNumber(min, max).refine((n) => (n & (n - 1)) === 0, { error: `must be a power of two from ${min} to ${max}` });

export const configSchema = z.strictObject({
  logDir: z.string().min(1).default('/var/log/imds-analyzer'),
  logLevel: z.enum(['debug', 'info', 'warn']).default('info'),
  console: z.boolean().default(false),
  rotation: z
    .strictObject({
      maxSizeMB: wholeNumber(1, 10240).default(50),
      frequency: z.enum(['daily', 'hourly']).default('daily'),
      maxFiles: wholeNumber(1, 1000).default(14),
    })
    .prefault({}),
  buffer: z
    .strictObject({
      kind: z.enum(['auto', 'ringbuf', 'perfbuf']).default('auto'),
      ringSizeKB: powerOfTwo(64, 1048576).default(8192),
      perfPagesPerCpu: powerOfTwo(8, 4096).default(128),
    })
    .prefault({}),
  statsIntervalSeconds: wholeNumber(1, 86400).default(60),
  responseWaitMs: wholeNumber(0, 30000).default(2000),
  processTableMaxEntries: wholeNumber(1024, 1_000_000).default(32768),
  stateDir: z.string().min(1).default('/run/imds-analyzer'),
  /** Kept across boots; the daemon works without it (only slower to start). */
  cacheDir: z.string().min(1).default('/var/cache/imds-analyzer'),
});

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export const DEFAULT_CONFIG: Config = configSchema.parse({});
