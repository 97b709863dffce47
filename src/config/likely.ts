// What the config most likely says about loading the BPF object, read before zod is
// loaded (a noticeable part of a start): the daemon starts the load with it, and uses that load only
// when the checked config (load.ts) agrees. Anything unexpected gives the defaults: the
// check that follows says what is wrong.
import { readFileSync } from 'node:fs';
import { DEFAULT_CONFIG_PATH, DEFAULTS } from './defaults.js';

export interface LikelyLoadSettings {
  buffer: 'auto' | 'ringbuf' | 'perfbuf';
  ringSizeKB: number;
  cacheDir: string;
}

function field(from: unknown, key: string): unknown {
  return typeof from === 'object' && from !== null && !Array.isArray(from)
    ? (from as Record<string, unknown>)[key]
    : undefined;
}

/** `bufferOverride`: the --buffer flag, which wins over the file. */
export function likelyLoadSettings(configPath: string | undefined, bufferOverride?: string): LikelyLoadSettings {
  let file: unknown;
  try {
    file = JSON.parse(readFileSync(configPath ?? DEFAULT_CONFIG_PATH, 'utf8'));
  } catch {
    file = {};
  }
  const buffer = field(file, 'buffer');
  const kind = bufferOverride ?? field(buffer, 'kind');
  const ringSizeKB = field(buffer, 'ringSizeKB');
  const cacheDir = field(file, 'cacheDir');
  return {
    buffer: kind === 'ringbuf' || kind === 'perfbuf' || kind === 'auto' ? kind : DEFAULTS.buffer.kind,
    ringSizeKB: typeof ringSizeKB === 'number' ? ringSizeKB : DEFAULTS.buffer.ringSizeKB,
    cacheDir: typeof cacheDir === 'string' ? cacheDir : DEFAULTS.cacheDir,
  };
}
