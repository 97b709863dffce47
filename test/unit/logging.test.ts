// The log sink on real files (no root): modes under a permissive umask, levels, redaction,
// the rotation bound, a planted symlink, a deleted directory, and no line lost on close.
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RequestLine } from '../../src/model/log-line.js';
import { requestLine as contractLine } from '../helpers/request-line.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type LogSink, type LogSinkOptions, Redactor } from '../../src/logging/index.js';
import { logFilesOldestFirst } from '../../src/logging/rolling-file.js';
import { openTestSink } from '../helpers/test-sink.js';

const root = mkdtempSync(join(tmpdir(), 'imds-logging-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// The roller names files by the date and rolls at midnight (or the hour) by the wall clock: on a
// clock pinned to noon yesterday no test sees a day or hour change, whenever and in whichever
// time zone it runs (timers stay real).
const noonYesterday = new Date();
noonYesterday.setDate(noonYesterday.getDate() - 1);
noonYesterday.setHours(12, 0, 0, 0);
beforeAll(() => {
  vi.useFakeTimers({ toFake: ['Date'], now: noonYesterday });
});
afterAll(() => {
  vi.useRealTimers();
});
/** Tests that write megabytes take a second alone, far more on a host whose CPUs are shared. */
const WRITES_MEGABYTES = { timeout: 240_000 };

let dirCount = 0;
const open: LogSink[] = [];
afterEach(async () => {
  for (const sink of open.splice(0)) await sink.close();
});

async function sink(overrides: Partial<LogSinkOptions> = {}): Promise<{ sink: LogSink; dir: string }> {
  const dir = join(root, `logs-${dirCount++}`, 'imds-analyzer');
  const created = await openTestSink(dir, { hostname: 'test-host', ...overrides });
  open.push(created);
  return { sink: created, dir };
}

const logFiles = logFilesOldestFirst;

function fileNumber(name: string): number {
  return Number(/\.(\d+)\.log$/.exec(name)?.[1]);
}

function readLines(dir: string): Record<string, unknown>[] {
  return logFiles(dir).flatMap((name) =>
    readFileSync(join(dir, name), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  );
}

/** Bytes in the directory; a file removed by the roller's cleanup between readdir and lstat counts 0. */
function directoryBytes(dir: string): number {
  return readdirSync(dir).reduce((sum, name) => {
    try {
      return sum + lstatSync(join(dir, name)).size;
    } catch {
      return sum;
    }
  }, 0);
}

const requestLine = (version: 'v1' | 'v2' | 'unknown', n = 0): RequestLine => {
  const line = contractLine();
  return {
    ...line,
    imds_version: version,
    request: { ...line.request, path: `/latest/meta-data/item-${n}` },
    process: { ...line.process, pid: 1000 + n, tid: 1000 + n, argv: ['curl', '-s', `http://169.254.169.254/${n}`] }, // log-line data
  };
};
/** The sink writes whatever fields it is given: these tests give it partial or hostile ones. */
const anyFields = (fields: object) => fields as never;

const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));

/** Writes request lines of about 1 KiB until `bytes`, yielding so rotations happen as in the daemon. */
async function writeBytes(s: LogSink, bytes: number, onBatch?: () => void): Promise<number> {
  // With pino's fields, timestamp, instance_id and boot_id the line is about 1.3 KiB.
  const padding = 'x'.repeat(685);
  let lines = 0;
  for (let written = 0; written < bytes; written += 1024) {
    s.request({ ...requestLine('v2', lines), advice: padding });
    lines++;
    if (lines % 64 === 0) {
      await yieldToLoop();
      onBatch?.();
    }
  }
  await yieldToLoop();
  return lines;
}

function mode(path: string): number {
  return statSync(path).mode & 0o7777;
}

describe('modes', WRITES_MEGABYTES, () => {
  for (const umask of [0o000, 0o077]) {
    it(`directory 0750 and files 0640 under umask ${umask.toString(8).padStart(3, '0')}, after rotation too`, async () => {
      const previous = process.umask(umask);
      try {
        const { sink: s, dir } = await sink();
        await writeBytes(s, 2.5 * 1024 * 1024);
        await s.flush();
        const files = logFiles(dir);
        expect(files.length).toBeGreaterThanOrEqual(3);
        expect(mode(dir)).toBe(0o750);
        for (const name of files) expect(mode(join(dir, name)), name).toBe(0o640);
      } finally {
        process.umask(previous);
      }
    });
  }
});

describe('lines', WRITES_MEGABYTES, () => {
  it("v1 at warn; v2, unknown and other clouds' paths at info; a short human msg and the hostname", async () => {
    const { sink: s, dir } = await sink();
    s.request(requestLine('v1', 1));
    s.request(requestLine('v2', 2));
    s.request(requestLine('unknown', 3));
    const gcp = requestLine('v1', 4);
    s.request({ ...gcp, aws_api: false, request: { ...gcp.request, path: '/computeMetadata/v1/' } });
    await s.flush();
    const lines = readLines(dir);
    expect(lines.map((l) => [l.imds_version, l.level])).toEqual([
      ['v1', 40],
      ['v2', 30],
      ['unknown', 30],
      ['v1', 30],
    ]);
    expect(lines[3]?.msg).toBe('non-AWS GET /computeMetadata/v1/ by curl (pid 1004)');
    expect(lines[0]?.msg).toBe('IMDSv1 GET /latest/meta-data/item-1 by curl (pid 1001)');
    expect(lines[0]?.hostname).toBe('test-host');
    expect(lines[0]?.process).toEqual(requestLine('v1', 1).process);
    expect(typeof lines[0]?.time).toBe('number');
  });

  it('at level warn, v2 request lines are left out but lifecycle lines are kept', async () => {
    const { sink: s, dir } = await sink({ level: 'warn' });
    s.lifecycle('ready', anyFields({ kernel: '6.18', buffer: 'ringbuf' }));
    s.request(requestLine('v2'));
    s.request(requestLine('v1'));
    s.lifecycle('stats', anyFields({ requests: { v1: 1, v2: 1 } }));
    s.lifecycle('error', anyFields({ message: 'bad\x1b[2Jthing' }));
    s.lifecycle('stopping', anyFields({ signal: 'SIGTERM' }));
    await s.flush();
    const lines = readLines(dir);
    expect(lines.map((l) => [l.event, l.level])).toEqual([
      ['ready', 30],
      ['imds_request', 40],
      ['stats', 30],
      ['error', 50],
      ['stopping', 30],
    ]);
    expect(lines[0]?.kernel).toBe('6.18');
    expect(lines[3]?.msg).toBe('error: bad\\x1b[2Jthing');
    expect(s.counters()).toEqual({ linesWritten: 5, linesNotWritten: 0, writeErrors: 0 });
  });

  it("every line carries the host's identity; a region learnt after the sink opened is on the lines from then on", async () => {
    // At boot the daemon starts before cloud-init has written the region.
    const identity = { instance_id: 'i-0123456789abcdef0', region: null as string | null, boot_id: 'b-1' };
    const { sink: s, dir } = await sink({ identity });
    s.lifecycle('ready', anyFields({}));
    s.request(requestLine('v1', 1));
    identity.region = 'eu-south-2';
    s.request(requestLine('v1', 2));
    s.lifecycle('stats', anyFields({}));
    await s.flush();
    const lines = readLines(dir);
    expect(lines.map((l) => [l.event, l.instance_id, l.region, l.boot_id])).toEqual([
      ['ready', 'i-0123456789abcdef0', null, 'b-1'],
      ['imds_request', 'i-0123456789abcdef0', null, 'b-1'],
      ['imds_request', 'i-0123456789abcdef0', 'eu-south-2', 'b-1'],
      ['stats', 'i-0123456789abcdef0', 'eu-south-2', 'b-1'],
    ]);
    // Once each: with pino's own leading fields, before the event's.
    const text = readFileSync(join(dir, logFiles(dir)[0] ?? ''), 'utf8').split('\n')[2] ?? '';
    expect(text.match(/"region":/g)).toHaveLength(1);
    expect(text.indexOf('"region":')).toBeLessThan(text.indexOf('"event":'));
  });

  it('a lifecycle field named event cannot change the event', async () => {
    const { sink: s, dir } = await sink();
    s.lifecycle('stats', anyFields({ event: 'imds_request' }));
    await s.flush();
    expect(readLines(dir)[0]?.event).toBe('stats');
  });

  it('close flushes every line written so far', async () => {
    const { sink: s, dir } = await sink({ rotation: { maxSizeMB: 50, frequency: 'hourly', maxFiles: 2 } });
    for (let i = 0; i < 5000; i++) s.request(requestLine('v1', i));
    await s.close();
    const lines = readLines(dir);
    expect(lines).toHaveLength(5000);
    expect(lines.map((l) => (l.process as { pid: number }).pid)).toEqual(
      Array.from({ length: 5000 }, (_, i) => 1000 + i),
    );
    expect(s.counters()).toEqual({ linesWritten: 5000, linesNotWritten: 0, writeErrors: 0 });
    // hourly files carry the hour in their name
    expect(logFiles(dir)[0]).toMatch(/^imds-analyzer\.\d{4}-\d{2}-\d{2}-\d{2}\.\d+\.log$/);
    s.request(requestLine('v1'));
    expect(s.counters().linesNotWritten).toBe(1);
  });
});

describe('redaction', () => {
  it('request lines, console lines and lifecycle fields all go through the Redactor', async () => {
    const redactor = new Redactor();
    const token = `AQAE${'Zk9v'.repeat(13)}`;
    redactor.rememberToken(token, 0);
    let stdout = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      stdout += String(chunk);
      return true;
    });
    try {
      const { sink: s, dir } = await sink({ console: true, redactor });
      const line = requestLine('v1');
      s.request({ ...line, process: { ...line.process, argv: ['fetch.py', token, '--password', 'pw-5e3c1d'] } });
      s.lifecycle('error', { message: `failed: ${token}`, source: 'decode' });
      await s.flush();
      const raw = logFiles(dir)
        .map((name) => readFileSync(join(dir, name), 'utf8'))
        .join('');
      for (const text of [raw, stdout]) {
        expect(text).not.toContain(token);
        expect(text).not.toContain('pw-5e3c1d');
      }
      expect(stdout).toContain('argv="fetch.py [REDACTED] --password [REDACTED]"');
      const [request, error] = readLines(dir);
      expect(request).toMatchObject({
        process: { argv: ['fetch.py', '[REDACTED]', '--password', '[REDACTED]'] },
        redacted: ['process.argv'],
      });
      expect(error).toMatchObject({ message: 'failed: [REDACTED]', msg: 'error: failed: [REDACTED]' });
    } finally {
      spy.mockRestore();
    }
  });

  it('secret-named keys are censored at the top level and at any depth, any case; other keys are kept', async () => {
    const { sink: s, dir } = await sink();
    const secret = 'AQAEAUniqueTokenValue-7f3a';
    const original = { ...requestLine('v2'), headers: { Authorization: secret } };
    s.request(original);
    // the caller's object is not modified by censoring
    expect(original.headers.Authorization).toBe(secret);
    // Defence in depth: fields no contract line has, as a future bug might add them.
    s.request(
      anyFields({
        ...requestLine('v2'),
        token: secret,
        headers: { 'X-aws-ec2-metadata-token': secret, Authorization: `Bearer ${secret}` },
        credentials: { SecretAccessKey: secret, Token: secret, password: secret },
        ancestors: [{ pid: 1, env: { secret } }],
        Authorization: secret,
        deep: { a: { b: { c: { 'X-AWS-EC2-METADATA-TOKEN': secret, PassWord: secret, kept: 1 } } } },
      }),
    );
    s.lifecycle('error', anyFields({ message: 'failed', detail: { 'x-aws-ec2-metadata-token': secret } }));
    await s.flush();
    const raw = logFiles(dir)
      .map((name) => readFileSync(join(dir, name), 'utf8'))
      .join('');
    expect(raw).not.toContain(secret);
    const [, request, error] = readLines(dir);
    expect(request?.token).toBe('[REDACTED]');
    expect(request?.headers).toEqual({ 'X-aws-ec2-metadata-token': '[REDACTED]', Authorization: '[REDACTED]' });
    expect(request?.credentials).toEqual({
      SecretAccessKey: '[REDACTED]',
      Token: '[REDACTED]',
      password: '[REDACTED]',
    });
    expect(request?.ancestors).toEqual([{ pid: 1, env: { secret: '[REDACTED]' } }]);
    expect(request?.Authorization).toBe('[REDACTED]');
    expect(request?.deep).toEqual({
      a: { b: { c: { 'X-AWS-EC2-METADATA-TOKEN': '[REDACTED]', PassWord: '[REDACTED]', kept: 1 } } },
    });
    expect(error?.detail).toEqual({ 'x-aws-ec2-metadata-token': '[REDACTED]' });
    // fields that merely mention a token are not secrets
    expect((request?.request as { token_request: boolean } | undefined)?.token_request).toBe(false);
    expect(request?.connection).toEqual(contractLine().connection);
  });
});

