// scripts/ssm-package.mjs refuses what it cannot package with one line naming the fix, before
// any RPM is built and without writing an output directory. (Building and installing the
// package itself: test/e2e/ssm-package.test.ts.)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../scripts/ssm-package.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ssm-package-args-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ssmPackage(...args: string[]) {
  const out = join(dir, 'out');
  const result = spawnSync(process.execPath, [SCRIPT, '--out', out, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, wroteOutput: existsSync(out) };
}

describe('ssm-package refuses', () => {
  it.each([
    [[], 'pass --al2-node-x86_64 and --al2-libbpf-x86_64'],
    [
      ['--al2-node-x86_64', '/no/node', '--al2-libbpf-x86_64', '/etc/hostname'],
      '/no/node (Amazon Linux 2, x86_64) does not exist',
    ],
    [
      ['--al2-node-x86_64', process.execPath, '--al2-libbpf-x86_64', '/etc/hostname'],
      'pass --al2-node-aarch64 and --al2-libbpf-aarch64',
    ],
    [['--rpm', 'al3-x86_64=/etc/hostname'], 'the target is one of al2023-x86_64,al2023-aarch64,al2-x86_64,al2-aarch64'],
    [['--rpm', 'al2-x86_64=/no/such.rpm'], '--rpm al2-x86_64=/no/such.rpm: no such file'],
    [['--release', '0'], "--release must be a positive integer, got '0'"],
    [['--colour'], "Unknown option '--colour'"],
  ])('%j: one line, exit 1, nothing built or written', (args, message) => {
    const result = ssmPackage(...args);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`ssm-package: `);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toContain('building');
    expect(result.wroteOutput).toBe(false);
  });
});
