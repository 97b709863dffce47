// The config the daemon runs with: the file checked (zod, loaded only now), the command
// line's overrides applied, and the directories it names writable (and, those it trusts
// files from, root's alone).
import type { Config } from '../config/index.js';
import { untrustedDirectories } from './owned-dirs.js';
import { unwritableDirectories } from './writable-dirs.js';

export interface ConfigSources {
  configPath: string | undefined;
  logDir: string | undefined;
  console: boolean | undefined;
  buffer: string | undefined;
}

/** The daemon ends with this exit code; the message says why. */
export class DaemonExit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Throws DaemonExit (EX_CONFIG) when the config is wrong or names a directory it cannot write. */
export async function checkedConfig(sources: ConfigSources): Promise<Config> {
  const { CONFIG_EXIT_CODE, ConfigError, loadConfig } = await import('../config/index.js');
  const overrides: Record<string, unknown> = {};
  if (sources.logDir !== undefined) overrides.logDir = sources.logDir;
  if (sources.console !== undefined) overrides.console = sources.console;
  if (sources.buffer !== undefined) overrides.buffer = { kind: sources.buffer };
  let config: Config;
  try {
    config = loadConfig(sources.configPath, overrides);
  } catch (err) {
    throw err instanceof ConfigError ? new DaemonExit(CONFIG_EXIT_CODE, err.message) : err;
  }
  const problems = [
    ...unwritableDirectories([
      { key: 'logDir', path: config.logDir },
      { key: 'stateDir', path: config.stateDir },
    ]),
    ...untrustedDirectories([
      { key: 'stateDir', path: config.stateDir },
      { key: 'cacheDir', path: config.cacheDir },
    ]),
  ];
  if (problems.length > 0) throw new DaemonExit(CONFIG_EXIT_CODE, problems.join('\n'));
  return config;
}
