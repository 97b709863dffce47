// The exit-status table, row by row, through the shipped bundle run as a child process: an
// error exits with its own code (never the report's 0, 1, 2), prints one line on stderr and no
// verdict; each verdict fixture still exits 0, 1 or 2 and its JSON carries that status.
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT, EXIT_STATUS_TABLE, exitStatusMarkdown, VERDICT_EXIT } from '../../src/logic/exit-status.js';
import { reportSchema } from '../../src/report/index.js';

const REPO = join(import.meta.dirname, '../..');
const BUNDLE = join(REPO, 'bundle/imds-analyzer.mjs');
const FIXTURES = join(REPO, 'test/fixtures/report');
const VERDICT = join(FIXTURES, 'verdict');
const CLEAN = join(VERDICT, 'clean');
const NOBODY = 65534;

const scratch = mkdtempSync(join(tmpdir(), 'exit-status-'));
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function cli(args: string[], asNobody = false) {
  const command = asNobody
    ? ['setpriv', '--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', process.execPath]
    : [process.execPath];
  const [file = '', ...prefix] = command;
  // As nobody, the bundle runs from a copy that user may read wherever the repository is.
  const bundle = asNobody ? nobodysBundle() : BUNDLE;
  return spawnSync(file, [...prefix, bundle, ...args], { encoding: 'utf8' });
}

let copiedBundle: string | null = null;
function nobodysBundle(): string {
  if (!copiedBundle) {
    const dir = join(scratch, 'bundle');
    cpSync(join(REPO, 'bundle'), dir, { recursive: true });
    // What the bundle finds above itself: the install's package.json, and koffi with its native
    // module (the report's chunks load it).
    cpSync(join(REPO, 'package.json'), join(scratch, 'package.json'));
    for (const module of ['koffi', '@koromix'])
      cpSync(join(REPO, 'node_modules', module), join(scratch, 'node_modules', module), { recursive: true });
    for (const copied of [dir, join(scratch, 'package.json'), join(scratch, 'node_modules')]) readableByAll(copied);
    copiedBundle = join(dir, 'imds-analyzer.mjs');
  }
  return copiedBundle;
}

/** A copy nobody can read and enter whatever the umask the clone was made and the test runs under. */
function readableByAll(root: string): void {
  const names = statSync(root).isDirectory() ? (readdirSync(root, { recursive: true }) as string[]) : [];
  for (const path of [root, ...names.map((name) => join(root, name))])
    chmodSync(path, statSync(path).isDirectory() ? 0o755 : 0o644);
}

/** An error ends the run: its own status, exactly one line on stderr, nothing on stdout. */
function expectError(result: ReturnType<typeof cli>, status: number, says: RegExp) {
  expect(result).toMatchObject({ status, stdout: '', stderr: expect.stringMatching(says) });
  expect(result.stderr).toMatch(/^imds-analyzer[^\n]*: [^\n]+\n$/);
  expect([EXIT.ok, EXIT.no, EXIT.unknown, EXIT.notRunning]).not.toContain(result.status);
}

/** Root reads any file: a file that cannot be read needs the CLI to run as another user. */
const isRoot = process.getuid?.() === 0;

