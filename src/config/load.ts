// Loads and validates the configuration. Every failure is a ConfigError naming the file,
// the key and the problem; the daemon exits with CONFIG_EXIT_CODE (78, EX_CONFIG), which
// the unit's RestartPreventExitStatus keeps from restarting in a loop.
import { readFileSync } from 'node:fs';
import type * as z from 'zod/mini';
import { CommandError, EXIT } from '../logic/exit-status.js';
import { configSchema, type Config, type ConfigInput } from './schema.js';

import { DEFAULT_CONFIG_PATH } from './defaults.js';

export const CONFIG_EXIT_CODE = EXIT.config;
export { DEFAULT_CONFIG_PATH };
/** A config file is a few hundred bytes; anything far larger is a mistake, not a config. */
const MAX_CONFIG_BYTES = 1024 * 1024;

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };
export type ConfigOverrides = DeepPartial<ConfigInput> | Record<string, unknown>;

export class ConfigError extends CommandError {
  constructor(
    readonly file: string,
    /** Dotted key path ("rotation.maxSizeMB"), or "(file)" when the file itself is the problem. */
    readonly key: string,
    readonly problem: string,
  ) {
    super(EXIT.config, `bad configuration in ${file}: ${key}: ${problem}`);
    this.name = 'ConfigError';
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Overrides (command-line flags) win over the file, key by key. */
function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const current = out[k];
    out[k] = isObject(v) && isObject(current) ? merge(current, v) : v;
  }
  return out;
}

function parseErrorAt(text: string, length: number): boolean {
  try {
    JSON.parse(text.slice(0, length));
    return false;
  } catch (err) {
    const message = (err as Error).message;
    if (message.startsWith('Unexpected end')) return false;
    const position = /at position (\d+)/.exec(message)?.[1];
    // An error exactly at the end of a prefix only means the prefix ran out.
    return position === undefined || Number(position) < length;
  }
}

/** Where JSON.parse gave up: the shortest prefix that already fails for a reason other than running out. */
function errorOffset(text: string): number {
  let low = 0;
  let high = text.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (parseErrorAt(text, mid + 1)) high = mid;
    else low = mid + 1;
  }
  return low;
}

function jsonProblem(text: string, err: Error): string {
  const offset = errorOffset(text);
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  // V8 appends the position or a quoted excerpt of the text; the line and column say it better.
  const reason = err.message
    .replace(/ in JSON at position \d+.*$/s, '')
    .replace(/, (\.\.\.)?".*" is not valid JSON$/s, '');
  // A message on one line: an unexpected newline is shown as \n.
  return `invalid JSON at line ${line}, column ${column}: ${JSON.stringify(reason).slice(1, -1)}`;
}

function describeIssue(issue: z.core.$ZodIssue): { key: string; problem: string } {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => [...path, k].join('.'));
    return { key: keys.join(', '), problem: `unknown key${keys.length > 1 ? 's' : ''}` };
  }
  return { key: path.join('.') || '(root)', problem: issue.message };
}

function readConfigText(file: string, explicit: boolean): string | null {
  try {
    const text = readFileSync(file, 'utf8');
    if (text.length > MAX_CONFIG_BYTES) throw new ConfigError(file, '(file)', `larger than ${MAX_CONFIG_BYTES} bytes`);
    return text;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    // Without a config file the defaults apply; a file named explicitly must exist.
    if (!explicit && code === 'ENOENT') return null;
    throw new ConfigError(file, '(file)', `cannot read it (${code ?? (err as Error).message})`);
  }
}

export function loadConfig(path: string | undefined, overrides: ConfigOverrides = {}): Config {
  const file = path ?? DEFAULT_CONFIG_PATH;
  const text = readConfigText(file, path !== undefined);
  let fromFile: Record<string, unknown> = {};
  if (text !== null) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(file, '(file)', jsonProblem(text, err as Error));
    }
    if (!isObject(parsed)) throw new ConfigError(file, '(file)', 'must hold a JSON object');
    fromFile = parsed;
  }
  const result = configSchema.safeParse(merge(fromFile, overrides as Record<string, unknown>));
  if (!result.success) {
    const issue = result.error.issues[0];
    if (issue === undefined) throw new ConfigError(file, '(root)', 'invalid');
    const { key, problem } = describeIssue(issue);
    throw new ConfigError(file, key, problem);
  }
  return result.data;
}
