// An unprivileged local user against the real daemon: every attack runs as a fresh uid
// (setpriv, no groups) from the test client namespace. It can neither stop capture across a
// restart (a shared flock on whatever it can open), nor make the daemon hide an IMDSv1
// caller's exe, argv or unit (thousands of junk and path-shaped token values), nor pass its own
// cgroups for a system service or a container, nor slow the drain (5,000 fresh cgroups, with
// and without the cgroup path the kernel sends), nor get a secret written by the argv forms
// the redactor once missed. docs/security.md maps each attack to its test here.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE_NAME } from '../../src/state/instance-lock.js';
import { type LogLine, type RunningDaemon, startAnalyzer } from '../rig/analyzer-process.js';
import { CLI } from '../rig/compiled.js';
import { type Testbed, createTestbed } from '../rig/index.js';
import { applyNice, unitNice } from '../rig/unit-nice.js';
import {
  SYSTEM_PYTHON,
  asUser,
  connectFromFreshCgroups,
  delegatedSubtree,
  freshUid,
  removeUserCgroups,
  runInSubtree,
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

/** status.json is rewritten every second (statsIntervalSeconds 1 in the rig). */
const statusRewritten = () => new Promise((resolve) => setTimeout(resolve, 1500));

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

  /**
   * `asShipped`: as the unit runs it, at its Nice= (the defence against a user's CPU flood) and
   * writing only its log files (a console pipe would tie its pace to how fast this test reads).
   */
  async function daemonWith(options: { stateDir?: string; asShipped?: boolean } = {}): Promise<RunningDaemon> {
    const { stateDir, asShipped = false } = options;
    const daemon = await startAnalyzer({ args: asShipped ? [] : ['--console'], config: stateDir ? { stateDir } : {} });
    if (asShipped) applyNice(daemon.process.pid as number, unitNice());
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
    const first = await daemonWith({ stateDir });
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
    const second = await daemonWith({ stateDir });
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

  it('4,096 junk token values and 50 path- or unit-shaped ones: an IMDSv1 caller keeps exe, argv and unit; a real token is still cut everywhere', async () => {
    const daemon = await daemonWith();
    const uid = freshUid();
    const victimCode = `import urllib.request; urllib.request.urlopen('${url('victim')}', timeout=10).read()`; // test netns (bed.run)
    const victimArgv = [SYSTEM_PYTHON, '-c', victimCode, 'victim-arg'];
    const unit = 'imds-victim.service';
    const shaped = [
      realpathSync(SYSTEM_PYTHON),
      SYSTEM_PYTHON,
      unit,
      `/system.slice/${unit}`,
      'system.slice',
      victimCode,
      'victim-arg',
      '/latest/meta-data/instance-id',
      ...Array.from({ length: 21 }, (_, i) => `/usr/lib/python3/dist-packages/botocore/m${i}.py`),
      ...Array.from({ length: 21 }, (_, i) => `amazon-ssm-agent-${i}.service`),
    ];
    expect(shaped).toHaveLength(50);
    // Token-shaped junk (the shape of a real token, so that only IMDS's 401 tells them apart).
    const junk = Array.from({ length: 4096 }, () => randomBytes(42).toString('base64'));
    const sender = String.raw`
import http.client, sys
values = sys.stdin.read().split('\n')
c = http.client.HTTPConnection('169.254.169.254', 80, timeout=10)  # test netns (bed.run)
for v in values:
    c.request('GET', '/latest/meta-data/instance-id?t=junk', headers={'X-aws-ec2-metadata-token': v})
    c.getresponse().read()
print(len(values))
`;
    const sent = await bed.run(asUser(uid, [SYSTEM_PYTHON, '-c', sender]), {
      stdin: [...junk, ...shaped].join('\n'),
      timeoutMs: 120_000,
    });
    expect({ code: sent.code, stdout: sent.stdout.trim(), stderr: sent.stderr }).toMatchObject({
      code: 0,
      stdout: '4146',
    });
    await daemon.waitForRequests((lines) => lines.filter(marked('junk')).length >= 4146, 60_000);

    const victim = await bed.run(victimArgv, { cgroup: `system.slice/${unit}` });
    expect(victim.code).toBe(0);
    const line = await lineOf(daemon, 'victim');
    expect(line).toMatchObject({
      imds_version: 'v1',
      process: { argv: victimArgv },
      unit,
      cgroup: `/system.slice/${unit}`,
      redacted: [],
    });
    expect([SYSTEM_PYTHON, realpathSync(SYSTEM_PYTHON)]).toContain(line.process.exe);

    // A real token of the same user, used after all that, is learnt and cut from every output.
    const js = `const [t, m] = process.argv.slice(1); require('http').get({ host: '169.254.169.254', path: '/latest/meta-data/instance-id?t=' + m, headers: { ['X-aws-ec2-metadata-' + 'token']: t } }, (r) => r.resume());`; // test netns
    const script = [
      `T=$(curl -s -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' '${IMDS}/latest/api/token')`,
      'printf %s "$T"',
      `'${process.execPath}' -e "${js}" "$T" real-token`,
    ].join('\n');
    const tokenRun = await bed.run(asUser(uid, ['sh', '-c', script]));
    const token = tokenRun.stdout;
    expect(token).toMatch(/^[A-Za-z0-9+/]{56}$/);
    const tokenLine = await lineOf(daemon, 'real-token');
    expect(tokenLine.process.argv).toEqual([process.execPath, '-e', expect.any(String), R, 'real-token']);
    await statusRewritten();
    expectNowhere(everyOutput(daemon, daemon.stateDir), [token]);
  }, 240_000);

  it("a user unit named like a system service, or a cgroup like a container, is the user's: user@UID.service/...", async () => {
    const daemon = await daemonWith();
    const uid = freshUid();
    const { path: subtree } = delegatedSubtree(bed, uid);
    cleanups.push(() => removeUserCgroups(subtree));
    const docker = `docker-${'ab'.repeat(32)}.scope`;
    // The stand-in for `systemd-run --user --unit=amazon-ssm-agent`: what its user manager would
    // make, made by the user in the subtree systemd delegates to it.
    const script = [
      `mkdir -p "$1/app.slice/amazon-ssm-agent.service" "$1/app.slice/${docker}"`,
      `echo $$ > "$1/app.slice/amazon-ssm-agent.service/cgroup.procs"`,
      `curl -s -o /dev/null '${url('user-unit')}'`,
      `echo $$ > "$1/app.slice/${docker}/cgroup.procs"`,
      `curl -s -o /dev/null '${url('user-docker')}'`,
    ].join(' && ');
    const run = await runInSubtree(bed, uid, subtree, ['sh', '-c', script, 'sh', subtree]);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(await lineOf(daemon, 'user-unit')).toMatchObject({
      unit: `user@${uid}.service/amazon-ssm-agent.service`,
      user_delegated: true,
      container: null,
      process: { uid },
    });
    expect(await lineOf(daemon, 'user-docker')).toMatchObject({
      unit: `user@${uid}.service/${docker}`,
      user_delegated: true,
      container: null,
    });
  });

  it.each([
    ['with the cgroup path the kernel sends', 0],
    ['with the path cut (deeper than the kernel keeps): the cgroup id alone', 6],
  ])(
    '5,000 fresh user cgroups, one IMDS connection each, %s: every request logged, nothing lost, the daemon keeps going',
    async (_name, depth) => {
      const daemon = await daemonWith({ asShipped: true });
      const uid = freshUid();
      const { path: subtree } = delegatedSubtree(bed, uid);
      cleanups.push(() => removeUserCgroups(subtree));
      const marker = `storm${depth}`;
      const storm = await connectFromFreshCgroups(bed, { uid, subtree, count: 5000, depth, marker });
      expect(storm.failed).toBe(0);
      const lines = (await daemon.waitForRequests(
        (all) => all.filter((l) => (l as Line).request.path.includes(`?t=${marker}-`)).length >= 5000,
        120_000,
      )) as Line[];
      const ours = lines.filter((l) => l.request.path.includes(`?t=${marker}-`));
      expect(new Set(ours.map((l) => l.request.path)).size).toBe(5000);
      // Never a system unit or a container: the user's unit, or (a path cut and the caller gone
      // before its cgroup id was learnt) none.
      const misnamed = ours.filter((l) =>
        l.unit === null ? l.container !== null : !(l.unit.startsWith(`user@${uid}.service/`) && l.user_delegated),
      );
      expect(misnamed).toEqual([]);
      expect(daemon.process.exitCode).toBeNull();
      const stats = daemon
        .lines()
        .filter((l) => l.event === 'stats')
        .at(-1) as unknown as {
        kernel: Record<string, number>;
        longest_drain_turn_ms: number;
        longest_drain_turn_cpu_ms: number;
      };
      expect(stats.kernel.events_lost).toBe(0);
      const named = ours.filter((l) => l.unit !== null).length;
      process.stdout.write(
        `${marker}: 5000 cgroups in ${storm.elapsedMs} ms; longest drain turn ${stats.longest_drain_turn_ms} ms (${stats.longest_drain_turn_cpu_ms} ms CPU); ${named} lines name the user's unit\n`,
      );
    },
    300_000,
  );

  it('secret-bearing argv forms (wget --header=, curl --oauth2-bearer, docker login -p, redis-cli -a, openssl -passin pass:): no hit in any output', async () => {
    const daemon = await daemonWith();
    const uid = freshUid();
    const s = Object.fromEntries(
      ['wget', 'bearer', 'docker', 'dockersh', 'redis', 'openssl'].map((n) => [
        n,
        `s3cr3t-${n}-${randomBytes(8).toString('hex')}`,
      ]),
    ) as Record<string, string>;
    const curlThen = (marker: string) => `curl -s -o /dev/null '${url(marker)}'; true`;
    const ecr = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
    const cases: Array<[string, string[]]> = [
      ['wget', ['wget', '-q', '-O', '/dev/null', `--header=X-aws-ec2-metadata-token:${s.wget}`, url('wget')]],
      ['bearer', ['curl', '-s', '-o', '/dev/null', '--oauth2-bearer', s.bearer as string, url('bearer')]],
      // The parent sh holds the words (ancestors keep 8 arguments: within them).
      ['docker', ['sh', '-c', curlThen('docker'), 'docker', 'login', '-p', s.docker as string]],
      ['dockersh', ['sh', '-c', `false && docker login -u AWS -p ${s.dockersh} ${ecr}; ${curlThen('dockersh')}`]],
      ['redis', ['sh', '-c', `false && redis-cli -h cache.local -a ${s.redis} PING; ${curlThen('redis')}`]],
      ['openssl', ['sh', '-c', `false && openssl pkcs12 -in a.p12 -passin pass:${s.openssl}; ${curlThen('openssl')}`]],
    ];
    for (const [marker, argv] of cases) {
      // (wget exits 6 on the 401 IMDS gives a made-up token: the request was made all the same.)
      await bed.run(asUser(uid, argv));
      const line = await lineOf(daemon, marker);
      expect({ marker, redacted: line.redacted.length > 0 }).toEqual({ marker, redacted: true });
    }
    await statusRewritten();
    expectNowhere(everyOutput(daemon, daemon.stateDir), Object.values(s));
  });
});
