// Every kind of bad configuration stops `run` before it touches the kernel,
// with exit code 78 (EX_CONFIG) and a message on stderr that names the offending key.
// Runs the compiled CLI for real; needs no root (the config is checked first).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from '../rig/analyzer-process.js';

const dir = mkdtempSync(join(tmpdir(), 'imds-config-exit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runWith(configPath: string): { code: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, 'run', '--config', configPath, '--log-dir', join(dir, 'logs')], {
    encoding: 'utf8',
    timeout: 15_000,
  });
  return { code: result.status, stderr: result.stderr };
}

function configFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('bad configuration exits 78 naming the key', () => {
  it.each([
    ['wrong type', '{"buffer":{"ringSizeKB":"big"}}', 'buffer.ringSizeKB', /expected number/],
    ['wrong type (enum)', '{"logLevel":"loud"}', 'logLevel', /./],
    ['unknown key', '{"bogusKey":1}', 'bogusKey', /unknown key/],
    ['unknown nested key', '{"rotation":{"maxSizeMb":5}}', 'rotation.maxSizeMb', /unknown key/],
    ['out-of-range number', '{"responseWaitMs":999999}', 'responseWaitMs', /at most 30000/],
    ['not a power of two', '{"buffer":{"ringSizeKB":100}}', 'buffer.ringSizeKB', /power of two/],
    ['invalid JSON', '{not json', '(file)', /invalid JSON at line 1/],
  ])('%s', (name, text, key, message) => {
    const { code, stderr } = runWith(configFile(`${name.replace(/\W+/g, '-')}.json`, text));
    expect(code).toBe(78);
    expect(stderr).toContain(`: ${key}: `);
    expect(stderr).toMatch(message);
  });

  it('unreadable file (a directory, and a missing file)', () => {
    const asDirectory = runWith(dir);
    expect(asDirectory.code).toBe(78);
    expect(asDirectory.stderr).toContain(`${dir}: (file): cannot read it (EISDIR)`);
    const missing = runWith(join(dir, 'missing.json'));
    expect(missing.code).toBe(78);
    expect(missing.stderr).toContain('missing.json: (file): cannot read it (ENOENT)');
  });
});