describe('rotation', WRITES_MEGABYTES, () => {
  it('the directory stays within maxSizeMB * (maxFiles + 1) while writing past many rotations', async () => {
    const rotation = { maxSizeMB: 1, frequency: 'daily' as const, maxFiles: 3 };
    const bound = rotation.maxSizeMB * 1024 * 1024 * (rotation.maxFiles + 1);
    const { sink: s, dir } = await sink({ rotation });
    let largest = 0;
    let mostFiles = 0;
    const lines = await writeBytes(s, 12 * 1024 * 1024, () => {
      largest = Math.max(largest, directoryBytes(dir));
      mostFiles = Math.max(mostFiles, logFiles(dir).length);
    });
    await s.close();
    // Old files go in the turn that rotated: nothing is left to wait for.
    const files = logFiles(dir);
    const total = directoryBytes(dir);
    console.log(
      `rotation bound: ${lines} lines, ${files.length} files left (${files.join(' ')}), ${total} bytes at the end, ${largest} bytes and ${mostFiles} files at most while writing, bound ${bound}`,
    );
    expect(fileNumber(files.at(-1) ?? '')).toBeGreaterThanOrEqual(10);
    expect(files.length).toBeLessThanOrEqual(rotation.maxFiles);
    expect(mostFiles).toBeLessThanOrEqual(rotation.maxFiles);
    expect(largest).toBeLessThanOrEqual(bound);
    expect(total).toBeLessThanOrEqual(bound);
    expect(s.counters()).toEqual({ linesWritten: lines, linesNotWritten: 0, writeErrors: 0 });
    // the newest lines survive and every remaining line is whole JSON
    const kept = readLines(dir);
    expect((kept.at(-1)?.process as { pid: number } | undefined)?.pid).toBe(1000 + lines - 1);
  });

  it('lines written without a yield (the final drain at stop) roll at the size too', async () => {
    const rotation = { maxSizeMB: 1, frequency: 'daily' as const, maxFiles: 2 };
    const max = rotation.maxSizeMB * 1024 * 1024;
    const { sink: s, dir } = await sink({ rotation });
    const padding = 'x'.repeat(685);
    const lines = 4000;
    for (let n = 0; n < lines; n++) s.request({ ...requestLine('v2', n), advice: padding });
    // Still in the same tick: the files rolled, and the oldest were deleted, as the lines went.
    const during = logFiles(dir);
    const longest = Math.max(...during.map((f) => statSync(join(dir, f)).size));
    expect(during.length).toBeLessThanOrEqual(rotation.maxFiles);
    const started = Date.now();
    await s.close();
    // Nothing of the rotation is left running to hold the process (a stopping daemon's exit).
    expect(Date.now() - started).toBeLessThan(1000);
    const files = logFiles(dir);
    expect(fileNumber(files.at(-1) ?? '')).toBeGreaterThanOrEqual(4);
    expect(files.length).toBeLessThanOrEqual(rotation.maxFiles);
    // A file ends with the line that took it to the size.
    expect(longest).toBeLessThan(max + 2048);
    expect(Math.max(...files.map((f) => statSync(join(dir, f)).size))).toBeLessThan(max + 2048);
    expect(s.counters()).toEqual({ linesWritten: lines, linesNotWritten: 0, writeErrors: 0 });
    expect((readLines(dir).at(-1)?.process as { pid: number } | undefined)?.pid).toBe(1000 + lines - 1);
  });

  it('a restart keeps counting old files in the limit', async () => {
    const rotation = { maxSizeMB: 1, frequency: 'daily' as const, maxFiles: 2 };
    const first = await sink({ rotation });
    await writeBytes(first.sink, 3.5 * 1024 * 1024);
    await first.sink.close();
    const again = await openTestSink(first.dir, { rotation });
    open.push(again);
    await writeBytes(again, 1.5 * 1024 * 1024);
    await again.close();
    expect(logFiles(first.dir).length).toBeLessThanOrEqual(rotation.maxFiles);
  });
});

