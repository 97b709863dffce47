// Every subcommand answers its own --help (exit 0, its own usage, no option
// error), and the scripts the README shows as direct commands can be run as such.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLI = `${REPO}dist/cli/main.js`;

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

describe('imds-analyzer <command> --help', () => {
  for (const command of ['run', 'report', 'status']) {
    for (const flag of ['--help', '-h']) {
      it(`${command} ${flag} prints the usage of ${command} and exits 0`, () => {
        const result = cli(command, flag);
        expect(result.stderr).toBe('');
        expect(result.status).toBe(0);
        expect(result.stdout).toMatch(new RegExp(`^Usage:\\n  imds-analyzer ${command}\\b`));
        // Only this command's usage, not the whole list.
        expect(result.stdout.match(/^ {2}imds-analyzer /gm)).toHaveLength(1);
      });
    }
  }

  it('answers --help after other options too, without running the command', () => {
    const result = cli('report', '/nonexistent-dir', '--format', 'json', '--help');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage:\n {2}imds-analyzer report /);
  });

  it('still rejects an unknown option (exit 64, usage)', () => {
    const result = cli('run', '--no-such-option');
    expect(result.status).toBe(64);
    expect(result.stderr).toMatch(/unknown option '--no-such-option'/);
  });
});

describe('scripts shown as direct commands in the README', () => {
  for (const script of ['build-rpm.sh', 'kernel-matrix.sh', 'demo.sh', 'e2e-boot.sh', 'install-deps.sh']) {
    it(`scripts/${script} has its run bit`, () => {
      expect(statSync(`${REPO}scripts/${script}`).mode & 0o111).toBe(0o111);
    });
  }
});
