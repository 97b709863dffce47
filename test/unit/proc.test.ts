// /proc readers against a fake /proc tree built in a temp dir, and against the real
// /proc for this very process; /etc/passwd names from a temp passwd file.
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { cgroup2Mounts } from '../../src/logic/mountinfo.js';
import { Enricher } from '../../src/enrich/index.js';
import { cgroupPathFromProcFile } from '../../src/logic/cgroup-path.js';
import { MAX_CMDLINE_BYTES, TICK_NS, bootTimeMs, readProc } from '../../src/enrich/proc.js';
import { UserNames } from '../../src/enrich/users.js';

const root = mkdtempSync(join(tmpdir(), 'fake-proc-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A /proc/<pid>/stat line: the fields after comm, start time (field 22) in ticks. */
function statLine(pid: number, comm: string, ppid: number, startTicks: number): string {
  const after = ['S', String(ppid), ...Array<string>(17).fill('0'), String(startTicks), '0', '0'];
  return `${pid} (${comm}) ${after.join(' ')}\n`;
}

function fakeProcess(pid: number, files: Record<string, string | Uint8Array>, exe?: string): void {
  const dir = join(root, String(pid));
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  if (exe) symlinkSync(exe, join(dir, 'exe'));
}

const uptimeSeconds = () => Number.parseFloat(readFileSync('/proc/uptime', 'utf8'));
/** /proc/uptime's resolution, and Date.now()'s whole milliseconds. */
const CLOCK_STEPS_MS = 20;
/** btime is the boot instant to the whole second below it. */
const BTIME_STEP_MS = 1000;

/**
 * The boot instant as this process can bracket it: between the wall clock minus the uptime read
 * after it, and the wall clock read after the uptime. However long the host holds the process
 * between the reads, the bracket holds (it only widens).
 */
function bootBracketMs(): { earliest: number; latest: number } {
  const wallBefore = Date.now();
  const upBefore = uptimeSeconds() * 1000;
  const upAfter = uptimeSeconds() * 1000;
  const wallAfter = Date.now();
  return { earliest: wallBefore - upAfter - CLOCK_STEPS_MS, latest: wallAfter - upBefore + CLOCK_STEPS_MS };
}

const status = (uid: string, gid: string, nspid: string) =>
  `Name:\tcurl\nUmask:\t0022\nState:\tS (sleeping)\nNSpid:\t${nspid}\nUid:\t${uid}\nGid:\t${gid}\n`;

describe('readProc', () => {
  it('reads comm, ppid, start time, argv, exe, ids, NSpid and cgroup', () => {
    fakeProcess(
      4242,
      {
        // A comm with ") " in it must not shift the fields.
        stat: statLine(4242, 'evil) S 1 (x', 4000, 123456),
        status: status('1000\t1000\t1000\t1000', '100\t100\t100\t100', '4242\t17\t1'),
        cmdline: Buffer.from('curl\0-s\0http://169.254.169.254/latest/meta-data/\0'),
        cgroup: '0::/system.slice/docker-abc.scope\n',
      },
      '/usr/bin/curl',
    );
    expect(readProc(4242, root)).toEqual({
      pid: 4242,
      ppid: 4000,
      comm: 'evil) S 1 (x',
      startNs: 123456n * TICK_NS,
      argv: ['curl', '-s', 'http://169.254.169.254/latest/meta-data/'],
      argvTruncated: false,
      exe: '/usr/bin/curl',
      uid: 1000,
      gid: 100,
      nsPid: 1,
      nsLevel: 2,
      cgroup: '0::/system.slice/docker-abc.scope\n',
    });
  });

  it('keeps invalid UTF-8 in argv visible and bounds huge argv', () => {
    const huge = Buffer.concat([
      Buffer.from('python3\0-c\0'),
      Buffer.from([0xff, 0xfe, 0x41, 0]),
      Buffer.from('x\0'.repeat(1000)),
    ]);
    fakeProcess(4343, { stat: statLine(4343, 'python3', 1, 5), status: status('0', '0', '4343'), cmdline: huge });
    const snap = readProc(4343, root);
    expect(snap?.argv.slice(0, 3)).toEqual(['python3', '-c', '\\xff\\xfeA']);
    expect(snap?.argv.length).toBe(256);
    expect(snap?.argvTruncated).toBe(true);
    expect(snap).toMatchObject({ exe: null, cgroup: null, nsPid: 4343, nsLevel: 0 });
  });

  it('reads only the head of a megabyte-long command line', () => {
    const long = Buffer.from(`bash\0-c\0${'echo hello; '.repeat(100_000)}\0`);
    fakeProcess(4747, { stat: statLine(4747, 'bash', 1, 5), status: status('0', '0', '4747'), cmdline: long });
    const snap = readProc(4747, root);
    expect(snap?.argv.slice(0, 2)).toEqual(['bash', '-c']);
    expect(snap?.argv.join('\0').length).toBe(MAX_CMDLINE_BYTES);
    expect(snap?.argvTruncated).toBe(true);
  });

  it('a kernel thread has no argv and no exe', () => {
    fakeProcess(2, { stat: statLine(2, 'kthreadd', 0, 0), status: status('0', '0', '2'), cmdline: '' });
    expect(readProc(2, root)).toMatchObject({ comm: 'kthreadd', argv: [], exe: null, ppid: 0 });
  });

  it('a process that is gone, or whose files are garbage, reads as null; ids that are garbage as -1', () => {
    expect(readProc(999_999, root)).toBeNull();
    fakeProcess(4444, { stat: 'garbage', status: '' });
    expect(readProc(4444, root)).toBeNull();
    fakeProcess(4545, { stat: '4545 (x) S notanumber 0', status: '' });
    expect(readProc(4545, root)).toBeNull();
    fakeProcess(4646, { stat: statLine(4646, 'x', 1, 7), status: 'Uid:\tbogus\n' });
    expect(readProc(4646, root)).toMatchObject({ uid: -1, gid: -1, nsPid: 4646, nsLevel: 0 });
  });

  it('reads this very process from the real /proc', () => {
    const self = readProc(process.pid);
    expect(self?.pid).toBe(process.pid);
    expect(self?.ppid).toBe(process.ppid);
    expect(self?.exe).toBe(realpathSync(process.execPath));
    // (argv is not checked: vitest retitles its workers, which rewrites /proc/self/cmdline.)
    expect(self?.uid).toBe(process.getuid?.());
    // Started after boot and before now.
    const uptimeNs = BigInt(Math.round(uptimeSeconds() * 1e9));
    expect(self?.startNs).toBeGreaterThan(0n);
    expect(self?.startNs).toBeLessThanOrEqual(uptimeNs);
  });
});

describe('bootTimeMs', () => {
  it('reads btime from stat, 0 when absent', () => {
    writeFileSync(join(root, 'stat'), 'cpu  1 2 3\nbtime 1764300000\nprocesses 5\n');
    expect(bootTimeMs(root)).toBe(1_764_300_000_000);
    expect(bootTimeMs(join(root, 'nowhere'))).toBe(0);
    // The real one: now minus uptime, to the second btime is given in.
    const boot = bootBracketMs();
    const btime = bootTimeMs();
    const after = bootBracketMs();
    expect(btime).toBeGreaterThan(Math.min(boot.earliest, after.earliest) - BTIME_STEP_MS);
    expect(btime).toBeLessThanOrEqual(Math.max(boot.latest, after.latest));
  });
});

describe('UserNames', () => {
  it('names uids from passwd and notices when the file changes', () => {
    const passwd = join(root, 'passwd');
    writeFileSync(
      passwd,
      'root:x:0:0:root:/root:/bin/bash\nec2-user:x:1000:1000::/home/ec2-user:/bin/bash\nbroken line\n',
    );
    const users = new UserNames(passwd);
    expect(users.name(0)).toBe('root');
    expect(users.name(1000)).toBe('ec2-user');
    expect(users.name(1001)).toBeNull();
    writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\nssm-user:x:1001:1001::/home/ssm-user:/bin/bash\n');
    utimesSync(passwd, new Date(), new Date(Date.now() + 5000));
    expect(users.name(1001)).toBe('ssm-user');
    expect(users.name(1000)).toBeNull();
    rmSync(passwd);
    expect(users.name(0)).toBeNull();
  });

  it('reads the real /etc/passwd', () => {
    expect(new UserNames().name(0)).toBe('root');
  });
});

/** How long a fork and exec may take on a host whose CPUs are all taken. */
const EXEC_WAIT_MS = 30_000;

describe('Enricher on a real process', () => {
  it('describes a running child: argv as it is (the log sink redacts), exe, user, start time, parent, cgroup', async () => {
    const script = 'sleep 30; :';
    const spawnedAfter = Date.now();
    const child = spawn('/bin/sh', ['-c', script, 'sh', 'X-aws-ec2-metadata-token: AQAEAsecretvalue'], {
      stdio: 'ignore',
    });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      const pid = child.pid as number;
      // 'spawn' may come before the exec completes (comm changes before argv and exe): wait for all.
      const execDone = () => {
        const snap = readProc(pid);
        return snap?.comm === 'sh' && snap.exe !== null && snap.argv.length === 5;
      };
      // A deadline for a loaded host: it only ends a wait that would fail anyway.
      const deadline = Date.now() + EXEC_WAIT_MS;
      while (!execDone()) {
        if (Date.now() > deadline) throw new Error(`sh (pid ${pid}) did not come up in ${EXEC_WAIT_MS} ms`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const cgroup = cgroupPathFromProcFile(readFileSync(`/proc/${pid}/cgroup`, 'utf8')) ?? '/';
      const mount = cgroup2Mounts(readFileSync('/proc/self/mountinfo', 'utf8'))[0] ?? '';
      const cgroupId = statSync(join(mount, cgroup), { bigint: true }).ino;
      const enricher = new Enricher({ maxProcesses: 1024, cgroupRoot: mount });
      enricher.seedFromProc();
      const owner = { pid, tid: pid, uid: 0, gid: 0, comm: 'sh', cgroupId, connectNs: 0n };
      // As the pipeline does at a connection's first record: the cgroup id is learnt there.
      enricher.observe(owner);
      const who = enricher.describe(owner, 0, 0n);
      expect(who.process).toMatchObject({
        pid,
        tid: pid,
        comm: 'sh',
        exe: realpathSync('/bin/sh'),
        argv: ['/bin/sh', '-c', script, 'sh', 'X-aws-ec2-metadata-token: AQAEAsecretvalue'],
        uid: 0,
        user: 'root',
        gid: 0,
        ns_pid: null,
      });
      expect(who.truncated).toEqual([]);
      // Boot time (to the second below) plus the start in ticks: between the spawn and now.
      const started = Date.parse(who.process.start_time ?? '');
      expect(started).toBeGreaterThan(spawnedAfter - BTIME_STEP_MS - CLOCK_STEPS_MS);
      expect(started).toBeLessThanOrEqual(Date.now());
      expect(who.ancestors[0]?.pid).toBe(process.pid);
      expect(who.cgroup).toBe(cgroup);
      expect(who.key).toMatch(new RegExp(`^${pid}:\\d+$`));
      // Without an owner: only the socket's uid and cgroup.
      const socketOnly = enricher.describe(null, 0, cgroupId);
      expect(socketOnly.process).toMatchObject({ pid: null, uid: 0, user: 'root', argv: [] });
      expect(socketOnly.cgroup).toBe(cgroup);
    } finally {
      child.kill();
    }
  });
});
