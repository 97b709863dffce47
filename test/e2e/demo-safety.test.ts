// On what it believes is an EC2 instance (a faked DMI tree) the demo and the
// testbed leave the host's `ip route` and `ip -6 route` exactly as they were, before, during
// and after; a run killed with SIGKILL leaves nothing running, and the next run removes its
// namespaces, cgroups and files and leaves nothing of its own. Needs root.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../rig/compiled.js';
import { registerTestbed } from '../rig/host-registry.js';

const isRoot = process.getuid?.() === 0;
/** The rig's scripts as `npm run build:test` writes them (the demo is no product command). */
const HOLD = join(REPO_ROOT, 'dist-test/test/rig/hold.js');
const DEMO = join(REPO_ROOT, 'dist-test/test/rig/demo.js');
const HOLDERS = '/run/imds-analyzer-testbed/holders';

interface Held {
  name: string;
  clientNamespaces: string[];
  imdsNs: string;
  workDir: string;
  cgroups: string[];
  clientPid: number | null;
}

function hostRoutes(): string {
  const show = (family: string) => spawnSync('ip', [family, 'route', 'show'], { encoding: 'utf8' }).stdout;
  return `${show('-4')}\n--- ipv6 ---\n${show('-6')}`;
}

function namespaces(): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(' ')[0] ?? '');
}

/** Running (a zombie whose parent died waits for init to reap it: it runs no more). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Collects stdout and samples the host's routes every 100 ms until the process exits. */
function watch(child: ChildProcess, routesBefore: string) {
  let stdout = '';
  const changed: string[] = [];
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  const sampler = setInterval(() => {
    const now = hostRoutes();
    if (now !== routesBefore) changed.push(now);
  }, 100);
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      clearInterval(sampler);
      resolve(code);
    }),
  );
  const output = async (pattern: RegExp, timeoutMs = 30_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(stdout)) {
      if (Date.now() > deadline) throw new Error(`no ${pattern} in: ${stdout}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return stdout;
  };
  return { changed, exited, output, stdout: () => stdout };
}

async function gone(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

describe.skipIf(!isRoot)('demo and testbed on an EC2 instance (faked DMI)', () => {
  const fakeSys = mkdtempSync(join(tmpdir(), 'imds-fake-ec2-'));
  const env = { ...process.env, IMDS_TESTBED_SYSFS_ROOT: fakeSys };
  let routesBefore = '';

  beforeAll(() => {
    mkdirSync(join(fakeSys, 'devices/virtual/dmi/id'), { recursive: true });
    writeFileSync(join(fakeSys, 'devices/virtual/dmi/id/sys_vendor'), 'Amazon EC2\n');
    writeFileSync(join(fakeSys, 'devices/virtual/dmi/id/board_asset_tag'), 'i-0123456789abcdef0\n');
    // Settle first: a safety route some earlier killed run left behind is removed by the last
    // testbed to leave, which would otherwise be one of these.
    registerTestbed({ name: 'settle', namespaces: [], cgroups: [], workDir: '' }).release();
    routesBefore = hostRoutes();
  });
  afterAll(() => rmSync(fakeSys, { recursive: true, force: true }));

  it('testbed: routes untouched; after a SIGKILL the next run removes the leftovers, then leaves nothing', async () => {
    const cgroup = `system.slice/imds-test-leftover-${process.pid}.service`;
    const start = () =>
      spawn(process.execPath, [HOLD, '--prefix', 'ecz', '--client-cgroup', cgroup], {
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      });

    const first = start();
    const firstRun = watch(first, routesBefore);
    const held = JSON.parse((await firstRun.output(/\n/)).split('\n')[0] as string) as Held;
    expect(held.cgroups.length).toBeGreaterThan(0);
    first.kill('SIGKILL');
    await firstRun.exited;
    // What a SIGKILL leaves: the namespaces, the client in its cgroup, the files.
    expect(namespaces()).toEqual(expect.arrayContaining([held.imdsNs, ...held.clientNamespaces]));
    expect(alive(held.clientPid as number)).toBe(true);
    expect(held.cgroups.every((dir) => existsSync(dir))).toBe(true);
    expect(existsSync(held.workDir)).toBe(true);

    const second = start();
    const secondRun = watch(second, routesBefore);
    const next = JSON.parse((await secondRun.output(/\n/)).split('\n')[0] as string) as Held;
    expect(namespaces()).not.toEqual(expect.arrayContaining([held.imdsNs]));
    expect(held.clientNamespaces.filter((ns) => namespaces().includes(ns))).toEqual([]);
    expect(await gone(held.clientPid as number)).toBe(true);
    expect(existsSync(held.workDir)).toBe(false);
    second.kill('SIGINT');
    expect(await secondRun.exited).toBe(0);

    for (const run of [held, next]) {
      expect([run.imdsNs, ...run.clientNamespaces].filter((ns) => namespaces().includes(ns))).toEqual([]);
      expect(run.cgroups.filter((dir) => existsSync(dir))).toEqual([]);
      expect(existsSync(run.workDir)).toBe(false);
    }
    expect(alive(next.clientPid as number)).toBe(false);
    expect(readdirSync(HOLDERS).filter((f) => f.includes(held.name) || f.includes(next.name))).toEqual([]);
    expect([...firstRun.changed, ...secondRun.changed]).toEqual([]);
    expect(hostRoutes()).toBe(routesBefore);
  }, 90_000);

  it('demo: says it is on EC2, leaves the routes untouched, and a SIGKILLed demo leaves no daemon running', async () => {
    const startDemo = () => spawn(process.execPath, [DEMO], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const killed = startDemo();
    const killedRun = watch(killed, routesBefore);
    await killedRun.output(/Analyzer ready/);
    const daemons = spawnSync('pgrep', ['-P', String(killed.pid)], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .map(Number);
    const daemon = daemons.find((pid) =>
      spawnSync('cat', [`/proc/${pid}/cmdline`], { encoding: 'utf8' }).stdout.includes('main.js\0run'),
    );
    expect(daemon).toBeDefined();
    killed.kill('SIGKILL');
    await killedRun.exited;
    expect(await gone(daemon as number)).toBe(true);

    const full = startDemo();
    const fullRun = watch(full, routesBefore);
    expect(await fullRun.exited).toBe(0);
    expect(fullRun.stdout()).toMatch(
      /This is an EC2 instance \(DMI sys_vendor is "Amazon EC2"\): this host's own routes and firewall stay untouched/,
    );
    expect(fullRun.stdout()).toMatch(/ran curl, IMDSv1: exit 0/);
    const ours = (name: string) => [killed.pid, full.pid].some((pid) => name.includes(String(pid)));
    expect(namespaces().filter(ours)).toEqual([]);
    expect(readdirSync(HOLDERS).filter(ours)).toEqual([]);
    expect([...killedRun.changed, ...fullRun.changed]).toEqual([]);
    expect(hostRoutes()).toBe(routesBefore);
  }, 180_000);
});
