// The config room: schema (source of truth for keys and defaults) and loading.
export { DEFAULT_CONFIG, configSchema, type Config, type ConfigInput } from './schema.js';
export {
  CONFIG_EXIT_CODE,
  ConfigError,
  DEFAULT_CONFIG_PATH,
  loadConfig,
  type ConfigOverrides,
} from './load.js';
