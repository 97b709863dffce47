// ProcessTable fed with the kernel's process records (sent for IMDS callers and their ancestors), over a fake /proc tree for the
// processes that were there before the daemon (and for pids it never heard of).
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import type { ProcessRecord } from '../../src/model/records.js';
import { TICK_NS, readProc } from '../../src/enrich/proc.js';
import { DEFAULT_MAX_PROCESSES, EXITED_GRACE_NS, ProcessTable } from '../../src/enrich/process-table.js';

const root = mkdtempSync(join(tmpdir(), 'fake-proc-table-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function fakeProcess(pid: number, ppid: number, startTicks: number, argv: string[]): void {
  const dir = join(root, String(pid));
  mkdirSync(dir, { recursive: true });
  const comm = (argv[0] ?? '').split('/').pop() ?? '';
  const after = ['S', String(ppid), ...Array<string>(17).fill('0'), String(startTicks), '0'];
  writeFileSync(join(dir, 'stat'), `${pid} (${comm}) ${after.join(' ')}\n`);
  writeFileSync(join(dir, 'status'), `Name:\t${comm}\nNSpid:\t${pid}\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n`);
  writeFileSync(join(dir, 'cmdline'), `${argv.join('\0')}\0`);
}

const listFakePids = () =>
  readdirSync(root)
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
const fakeTable = (max = 100) => new ProcessTable(max, (pid) => readProc(pid, root), listFakePids);

const SECOND = 1_000_000_000n;
const ids = { uid: 1000, gid: 1000, nsPid: 0, nsLevel: 0, parentStartNs: 0n };
/** A process as the kernel remembered it: exec'd `filename`, parent at fork `ppid`. */
const proc = (
  pid: number,
  ppid: number,
  startNs: bigint,
  filename: string,
  argv: string[],
  more: Partial<ProcessRecord> = {},
): ProcessRecord => ({
  kind: 'process',
  tsNs: startNs + 1000n,
  pid,
  ppid,
  startNs,
  comm: filename.split('/').pop() ?? '',
  filename,
  argv,
  argvTruncated: false,
  argvUnreadable: false,
  execed: true,
  exitedNs: null,
  ...ids,
  nsPid: pid,
  ...more,
});

// Processes older than the daemon: systemd -> sshd -> bash.
fakeProcess(1, 0, 1, ['/sbin/init']);
fakeProcess(500, 1, 200, ['sshd: admin [priv]']);
fakeProcess(600, 500, 300, ['-bash']);
const BASH_START = 300n * TICK_NS;

describe('ProcessTable', () => {
  it('seeds from /proc so processes older than the daemon resolve', () => {
    const t = fakeTable();
    t.seedFromProc();
    expect(t.size).toBe(3);
    expect(t.lookup(600)).toMatchObject({
      comm: '-bash',
      argv: ['-bash'],
      ppid: 500,
      startNs: BASH_START,
      exitedNs: null,
    });
    expect(t.ancestors(600).map((a) => a.pid)).toEqual([500, 1]);
  });

  it("keeps the whole chain of sh -c 'curl ... & exit' after both exited and curl was re-parented", () => {
    const t = fakeTable();
    t.seedFromProc();
    const sh = BASH_START + 5n * SECOND;
    const curl = sh + 1_000_000n;
    // What the kernel sends at curl's connect(): curl (its fork-time parent kept through
    // the exec that happened after sh exited), then the exited sh.
    t.apply(
      proc(701, 700, curl, '/usr/bin/curl', ['curl', '-s', 'http://169.254.169.254/latest/meta-data/'], {
        exitedNs: curl + 5_000_000n,
      }),
    );
    t.apply(
      proc(700, 600, sh, '/bin/sh', ['sh', '-c', 'curl -s http://169.254.169.254/latest/meta-data/ & exit'], {
        exitedNs: curl + 10n,
      }),
    );
    expect(t.lookup(701)).toMatchObject({
      exe: '/usr/bin/curl',
      argv: ['curl', '-s', 'http://169.254.169.254/latest/meta-data/'],
      ppid: 700,
      exitedNs: curl + 5_000_000n,
    });
    expect(t.ancestors(701).map((a) => [a.pid, a.exe, a.argv.join(' ')])).toEqual([
      [700, '/bin/sh', 'sh -c curl -s http://169.254.169.254/latest/meta-data/ & exit'],
      [600, null, '-bash'],
      [500, null, 'sshd: admin [priv]'],
      [1, null, '/sbin/init'],
    ]);
    expect(t.ancestors(701, 2).map((a) => a.pid)).toEqual([700, 600]);
  });

  it('cgroup (cgroup v1): the path the kernel sent at connect() names the unit, even once the caller is gone', () => {
    const t = fakeTable();
    const sh = BASH_START + 9n * SECOND;
    const curl = sh + 1_000_000n;
    t.apply(proc(2001, 2000, curl, '/usr/bin/curl', ['curl'], { exitedNs: curl + 1000n }));
    t.apply(proc(2000, 600, sh, '/bin/sh', ['sh', '-c', 'curl ...']));
    expect(t.lookup(2001)?.cgroup).toBeNull();
    t.applyCgroup({
      kind: 'cgroup',
      tsNs: curl + 10n,
      pid: 2001,
      startNs: curl,
      path: '/system.slice/backup.service',
      truncated: false,
    });
    expect(t.lookup(2001)).toMatchObject({ exe: '/usr/bin/curl', cgroup: '/system.slice/backup.service' });
    // A later record of the same process (its next connect) keeps the path; another process's pid does not.
    t.apply(proc(2001, 2000, curl, '/usr/bin/curl', ['curl'], { exitedNs: curl + 1000n }));
    expect(t.lookup(2001)?.cgroup).toBe('/system.slice/backup.service');
    t.applyCgroup({ kind: 'cgroup', tsNs: curl, pid: 2000, startNs: sh + 1n, path: '/other.slice', truncated: false });
    expect(t.lookup(2000)?.cgroup).toBeNull();
    // A process found in /proc (never heard of before) takes its cgroup from there.
    writeFileSync(join(root, '600', 'cgroup'), '1:name=systemd:/user.slice/session-3.scope\n0::/\n');
    const fresh = new ProcessTable(100, (pid) => readProc(pid, root), listFakePids);
    expect(fresh.lookup(600)?.cgroup).toBe('/user.slice/session-3.scope');
    rmSync(join(root, '600', 'cgroup'));
  });

  it('a child forked by a parent the kernel never saw exec runs its parent exe; a relative exec path keeps the known exe', () => {
    const t = fakeTable();
    const start = 10n * SECOND;
    t.apply(proc(800, 600, start, '/usr/bin/python3', ['python3', 'app.py']));
    t.apply(proc(801, 800, start + 1n, '', ['python3', 'app.py'], { execed: false }));
    expect(t.lookup(801)).toMatchObject({ exe: '/usr/bin/python3', argv: ['python3', 'app.py'], ppid: 800 });
    t.apply(proc(801, 800, start + 1n, './helper', ['./helper']));
    expect(t.lookup(801)).toMatchObject({ exe: '/usr/bin/python3', argv: ['./helper'] });
  });

  it('takes argv from /proc when the kernel could not read it', () => {
    const t = fakeTable();
    fakeProcess(900, 600, 400, ['python3', '-m', 'awscli', 's3', 'ls']);
    t.apply(proc(900, 600, 400n * TICK_NS, '/usr/bin/python3', [], { argvUnreadable: true }));
    expect(t.lookup(900)?.argv).toEqual(['python3', '-m', 'awscli', 's3', 'ls']);
  });

  it('a reused pid: the new holder answers, the old one still resolves for events of its time', () => {
    const t = fakeTable();
    const old = 20n * SECOND;
    const reused = old + 3n * SECOND;
    t.apply(proc(1200, 600, old, '/usr/bin/curl', ['curl', 'old'], { exitedNs: old + SECOND }));
    t.apply(proc(1200, 600, reused, '/usr/bin/wget', ['wget', 'new']));
    expect(t.lookup(1200)?.argv).toEqual(['wget', 'new']);
    expect(t.lookup(1200, reused + 1n)?.argv).toEqual(['wget', 'new']);
    expect(t.lookup(1200, old + SECOND / 2n)?.argv).toEqual(['curl', 'old']);
    // Before either started: neither.
    expect(t.lookup(1200, old - SECOND)).toBeNull();
  });

  it('forgets a reused pid previous holder after the grace period', () => {
    const t = fakeTable();
    const old = 20n * SECOND;
    const reused = old + SECOND + EXITED_GRACE_NS + 1n;
    t.apply(proc(1300, 600, old, '/usr/bin/curl', ['curl', 'old'], { exitedNs: old + SECOND }));
    t.apply(proc(1300, 600, reused, '/usr/bin/wget', ['wget', 'new']));
    expect(t.lookup(1300, old + 2n)).toBeNull();
  });

  it('ancestors follow the parent that existed at the child birth, not a later holder of its pid', () => {
    const t = fakeTable();
    const parent = 30n * SECOND;
    const child = parent + SECOND;
    t.apply(proc(1401, 1400, child, '/usr/bin/curl', ['curl', 'x']));
    t.apply(proc(1400, 600, parent, '/bin/bash', ['bash', 'deploy.sh'], { exitedNs: child + 1n }));
    t.apply(proc(1400, 1, child + 2n * SECOND, '/usr/sbin/cron', ['cron']));
    expect(t.ancestors(1401).map((a) => a.argv.join(' '))).toEqual([
      'bash deploy.sh',
      '-bash',
      'sshd: admin [priv]',
      '/sbin/init',
    ]);
  });

  it('/proc answers for an unknown pid only if that process had started by the event (one tick tolerance)', () => {
    fakeProcess(1500, 600, 1000, ['aws', 's3', 'ls']);
    const started = 1000n * TICK_NS;
    expect(fakeTable().lookup(1500, started - TICK_NS)?.argv).toEqual(['aws', 's3', 'ls']);
    expect(fakeTable().lookup(1500, started + SECOND)?.argv).toEqual(['aws', 's3', 'ls']);
    expect(fakeTable().lookup(1500, started - 2n * TICK_NS)).toBeNull();
    expect(fakeTable().lookup(77_777)).toBeNull();
    expect(fakeTable().lookup(0)).toBeNull();
  });

  it('a process the kernel saw exit keeps its exit time; a running one has none', () => {
    const t = fakeTable();
    t.apply(proc(1600, 600, 50n * SECOND, '/bin/sleep', ['sleep', '9']));
    expect(t.lookup(1600)?.exitedNs).toBeNull();
    t.apply(proc(1601, 600, 50n * SECOND, '/bin/sleep', ['sleep', '1'], { exitedNs: 51n * SECOND }));
    expect(t.lookup(1601)?.exitedNs).toBe(51n * SECOND);
  });

  it(`stays bounded (${DEFAULT_MAX_PROCESSES} entries) after 100,000 short-lived processes`, () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    const before = heap();
    const t = new ProcessTable(DEFAULT_MAX_PROCESSES, () => null);
    // Pids wrap around at 40,000 as the kernel's would: reuse as well as fresh pids.
    for (let i = 0; i < 100_000; i++) {
      const pid = 2 + (i % 40_000);
      const start = BigInt(i) * 1_000_000n;
      t.apply(
        proc(pid, 1, start, '/usr/bin/curl', ['curl', '-s', `http://169.254.169.254/latest/meta-data/${i}`], {
          exitedNs: start + 500_000n,
        }),
      );
      expect(t.size).toBeLessThanOrEqual(DEFAULT_MAX_PROCESSES);
    }
    const retainedMb = (heap() - before) / 1e6;
    process.stdout.write(
      `process table: ${t.size} entries (bound ${DEFAULT_MAX_PROCESSES}) after 100,000 short-lived processes, ` +
        `heap retained ${retainedMb.toFixed(1)} MB (${((retainedMb * 1e6) / t.size).toFixed(0)} B/entry)\n`,
    );
    expect(t.size).toBe(DEFAULT_MAX_PROCESSES);
    // The newest survive and resolve.
    expect(t.lookup(2 + (99_999 % 40_000))?.argv[2]).toBe('http://169.254.169.254/latest/meta-data/99999');
    expect(retainedMb).toBeLessThan(64);
  });
});
