// /etc/imds-analyzer/config.json: every key optional, unknown keys rejected at every level.
import { z } from 'zod';

const powerOfTwo = (min: number, max: number) =>
  z
    .number()
    .int()
    .min(min)
    .max(max)
    .refine((n) => (n & (n - 1)) === 0, { message: 'must be a power of two' });

export const configSchema = z.strictObject({
  logDir: z.string().min(1).default('/var/log/imds-analyzer'),
  logLevel: z.enum(['debug', 'info', 'warn']).default('info'),
  console: z.boolean().default(false),
  rotation: z
    .strictObject({
      maxSizeMB: z.number().int().min(1).max(10240).default(50),
      frequency: z.enum(['daily', 'hourly']).default('daily'),
      maxFiles: z.number().int().min(1).max(1000).default(14),
    })
    .prefault({}),
  buffer: z
    .strictObject({
      kind: z.enum(['auto', 'ringbuf', 'perfbuf']).default('auto'),
      ringSizeKB: powerOfTwo(64, 1048576).default(8192),
      perfPagesPerCpu: powerOfTwo(8, 4096).default(128),
    })
    .prefault({}),
  statsIntervalSeconds: z.number().int().min(1).max(86400).default(60),
  responseWaitMs: z.number().int().min(0).max(30000).default(2000),
  processTableMaxEntries: z.number().int().min(1024).max(1_000_000).default(32768),
  stateDir: z.string().min(1).default('/run/imds-analyzer'),
});

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export const DEFAULT_CONFIG: Config = configSchema.parse({});
