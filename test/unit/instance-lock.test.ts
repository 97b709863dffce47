// One analyzer per host: a second instance is refused, naming the pid; the lock of a
// process that is gone (however it ended) is free again.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCK_FILE_NAME, acquireInstanceLock, isLockHeld } from '../../src/state/instance-lock.js';

const dirs: string[] = [];
const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), 'lock-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Another process that takes the lock in `dir` and holds it until killed. */
async function otherHolder(dir: string) {
  // The compiled module (`npm run build`): a second Node process cannot load TypeScript on Node 20.
  const lockModule = new URL('../../dist/state/instance-lock.js', import.meta.url).href;
  const holder = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { acquireInstanceLock } = await import(${JSON.stringify(lockModule)}); acquireInstanceLock(${JSON.stringify(dir)}); console.log('held'); setTimeout(() => {}, 30000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`lock holder exited ${code}`)));
  });
  return holder;
}

describe('instance lock', () => {
  it('writes our pid and frees the lock on release', () => {
    const dir = fresh();
    const lock = acquireInstanceLock(dir);
    expect(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8').trim()).toBe(String(process.pid));
    lock.release();
    expect(isLockHeld(dir)).toBe(false);
    acquireInstanceLock(dir).release();
  });

  it('refuses a second instance while the first runs, naming its pid', async () => {
    const dir = fresh();
    const other = await otherHolder(dir);
    try {
      expect(isLockHeld(dir)).toBe(true);
      expect(() => acquireInstanceLock(dir)).toThrow(new RegExp(`already running \\(pid ${other.pid}`));
    } finally {
      other.kill('SIGKILL');
    }
    await new Promise((r) => other.once('exit', r));
    expect(isLockHeld(dir)).toBe(false);
    acquireInstanceLock(dir).release();
  });

  it('a pid file without a holder (left by a crash) is no lock', () => {
    const dir = fresh();
    writeFileSync(join(dir, LOCK_FILE_NAME), `${process.pid}\n`);
    expect(isLockHeld(dir)).toBe(false);
    const lock = acquireInstanceLock(dir);
    expect(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8').trim()).toBe(String(process.pid));
    lock.release();
  });
});
