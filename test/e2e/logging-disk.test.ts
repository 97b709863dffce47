// Disk full on a real 2 MiB tmpfs (root): the sink keeps working, counts the lines it could
// not write, keeps up to PENDING_LIMIT_BYTES for retry, recovers when space returns, and a
// close while the disk is still full neither hangs nor leaves the next run a torn line.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogSink, PENDING_LIMIT_BYTES, type LogSink } from '../../src/logging/index.js';
import type { RequestLine } from '../../src/model/log-line.js';
import { requestLine } from '../helpers/request-line.js';
import { readStoredLine } from '../../src/model/stored-line.js';

const mountPoint = mkdtempSync(join(tmpdir(), 'imds-diskfull-'));
const FILLER = join(mountPoint, 'filler');
const rotation = { maxSizeMB: 50, frequency: 'daily' as const, maxFiles: 3 };

beforeAll(() => {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0755', 'imds-diskfull', mountPoint]);
});
afterAll(() => {
  execFileSync('umount', [mountPoint]);
  rmdirSync(mountPoint);
});

const sinks: LogSink[] = [];
afterEach(async () => {
  for (const s of sinks.splice(0)) await s.close();
  rmSync(FILLER, { force: true });
  for (const name of readdirSync(mountPoint)) rmSync(join(mountPoint, name), { recursive: true, force: true });
});

/** Fills the file system to the last byte; returns how many bytes the filler took. */
function fillDisk(): number {
  const fd = openSync(FILLER, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let total = 0;
  try {
    for (let size = chunk.length; size >= 1; ) {
      try {
        total += writeSync(fd, chunk, 0, size);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        size = Math.floor(size / 2);
      }
    }
  } finally {
    closeSync(fd);
  }
  return total;
}

const line = (phase: string, n: number): RequestLine => {
  const base = requestLine();
  return {
    ...base,
    request: { ...base.request, path: `/latest/meta-data/${phase}/${n}` },
    process: {
      ...base.process,
      pid: n,
      // log-line data, never dialled (no netns needed)
      argv: ['curl', '-s', `http://169.254.169.254/latest/meta-data/${phase}/${n}`, 'y'.repeat(200)], // no netns: not run
    },
  };
};

function fileText(dir: string): string {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.log'))
    .map((name) => readFileSync(join(dir, name), 'utf8'))
    .join('');
}

/** The request paths of the lines in `text`, read through the contract; any other line fails the test. */
function paths(text: string): string[] {
  return text.split('\n').flatMap((text) => {
    const r = readStoredLine(text);
    if (r.kind === 'blank') return [];
    if (r.kind !== 'line' || r.line.event !== 'imds_request')
      throw new Error(`not a request line: ${text.slice(0, 200)}`);
    return [r.line.request?.path ?? ''];
  });
}

const phaseCount = (text: string, phase: string) => paths(text).filter((p) => p.includes(`/${phase}/`)).length;

async function openSink(dir: string): Promise<LogSink> {
  const s = await createLogSink({
    dir,
    rotation,
    console: false,
    level: 'info',
    identity: { instance_id: null, region: null, boot_id: 'unknown' },
  });
  sinks.push(s);
  return s;
}

describe('disk full (2 MiB tmpfs)', () => {
  it('keeps working, counts what it could not write, and recovers when space returns', async () => {
    const dir = join(mountPoint, 'logs');
    const s = await openSink(dir);
    for (let i = 0; i < 20; i++) s.request(line('before', i));
    await s.flush();
    expect(s.counters()).toEqual({ linesWritten: 20, linesNotWritten: 0, writeErrors: 0 });

    const filled = fillDisk();
    const during = 4000; // ~1.5 MiB of lines: more than the retry buffer holds
    for (let i = 0; i < during; i++) s.request(line('during', i));
    await s.flush();
    const full = s.counters();
    console.log(`disk full: filler ${filled} bytes; after ${during} lines: ${JSON.stringify(full)}`);
    expect(full.writeErrors).toBeGreaterThan(0);
    expect(full.linesNotWritten).toBeGreaterThan(0);
    expect(full.linesNotWritten).toBeLessThan(during);
    // The log file's last tmpfs page may still hold a line or two after the filler took the rest.
    expect(full.linesWritten).toBeGreaterThanOrEqual(20);
    expect(full.linesWritten).toBeLessThan(20 + 10);

    rmSync(FILLER);
    for (let i = 0; i < 20; i++) s.request(line('after', i));
    await s.flush();
    const recovered = s.counters();
    console.log(`space back: ${JSON.stringify(recovered)}`);
    expect(recovered.linesWritten + recovered.linesNotWritten).toBe(20 + during + 20);
    expect(recovered.linesNotWritten).toBe(full.linesNotWritten);

    const text = fileText(dir);
    // every line on disk is a whole line of the contract, in order, and the counts match what is there
    expect(paths(text)).toHaveLength(recovered.linesWritten);
    expect(phaseCount(text, 'before')).toBe(20);
    expect(phaseCount(text, 'after')).toBe(20);
    expect(phaseCount(text, 'during')).toBe(during - recovered.linesNotWritten);
    // the lines kept for retry are the first ones, up to the retry limit
    // (those written before the disk refused one were never held for retry, and the line the
    // disk refused may have been written in part: one line of slack)
    const duringLines = text.split('\n').filter((l) => l.includes('/during/'));
    const keptBytes = duringLines.slice(full.linesWritten - 20).reduce((n, l) => n + l.length + 1, 0);
    const longest = Math.max(...duringLines.map((l) => l.length + 1));
    expect(keptBytes).toBeLessThanOrEqual(PENDING_LIMIT_BYTES + longest);
    expect(paths(text).slice(20, 23)).toEqual([
      '/latest/meta-data/during/0',
      '/latest/meta-data/during/1',
      '/latest/meta-data/during/2',
    ]);
  });

  it('close while the disk is still full returns, counts the buffered lines as not written, and the next run starts a fresh line', async () => {
    const dir = join(mountPoint, 'logs');
    const s = await openSink(dir);
    s.request(line('before', 0));
    await s.flush();
    // leave a few hundred bytes free so that the next line is written only in part
    fillDisk();
    const pad = readFileSync(FILLER).length;
    execFileSync('truncate', ['-s', String(pad - 300), FILLER]);
    for (let i = 0; i < 50; i++) s.request(line('during', i));
    const started = Date.now();
    await s.close();
    sinks.splice(sinks.indexOf(s), 1);
    expect(Date.now() - started).toBeLessThan(2000);
    const counts = s.counters();
    console.log(`closed while full: ${JSON.stringify(counts)}`);
    expect(counts.linesWritten + counts.linesNotWritten).toBe(51);
    expect(counts.linesNotWritten).toBeGreaterThan(0);
    const tornText = fileText(dir);
    expect(tornText.endsWith('\n')).toBe(false); // half a line is on disk

    rmSync(FILLER);
    const next = await openSink(dir);
    next.request(line('after', 0));
    await next.close();
    sinks.splice(sinks.indexOf(next), 1);
    expect(next.counters()).toEqual({ linesWritten: 1, linesNotWritten: 0, writeErrors: 0 });
    const lines = fileText(dir)
      .split('\n')
      .filter((l) => l !== '');
    // the torn fragment stays a line of its own; every other line is a whole line of the contract
    const whole = lines.filter((l) => readStoredLine(l).kind === 'line');
    expect(lines.length - whole.length).toBe(1);
    expect(paths(lines.at(-1) ?? '')).toEqual(['/latest/meta-data/after/0']);
    expect(whole).toHaveLength(counts.linesWritten + 1);
  });
});
