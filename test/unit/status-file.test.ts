// status.json is readable by a non-root `status` whatever the umask, a failed write throws to
// the caller (which counts it) without leaving a temp file behind, and a link planted where
// the temp file goes is never written through.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StatusDocument } from '../../src/model/log-line.js';
import { STATUS_FILE_NAME, writeStatusFile } from '../../src/state/status-file.js';

// The writer does not look inside the document.
const doc = (pid: number) => ({ pid }) as unknown as StatusDocument;

const dir = mkdtempSync(join(tmpdir(), 'status-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('status file', () => {
  it('is 0644 in a 0755 directory under UMask=0077', () => {
    const old = process.umask(0o077);
    try {
      writeStatusFile(join(dir, 'state'), doc(1));
    } finally {
      process.umask(old);
    }
    expect(lstatSync(join(dir, 'state')).mode & 0o777).toBe(0o755);
    expect(lstatSync(join(dir, 'state', STATUS_FILE_NAME)).mode & 0o777).toBe(0o644);
  });

  it('a failed write throws and leaves no temp file', () => {
    // status.json taken by a directory: the rename fails, as a full /run would fail the write.
    const blocked = join(dir, 'blocked');
    mkdirSync(join(blocked, STATUS_FILE_NAME), { recursive: true });
    expect(() => writeStatusFile(blocked, doc(2))).toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(readdirSync(blocked)).toEqual([STATUS_FILE_NAME]);
  });

  it('writes through no link planted at the temp file name', () => {
    const state = join(dir, 'planted');
    mkdirSync(state);
    const victim = join(dir, 'victim');
    symlinkSync(victim, join(state, `${STATUS_FILE_NAME}.${process.pid}.tmp`));
    writeStatusFile(state, doc(3));
    expect(existsSync(victim)).toBe(false);
    expect(JSON.parse(readFileSync(join(state, STATUS_FILE_NAME), 'utf8'))).toEqual({ pid: 3 });
  });
});
