// Loads and validates the configuration. Every failure is a ConfigError naming the file,
// the key and the problem; the daemon exits with CONFIG_EXIT_CODE (78, EX_CONFIG), which
// the unit's RestartPreventExitStatus keeps from restarting in a loop.
import { readFileSync } from 'node:fs';
import { configSchema, type Config } from './schema.js';

export { DEFAULT_CONFIG, configSchema, type Config, type ConfigInput } from './schema.js';

export const CONFIG_EXIT_CODE = 78;
export const DEFAULT_CONFIG_PATH = '/etc/imds-analyzer/config.json';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly key: string,
    problem: string,
  ) {
    super(`bad configuration in ${file}: ${key}: ${problem}`);
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

function lineAndColumn(text: string, message: string): string {
  const pos = /position (\d+)/.exec(message)?.[1];
  if (pos === undefined) return message;
  const before = text.slice(0, Number(pos));
  const line = before.split('\n').length;
  const column = Number(pos) - before.lastIndexOf('\n');
  return `${message.replace(/ in JSON at position \d+.*$/, '')} at line ${line}, column ${column}`;
}

export function loadConfig(path: string | undefined, overrides: Record<string, unknown> = {}): Config {
  const file = path ?? DEFAULT_CONFIG_PATH;
  let fromFile: unknown = {};
  let text: string | null = null;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Without a config file the defaults apply; a file named explicitly must exist.
    if (!(path === undefined && code === 'ENOENT')) {
      throw new ConfigError(file, '(file)', `cannot read it (${code ?? (err as Error).message})`);
    }
  }
  if (text !== null) {
    try {
      fromFile = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(file, '(file)', `invalid JSON: ${lineAndColumn(text, (err as Error).message)}`);
    }
    if (!isObject(fromFile)) throw new ConfigError(file, '(file)', 'must hold a JSON object');
  }
  const result = configSchema.safeParse(merge(fromFile as Record<string, unknown>, overrides));
  if (!result.success) {
    const issue = result.error.issues[0];
    const keys = issue && 'keys' in issue && Array.isArray(issue.keys) ? (issue.keys as string[]) : [];
    const pathParts = [...(issue?.path ?? []).map(String), ...(keys.length ? [keys.join(', ')] : [])];
    throw new ConfigError(file, pathParts.join('.') || '(root)', issue?.message ?? 'invalid');
  }
  return result.data;
}
