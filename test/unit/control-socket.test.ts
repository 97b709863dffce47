// The canary's control socket in a state directory whose path is long (a deep directory): a
// unix socket address holds 107 bytes of path, and Node binds a longer one cut short, in
// another directory. The daemon says so in an error line and binds nothing; the CLI says so.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CanaryService } from '../../src/daemon/canaries.js';
import { CONTROL_SOCKET_NAME, MAX_SOCKET_PATH_BYTES, controlSocketPath } from '../../src/model/canary.js';

const root = mkdtempSync(join(tmpdir(), 'imds-control-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A directory under `root` whose socket path is `socketBytes` long. */
function stateDirFor(socketBytes: number): string {
  const name = 'd'.repeat(socketBytes - root.length - `//${CONTROL_SOCKET_NAME}`.length);
  return join(root, name);
}

describe('control socket path', () => {
  it('is stateDir/control.sock up to the 107 bytes a socket address holds, an error naming stateDir beyond', () => {
    expect(controlSocketPath('/run/imds-analyzer')).toBe('/run/imds-analyzer/control.sock');
    expect(controlSocketPath('/run/imds-analyzer/')).toBe('/run/imds-analyzer/control.sock');
    const longest = stateDirFor(MAX_SOCKET_PATH_BYTES);
    expect(controlSocketPath(longest)).toHaveLength(MAX_SOCKET_PATH_BYTES);
    expect(() => controlSocketPath(`${longest}x`)).toThrow(
      `is ${MAX_SOCKET_PATH_BYTES + 1} bytes, more than the ${MAX_SOCKET_PATH_BYTES} a unix socket address holds: set a shorter stateDir`,
    );
  });

  it('the daemon binds nothing, anywhere, for a stateDir too long; it listens at the longest that fits', async () => {
    const service = (stateDir: string) =>
      new CanaryService({
        libbpf: null as never,
        objectPath: '',
        stateDir,
        cgroupRoot: '/sys/fs/cgroup',
        secret: '0123456789abcdef',
        onEvent: () => undefined,
        onTargetEvent: () => undefined,
      });
    const tooLong = `${stateDirFor(MAX_SOCKET_PATH_BYTES)}x`;
    mkdirSync(tooLong);
    await expect(service(tooLong).listen()).rejects.toThrow('set a shorter stateDir');
    expect(readdirSync(tooLong)).toEqual([]);
    expect(readdirSync(root)).toEqual([tooLong.slice(root.length + 1)]);

    const longest = stateDirFor(MAX_SOCKET_PATH_BYTES);
    mkdirSync(longest);
    const listening = service(longest);
    await listening.listen();
    try {
      expect(existsSync(join(longest, CONTROL_SOCKET_NAME))).toBe(true);
    } finally {
      listening.close();
    }
  });
});
