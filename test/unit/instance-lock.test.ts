// One analyzer per host: a second instance is refused, naming the pid; the lock of a
// process that is gone (however it ended) is free again.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import koffi from 'koffi';
import {
  LOCK_FILE_NAME,
  acquireInstanceLock,
  isProcessRunning,
  processStartTicks,
} from '../../src/state/instance-lock.js';

const flock = koffi.load('libc.so.6').func('int flock(int fd, int operation)') as (fd: number, op: number) => number;
const LOCK_SH_NB = 1 | 4;

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
  it('writes our pid in a file only its owner can open, and frees the lock on release', () => {
    const dir = fresh();
    const lock = acquireInstanceLock(dir);
    const path = join(dir, LOCK_FILE_NAME);
    expect(readFileSync(path, 'utf8').trim()).toBe(String(process.pid));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    lock.release();
    acquireInstanceLock(dir).release();
  });

  it('a lock file others could open is replaced: a shared lock held on it blocks nothing', () => {
    const dir = fresh();
    const path = join(dir, LOCK_FILE_NAME);
    writeFileSync(path, '1\n');
    chmodSync(path, 0o644); // as an older version left it, readable by all
    const intruder = openSync(path, 'r');
    expect(flock(intruder, LOCK_SH_NB)).toBe(0);
    const lock = acquireInstanceLock(dir);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(path).ino).not.toBe(statSync(`/proc/self/fd/${intruder}`).ino);
    lock.release();
  });

  it('refuses a second instance while the first runs, naming its pid', async () => {
    const dir = fresh();
    const other = await otherHolder(dir);
    try {
      expect(() => acquireInstanceLock(dir)).toThrow(new RegExp(`already running \\(pid ${other.pid}`));
    } finally {
      other.kill('SIGKILL');
    }
    await new Promise((r) => other.once('exit', r));
    acquireInstanceLock(dir).release();
  });

  it('a pid file without a holder (left by a crash) is no lock', () => {
    const dir = fresh();
    writeFileSync(join(dir, LOCK_FILE_NAME), `${process.pid}\n`, { mode: 0o600 });
    const lock = acquireInstanceLock(dir);
    expect(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8').trim()).toBe(String(process.pid));
    lock.release();
  });

  it('a process is running while its pid has the start time it had', () => {
    const ticks = processStartTicks(process.pid);
    expect(ticks).toBeGreaterThan(0);
    expect(isProcessRunning(process.pid, ticks as number)).toBe(true);
    expect(isProcessRunning(process.pid, (ticks as number) + 1)).toBe(false);
    expect(isProcessRunning(2 ** 22 + 1, 0)).toBe(false);
  });
});
