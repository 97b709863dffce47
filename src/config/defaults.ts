// What a config file that leaves a key out gets. The schema (schema.ts) applies them; the
// daemon also reads them before zod is loaded, to start loading the BPF object (likely.ts).
export const DEFAULT_CONFIG_PATH = '/etc/imds-analyzer/config.json';

export const DEFAULTS = {
  logDir: '/var/log/imds-analyzer',
  logLevel: 'info',
  console: false,
  rotation: { maxSizeMB: 14, frequency: 'daily', maxFiles: 33 },
  summary: { enabled: true, intervalSeconds: 300, fullLinesPerInterval: 10 },
  buffer: { kind: 'auto', ringSizeKB: 8192, perfPagesPerCpu: 128 },
  statsIntervalSeconds: 60,
  verdictIntervalSeconds: 3600,
  responseWaitMs: 2000,
  processTableMaxEntries: 32768,
  stateDir: '/run/imds-analyzer',
  cacheDir: '/var/cache/imds-analyzer',
} as const;
