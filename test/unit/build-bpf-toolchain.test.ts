// scripts/build-bpf.sh names the clang and libbpf headers the committed objects are built
// with: on a host whose clang is another version, `check:bpf` says which it expected and
// which it found, and fails before building anything.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../rig/compiled.js';

const bin = mkdtempSync(join(tmpdir(), 'imds-other-clang-'));
afterAll(() => rmSync(bin, { recursive: true, force: true }));

describe('check:bpf on a host with another clang', () => {
  it('prints the expected and the found version and fails', () => {
    const clang = join(bin, 'clang');
    // Answers --version as clang 15 would; anything else (a build) is a failure of the test.
    writeFileSync(
      clang,
      '#!/bin/sh\n[ "$1" = --version ] || exit 99\necho "Debian clang version 15.0.7"\necho "Target: bpf"\n',
    );
    chmodSync(clang, 0o755);
    const run = spawnSync('bash', ['scripts/build-bpf.sh', '--check'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(
      /^build-bpf: clang 15\.0\.7 \(expected 14\.0\.6\), libbpf headers \S+ \(expected 1\.1\)$/m,
    );
    expect(run.stderr).toContain('clang expected 14.0.6, found 15.0.7');
    expect(run.stdout).not.toContain('matches its source');
  });
});