describe('report and every command: an error is never a verdict', () => {
  it('a path that does not exist: 66', () => {
    expectError(cli(['report', '/nonexistent']), 66, /cannot read \/nonexistent: no such file or directory/);
  });

  it('an unknown option: 64, naming the option it most likely meant', () => {
    expectError(cli(['report', '--formt', 'json', CLEAN]), 64, /unknown option '--formt' \(did you mean --format\?\)/);
  });

  it('an unknown command: 64, listing the commands', () => {
    expectError(cli(['bogus']), 64, /unknown command "bogus"; commands: run, report, status, canary, cut-btf/);
    expectError(cli([]), 64, /no command given/);
  });

  it('a file this user cannot read: 66', () => {
    const file = join(scratch, 'root-only.log');
    writeFileSync(file, readFileSync(join(CLEAN, 'imds-analyzer.log')));
    chmodSync(file, isRoot ? 0o600 : 0o000);
    expectError(cli(['report', file], isRoot), 66, /cannot read .*root-only\.log: permission denied/);
    // The same for a directory this user cannot list.
    const dir = join(scratch, 'root-only-dir');
    mkdirSync(dir);
    writeFileSync(join(dir, 'imds-analyzer.log'), '');
    chmodSync(dir, isRoot ? 0o700 : 0o000);
    expectError(cli(['report', dir], isRoot), 66, /cannot read .*root-only-dir: permission denied/);
  });

  it('a directory without log files: 66', () => {
    const empty = join(scratch, 'empty');
    mkdirSync(join(empty, 'nothing-below'), { recursive: true });
    expectError(cli(['report', empty]), 66, /no log files in .*empty$/m);
    // Also beside a directory that has them: the named one was meant to hold logs.
    expectError(cli(['report', CLEAN, empty]), 66, /no log files in .*empty$/m);
  });

  it('a --since that does not parse: 64', () => {
    expectError(cli(['report', '--since', 'garbage', CLEAN]), 64, /--since: not a time: "garbage"/);
    expectError(cli(['report', '--since', '1d', '--until', '2d', CLEAN]), 64, /--since is after --until/);
  });

  it('a bad value of any option: 64', () => {
    expectError(cli(['report', '--format', 'xml', CLEAN]), 64, /--format must be one of table, json, csv, markdown/);
    expectError(
      cli(['report', '--format']),
      64,
      /'--format <value>' argument missing; see imds-analyzer report --help/,
    );
    expectError(cli(['report', '--min-observed', 'a day', CLEAN]), 64, /--min-observed: not a duration/);
    expectError(cli(['run', '--no-such-option']), 64, /imds-analyzer run: unknown option '--no-such-option'/);
    expectError(cli(['cut-btf', 'only-one']), 64, /cut-btf takes two arguments/);
  });

  it('a read the system fails: 74 (not an incomplete-evidence UNKNOWN)', () => {
    // Reading a process's own memory from offset 0 fails with EIO: a regular file that cannot be read.
    expectError(cli(['report', '/proc/self/mem']), 74, /reading \/proc\/self\/mem failed: EIO/);
  });

  it('an output that cannot be written: 74, without the verdict', async () => {
    expectError(
      cli(['report', '--hosts-csv', '/nonexistent/hosts.csv', CLEAN]),
      74,
      /--hosts-csv: cannot write \/nonexistent\/hosts\.csv/,
    );
    // A reader that went away before the report was written (`report | head` on a big report).
    const child = spawn(process.execPath, [BUNDLE, 'report', CLEAN], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect([status, stderr]).toEqual([74, 'imds-analyzer report: cannot write to standard output (EPIPE)\n']);
  });

  it('a config file that is not there: 78', () => {
    expectError(cli(['report', '--config', '/nonexistent/config.json']), 78, /bad configuration in \/nonexistent/);
  });

  it('status: 66 for a state file that is not the daemon state, 3 when there is none', () => {
    expectError(cli(['status', '--state', join(FIXTURES, 'status/corrupt.json')]), 66, /is not valid JSON/);
    expectError(cli(['status', '--state', join(FIXTURES, 'status/not-state.json')]), 66, /not an imds-analyzer state/);
    const none = cli(['status', '--state', join(scratch, 'no-state.json')]);
    expect([none.status, none.stderr]).toEqual([3, '']);
  });
});

describe('verdicts keep 0, 1, 2', () => {
  const fixtures = [...readdirSync(VERDICT).map((name) => join(VERDICT, name)), join(FIXTURES, 'legacy-corrupt')];
  /** One fixture of each answer, so that all three statuses are seen. */
  const known: Record<string, number> = { clean: 0, 'legacy-corrupt': 1, 'short-window': 2 };

  it('has a fixture of each answer', () => {
    expect(fixtures.map((f) => basename(f))).toEqual(expect.arrayContaining(Object.keys(known)));
  });

  it.each(fixtures)('%s exits with its answer, and the JSON says so', (fixture) => {
    const json = cli(['report', '--format', 'json', fixture]);
    const report = reportSchema.parse(JSON.parse(json.stdout));
    expect(json.status).toBe(VERDICT_EXIT[report.verdict.answer]);
    expect(report.exit_status).toBe(json.status);
    const name = basename(fixture);
    if (name in known) expect(json.status).toBe(known[name]);
    // The table format ends with the same status.
    expect(cli(['report', fixture]).status).toBe(json.status);
  });
});

describe('the table is shown where it is promised', () => {
  it('--help prints every row, for the program and for each command', () => {
    for (const args of [['--help'], ['report', '--help'], ['status', '--help'], ['run', '--help']]) {
      const help = cli(args);
      expect(help.status).toBe(0);
      for (const { status, meaning } of EXIT_STATUS_TABLE)
        expect(help.stdout).toContain(`  ${String(status).padStart(2)}  ${meaning}\n`);
    }
  });

  it('README.md and docs/report.md show the table as the code has it', () => {
    for (const doc of ['README.md', 'docs/report.md'])
      expect(readFileSync(join(REPO, doc), 'utf8')).toContain(exitStatusMarkdown());
  });
});