describe('symlinks are never followed', WRITES_MEGABYTES, () => {
  it('a symlink planted under the next file name is replaced at rotation; its target is untouched', async () => {
    const { sink: s, dir } = await sink();
    s.request(requestLine('v1'));
    await s.flush();
    const [current] = logFiles(dir);
    expect(current).toBeDefined();
    const next = (current ?? '').replace(/\.(\d+)\.log$/, (_, n: string) => `.${Number(n) + 1}.log`);
    const target = join(root, `victim-${dirCount}`);
    writeFileSync(target, 'precious\n');
    symlinkSync(target, join(dir, next));
    await writeBytes(s, 1.5 * 1024 * 1024);
    await s.flush();
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    expect(lstatSync(join(dir, next)).isFile()).toBe(true);
    expect(readFileSync(join(dir, next), 'utf8')).toContain('"imds_request"');
    expect(mode(join(dir, next))).toBe(0o640);
  });

  it('a hard link planted under the next file name is replaced at rotation; the linked file is untouched', async () => {
    const { sink: s, dir } = await sink();
    s.request(requestLine('v1'));
    await s.flush();
    const next = (logFiles(dir)[0] ?? '').replace(/\.(\d+)\.log$/, (_, n: string) => `.${Number(n) + 1}.log`);
    const target = join(root, `victim-hard-${dirCount}`);
    writeFileSync(target, 'precious\n');
    linkSync(target, join(dir, next));
    await writeBytes(s, 1.5 * 1024 * 1024);
    await s.flush();
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    expect(statSync(join(dir, next)).nlink).toBe(1);
    expect(readFileSync(join(dir, next), 'utf8')).toContain('"imds_request"');
  });

  it('a symlink planted before start, named like a newer log file, is removed, not opened', async () => {
    const dir = join(root, `planted-${dirCount++}`);
    const target = join(root, `victim-start-${dirCount}`);
    writeFileSync(target, 'precious\n');
    await import('node:fs').then((fs) => fs.mkdirSync(dir, { mode: 0o750 }));
    const today = new Date();
    const date = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, '0')}-${String(today.getDate()).padStart(2, '0')}`;
    symlinkSync(target, join(dir, `imds-analyzer.${date}.7.log`));
    const s = await openTestSink(dir);
    open.push(s);
    s.request(requestLine('v1'));
    await s.flush();
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    expect(existsSync(join(dir, `imds-analyzer.${date}.7.log`))).toBe(false);
    expect(readLines(dir)).toHaveLength(1);
  });

  it('the current file replaced by a symlink is recreated as a regular file on the next write', async () => {
    const { sink: s, dir } = await sink();
    s.request(requestLine('v1', 1));
    await s.flush();
    const [current] = logFiles(dir);
    const path = join(dir, current ?? '');
    const target = join(root, `victim-current-${dirCount}`);
    writeFileSync(target, 'precious\n');
    rmSync(path);
    symlinkSync(target, path);
    s.request(requestLine('v1', 2));
    await s.flush();
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    expect(lstatSync(path).isFile()).toBe(true);
    expect(readLines(dir).map((l) => (l.process as { pid: number }).pid)).toEqual([1002]);
  });
});

describe('deleted log directory', () => {
  it('is recreated (0750, file 0640) on the next write, and the line lands in it', async () => {
    const { sink: s, dir } = await sink();
    s.request(requestLine('v1', 1));
    await s.flush();
    rmSync(dir, { recursive: true });
    expect(existsSync(dir)).toBe(false);
    s.request(requestLine('v1', 2));
    s.request(requestLine('v2', 3));
    await s.flush();
    expect(mode(dir)).toBe(0o750);
    const files = logFiles(dir);
    expect(files).toHaveLength(1);
    expect(mode(join(dir, files[0] ?? ''))).toBe(0o640);
    expect(readLines(dir).map((l) => (l.process as { pid: number }).pid)).toEqual([1002, 1003]);
    expect(s.counters()).toEqual({ linesWritten: 3, linesNotWritten: 0, writeErrors: 0 });
  });

  it('that cannot be recreated: lines are counted as not written, never lost silently, and writing resumes once it can', async () => {
    const parent = join(root, `blocked-${dirCount++}`);
    const dir = join(parent, 'logs');
    const s = await openTestSink(dir);
    open.push(s);
    s.request(requestLine('v1', 1));
    rmSync(parent, { recursive: true });
    writeFileSync(parent, 'a file where the directory was\n');
    s.request(requestLine('v1', 2));
    s.request(requestLine('v1', 3));
    await s.flush();
    const blocked = s.counters();
    expect(blocked.linesWritten).toBe(1);
    expect(blocked.linesNotWritten).toBe(2);
    expect(blocked.writeErrors).toBeGreaterThan(0);
    rmSync(parent);
    s.request(requestLine('v1', 4));
    await s.close();
    expect(readLines(dir).map((l) => (l.process as { pid: number }).pid)).toEqual([1004]);
    expect(s.counters()).toMatchObject({ linesWritten: 2, linesNotWritten: 2 });
  });
});
