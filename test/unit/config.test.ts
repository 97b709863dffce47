// Config loading: defaults, overrides, and one test per kind of bad config, each asserting
// that the message names the file, the key and the problem.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_EXIT_CODE, ConfigError, DEFAULT_CONFIG, loadConfig } from '../../src/config/index.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'imds-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function configFile(text: string): string {
  const file = join(dir, `config-${fileCount++}.json`);
  writeFileSync(file, text);
  return file;
}

function loadError(path: string | undefined, overrides?: Record<string, unknown>): ConfigError {
  try {
    loadConfig(path, overrides);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('loadConfig accepted a bad config');
}

function expectBad(json: unknown, key: string, problem: RegExp): ConfigError {
  const file = configFile(JSON.stringify(json));
  const err = loadError(file);
  expect(err.key).toBe(key);
  expect(err.message).toContain(file);
  expect(err.message).toContain(key);
  expect(err.message).toMatch(problem);
  return err;
}

/** The default column of docs/config.md's key table, as a config object (`a.b` keys nested). */
function documentedDefaults(): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  const doc = readFileSync(join(REPO, 'docs/config.md'), 'utf8');
  for (const [, key = '', text = ''] of doc.matchAll(/^\| `([\w.]+)` \| `([^`]*)` \|/gm)) {
    const path = key.split('.');
    const leaf = path.pop() ?? '';
    let at = config;
    for (const part of path) {
      at[part] ??= {};
      at = at[part] as Record<string, unknown>;
    }
    at[leaf] = /^(?:\d+|true|false)$/.test(text) ? JSON.parse(text) : text;
  }
  return config;
}

describe('defaults', () => {
  it('are the documented values', () => {
    // The shipped config file spells out every default; docs/config.md's table lists them.
    expect(DEFAULT_CONFIG).toEqual(JSON.parse(readFileSync(join(REPO, 'packaging/rpm/config.json'), 'utf8')));
    expect(DEFAULT_CONFIG).toEqual(documentedDefaults());
    expect(CONFIG_EXIT_CODE).toBe(78);
  });

  it('an empty object gives the defaults', () => {
    expect(loadConfig(configFile('{}'))).toEqual(DEFAULT_CONFIG);
  });

  it('a partial nested object keeps the other nested defaults', () => {
    const config = loadConfig(configFile('{"rotation": {"maxFiles": 3}, "buffer": {"kind": "perfbuf"}}'));
    expect(config.rotation).toEqual({ maxSizeMB: 14, frequency: 'daily', maxFiles: 3 });
    expect(config.buffer).toEqual({ kind: 'perfbuf', ringSizeKB: 8192, perfPagesPerCpu: 128 });
  });

  it('overrides win over the file, key by key', () => {
    const file = configFile('{"logDir": "/srv/a", "console": false, "buffer": {"ringSizeKB": 64}}');
    const config = loadConfig(file, { console: true, buffer: { kind: 'ringbuf' } });
    expect(config.logDir).toBe('/srv/a');
    expect(config.console).toBe(true);
    expect(config.buffer).toEqual({ kind: 'ringbuf', ringSizeKB: 64, perfPagesPerCpu: 128 });
  });

  it('a bad override is reported like a bad file value', () => {
    const err = loadError(configFile('{}'), { buffer: { kind: 'bpf' } });
    expect(err.key).toBe('buffer.kind');
  });
});

describe('bad config names the key', () => {
  it('wrong type', () => {
    expectBad({ statsIntervalSeconds: '60' }, 'statsIntervalSeconds', /expected number, received string/);
  });

  it('wrong type of a nested object', () => {
    expectBad({ rotation: 5 }, 'rotation', /expected object/);
  });

  it('unknown top-level key', () => {
    expectBad({ logdir: '/tmp' }, 'logdir', /unknown key/);
  });

  it('unknown nested key', () => {
    expectBad({ rotation: { maxSize: 5 } }, 'rotation.maxSize', /unknown key/);
  });

  it('number above its range', () => {
    expectBad({ rotation: { maxSizeMB: 10241 } }, 'rotation.maxSizeMB', /at most 10240/);
    expectBad({ summary: { intervalSeconds: 7 } }, 'summary.intervalSeconds', /must divide 300/);
    expectBad({ summary: { intervalSeconds: 600 } }, 'summary.intervalSeconds', /at most 300/);
    expectBad({ summary: { fullLinesPerInterval: 0 } }, 'summary.fullLinesPerInterval', /at least 1/);
    expectBad({ summary: { every: 5 } }, 'summary.every', /unknown key/);
  });

  it('number below its range', () => {
    expectBad({ processTableMaxEntries: 10 }, 'processTableMaxEntries', /at least 1024/);
  });

  it('fractional number where an integer is needed', () => {
    expectBad({ responseWaitMs: 1.5 }, 'responseWaitMs', /whole number/);
  });

  it('buffer size that is not a power of two', () => {
    expectBad({ buffer: { ringSizeKB: 100 } }, 'buffer.ringSizeKB', /power of two/);
    expectBad({ buffer: { perfPagesPerCpu: 24 } }, 'buffer.perfPagesPerCpu', /power of two/);
  });

  it('value outside an enum', () => {
    expectBad({ logLevel: 'trace' }, 'logLevel', /"debug"|debug/);
    expectBad({ rotation: { frequency: 'weekly' } }, 'rotation.frequency', /daily/);
  });

  it('empty path', () => {
    expectBad({ logDir: '' }, 'logDir', /at least 1|>=\s*1/);
  });
});

describe('bad config file', () => {
  it('invalid JSON names the line and column', () => {
    const file = configFile('{\n  "logDir": "/tmp",\n  "console": tru\n}\n');
    const err = loadError(file);
    expect(err.key).toBe('(file)');
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/invalid JSON at line 3, column 17: Unexpected token '\\n'$/);
  });

  it('a trailing comma is located too', () => {
    const err = loadError(configFile('{\n  "console": true,\n}'));
    expect(err.message).toMatch(/invalid JSON at line 3, column 1\b/);
  });

  it('JSON that is not an object', () => {
    const err = loadError(configFile('[1, 2]'));
    expect(err.key).toBe('(file)');
    expect(err.message).toMatch(/must hold a JSON object/);
  });

  it('a missing explicit file is an error', () => {
    const file = join(dir, 'absent.json');
    const err = loadError(file);
    expect(err.key).toBe('(file)');
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/ENOENT/);
  });

  it('a directory given as the file is unreadable', () => {
    const err = loadError(dir);
    expect(err.key).toBe('(file)');
    expect(err.message).toMatch(/EISDIR/);
  });
});
