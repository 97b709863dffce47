// One analyzer per host: a second instance is refused, naming the pid; a lock left by
// a process that is gone (a crash) is taken over.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCK_FILE_NAME, acquireInstanceLock } from '../../src/daemon/instance-lock.js';

const dirs: string[] = [];
const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), 'lock-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('instance lock', () => {
  it('writes our pid and removes the file on release', () => {
    const dir = fresh();
    const lock = acquireInstanceLock(dir);
    expect(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8').trim()).toBe(String(process.pid));
    lock.release();
    expect(() => readFileSync(join(dir, LOCK_FILE_NAME))).toThrow();
  });

  it('refuses a second instance while the first runs, naming its pid', async () => {
    const dir = fresh();
    // A live process whose command line says imds-analyzer.
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)', 'imds-analyzer'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      writeFileSync(join(dir, LOCK_FILE_NAME), `${other.pid}\n`);
      expect(() => acquireInstanceLock(dir)).toThrow(new RegExp(`already running \\(pid ${other.pid}`));
    } finally {
      other.kill();
    }
  });

  it('takes over a lock left by a process that is gone', () => {
    const dir = fresh();
    writeFileSync(join(dir, LOCK_FILE_NAME), '999999999\n');
    const lock = acquireInstanceLock(dir);
    expect(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8').trim()).toBe(String(process.pid));
    lock.release();
  });
});
