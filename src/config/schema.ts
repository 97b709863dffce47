// /etc/imds-analyzer/config.json: every key optional, unknown keys rejected at every level.
// zod/mini, not zod: the daemon checks its config on the way to READY=1, and zod's full
// build loads much slower (docs/benchmarks.md); the rules are the same.
import en from 'zod/v4/locales/en.js';
import * as z from 'zod/mini';
import { DEFAULTS } from './defaults.js';

// The messages of an issue without its own (a wrong type, an unknown option), as zod's
// (English only: z.locales would bring every language).
z.config(en());

const wholeNumber = (min: number, max: number) =>
  z
    .number()
    .check(
      z.int({ error: `must be a whole number from ${min} to ${max}` }),
      z.minimum(min, { error: `must be at least ${min} (range ${min}..${max})` }),
      z.maximum(max, { error: `must be at most ${max} (range ${min}..${max})` }),
    );

const powerOfTwo = (min: number, max: number) =>
  wholeNumber(min, max).check(
    z.refine((n: number) => (n & (n - 1)) === 0, { error: `must be a power of two from ${min} to ${max}` }),
  );

export const configSchema = z.strictObject({
  logDir: z._default(z.string().check(z.minLength(1)), DEFAULTS.logDir),
  logLevel: z._default(z.enum(['debug', 'info', 'warn']), DEFAULTS.logLevel),
  console: z._default(z.boolean(), DEFAULTS.console),
  rotation: z.prefault(
    z.strictObject({
      maxSizeMB: z._default(wholeNumber(1, 10240), DEFAULTS.rotation.maxSizeMB),
      frequency: z._default(z.enum(['daily', 'hourly']), DEFAULTS.rotation.frequency),
      maxFiles: z._default(wholeNumber(1, 1000), DEFAULTS.rotation.maxFiles),
    }),
    {},
  ),
  /** Bounded evidence (src/logic/summary.ts): per program and interval, full lines then exact counts. */
  summary: z.prefault(
    z.strictObject({
      /** false: every request in full (tests that follow each request by its line). */
      enabled: z._default(z.boolean(), DEFAULTS.summary.enabled),
      intervalSeconds: z._default(
        wholeNumber(1, 300).check(
          z.refine((n: number) => 300 % n === 0, { error: 'must divide 300 (a 5-minute period) exactly' }),
        ),
        DEFAULTS.summary.intervalSeconds,
      ),
      fullLinesPerInterval: z._default(wholeNumber(1, 100000), DEFAULTS.summary.fullLinesPerInterval),
    }),
    {},
  ),
  buffer: z.prefault(
    z.strictObject({
      kind: z._default(z.enum(['auto', 'ringbuf', 'perfbuf']), DEFAULTS.buffer.kind),
      ringSizeKB: z._default(powerOfTwo(64, 1048576), DEFAULTS.buffer.ringSizeKB),
      perfPagesPerCpu: z._default(powerOfTwo(8, 4096), DEFAULTS.buffer.perfPagesPerCpu),
    }),
    {},
  ),
  statsIntervalSeconds: z._default(wholeNumber(1, 86400), DEFAULTS.statsIntervalSeconds),
  /** How often the daemon writes its verdict line (it also writes one at stop). */
  verdictIntervalSeconds: z._default(wholeNumber(1, 604800), DEFAULTS.verdictIntervalSeconds),
  responseWaitMs: z._default(wholeNumber(0, 30000), DEFAULTS.responseWaitMs),
  processTableMaxEntries: z._default(wholeNumber(1024, 1_000_000), DEFAULTS.processTableMaxEntries),
  stateDir: z._default(z.string().check(z.minLength(1)), DEFAULTS.stateDir),
  /** Kept across boots; the daemon works without it (only slower to start). */
  cacheDir: z._default(z.string().check(z.minLength(1)), DEFAULTS.cacheDir),
});

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export const DEFAULT_CONFIG: Config = configSchema.parse({});
