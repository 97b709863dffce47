// config/likely.ts: what the daemon loads the BPF object with before zod has checked the
// config. For every config the schema accepts it must be what the checked config says, or
// the early load is thrown away (a slower start, never a wrong one).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { likelyLoadSettings } from '../../src/config/likely.js';

const dir = mkdtempSync(join(tmpdir(), 'imds-likely-'));
let n = 0;
function file(json: unknown): string {
  const path = join(dir, `config-${n++}.json`);
  writeFileSync(path, typeof json === 'string' ? json : JSON.stringify(json));
  return path;
}
const checked = (path: string, buffer?: string) => {
  const config = loadConfig(path, buffer ? { buffer: { kind: buffer } } : {});
  return { buffer: config.buffer.kind, ringSizeKB: config.buffer.ringSizeKB, cacheDir: config.cacheDir };
};

describe('likelyLoadSettings', () => {
  it.each([
    [{}, undefined],
    [{ buffer: { kind: 'perfbuf', perfPagesPerCpu: 64 } }, undefined],
    [{ buffer: { ringSizeKB: 65536 } }, undefined],
    [{ cacheDir: '/srv/cache', logDir: '/srv/logs' }, undefined],
    [{ buffer: { kind: 'ringbuf' } }, 'perfbuf'],
    [{}, 'auto'],
  ])('agrees with the checked config for %j (--buffer %s)', (json, buffer) => {
    const path = file(json);
    expect(likelyLoadSettings(path, buffer)).toEqual(checked(path, buffer));
  });

  it('a missing file at the default path gives the defaults, as the checked config does', () => {
    expect(likelyLoadSettings(join(dir, 'absent.json'))).toEqual({
      buffer: 'auto',
      ringSizeKB: 8192,
      cacheDir: '/var/cache/imds-analyzer',
    });
  });

  it('what is not JSON or of the wrong type gives the defaults (the check then stops the daemon)', () => {
    expect(likelyLoadSettings(file('{ not json'))).toEqual(likelyLoadSettings(join(dir, 'absent.json')));
    expect(likelyLoadSettings(file({ buffer: { kind: 3, ringSizeKB: 'big' }, cacheDir: 7 }))).toEqual(
      likelyLoadSettings(join(dir, 'absent.json')),
    );
    expect(() => loadConfig(file({ buffer: { kind: 3 } }))).toThrow(/buffer.kind/);
  });
});
