// A host that can never run the analyzer (here: no loadable
// libbpf) makes `run` exit once with 69, which the unit's RestartPreventExitStatus= lists, and
// one line that says what is missing. Loads no BPF: fails before.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from '../rig/analyzer-process.js';

const dir = mkdtempSync(join(tmpdir(), 'imds-unsupported-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('unsupported host', () => {
  it('no libbpf: exit 69 with one line, and the unit does not restart on 69', () => {
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ stateDir: join(dir, 'state') }));
    const result = spawnSync(process.execPath, [CLI, 'run', '--config', config, '--log-dir', join(dir, 'logs')], {
      encoding: 'utf8',
      timeout: 15_000,
      env: { ...process.env, IMDS_ANALYZER_LIBBPF: join(dir, 'no-such-libbpf.so') },
    });
    expect(result.status).toBe(69);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^imds-analyzer: libbpf 0\.6 or newer is required/);
    const unit = readFileSync(new URL('../../packaging/systemd/imds-analyzer.service', import.meta.url), 'utf8');
    expect(unit).toMatch(/^RestartPreventExitStatus=.*\b69\b/m);
  });
});
