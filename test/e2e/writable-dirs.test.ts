// A logDir or stateDir the sandbox keeps read-only (ProtectSystem=) stops
// `run` once, with exit 78 (the unit's RestartPreventExitStatus) and the drop-in that allows
// it, before it takes the instance lock or touches the kernel. The read-only file systems
// are made for real in a private mount namespace (unshare -m). Needs root.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from '../rig/analyzer-process.js';

const isRoot = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), 'imds-readonly-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `run` in a mount namespace where `mountCommands` made part of `dir` read-only. */
function runReadOnly(config: object, mountCommands: string): { code: number | null; stderr: string } {
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(config));
  const script = `set -e; ${mountCommands}; exec "$0" "$1" run --config "$2"`;
  const result = spawnSync(
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-c', script, process.execPath, CLI, configPath],
    {
      encoding: 'utf8',
      timeout: 15_000,
    },
  );
  return { code: result.status, stderr: result.stderr };
}

describe.skipIf(!isRoot)('a directory the daemon cannot write', () => {
  it('logDir on a read-only file system: exit 78 naming ReadWritePaths= and the drop-in, no lock taken', () => {
    const readOnly = join(dir, 'ro-tmpfs');
    const state = join(dir, 'state-1');
    mkdirSync(readOnly);
    const logs = join(readOnly, 'logs');
    const { code, stderr } = runReadOnly({ logDir: logs, stateDir: state }, `mount -t tmpfs -o ro tmpfs ${readOnly}`);
    expect(code).toBe(78);
    expect(stderr).toContain(`logDir ${logs} is not writable (EROFS on ${readOnly})`);
    expect(stderr).toContain('systemctl edit imds-analyzer');
    expect(stderr).toContain(`ReadWritePaths=${logs}`);
    expect(stderr).toContain(`ReadWriteDirectories=${logs}`);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(state)).toBe(false);
  });

  it('stateDir on a read-only bind mount of an existing directory: exit 78 naming stateDir', () => {
    const state = join(dir, 'state-ro');
    mkdirSync(state);
    const logs = join(dir, 'logs-2');
    const { code, stderr } = runReadOnly(
      { logDir: logs, stateDir: state },
      `mount --bind ${state} ${state}; mount -o remount,bind,ro ${state}`,
    );
    expect(code).toBe(78);
    expect(stderr).toContain(`stateDir ${state} is not writable (EROFS on ${state})`);
    expect(stderr).toContain(`ReadWritePaths=${state}`);
    expect(existsSync(logs)).toBe(false);
    expect(readdirSync(state)).toEqual([]);
  });
});
