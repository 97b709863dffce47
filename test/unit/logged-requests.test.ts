// Reading back which requests a previous daemon logged (src/daemon/logged-requests.ts).
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loggedRequests } from '../../src/daemon/logged-requests.js';
import { requestKey, requestKeyOfOlderLine } from '../../src/logic/request-line.js';

const root = mkdtempSync(join(tmpdir(), 'imds-logged-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const request = (cookie: string, startSeq: number) =>
  JSON.stringify({
    level: 40,
    time: 1,
    event: 'imds_request',
    connection: { cookie, request_index: 0, start_seq: startSeq, kernel_ns: '77' },
  });
/** A line of a version before start_seq: known by its kernel_ns. */
const olderRequest = (cookie: string, kernelNs: string) =>
  JSON.stringify({
    level: 40,
    time: 1,
    event: 'imds_request',
    connection: { cookie, request_index: 0, kernel_ns: kernelNs },
  });

const loggedRequestKeys = (dir: string, tailBytes?: number) => loggedRequests(dir, tailBytes).keys;

describe('loggedRequests', () => {
  it('keys every request line at the end of the newest logs, and nothing else', () => {
    const dir = join(root, 'a');
    const older = join(dir, 'imds-analyzer.2026-11-29.1.log');
    const newer = join(dir, 'imds-analyzer.2026-11-30.1.log');
    mkdirSync(dir);
    writeFileSync(older, `${olderRequest('1', '10')}\n`);
    writeFileSync(
      newer,
      [
        request('2', 20),
        JSON.stringify({ time: 1, event: 'stats', connection: { cookie: '9', start_seq: 9, kernel_ns: '9' } }),
        '{"event":"imds_request",',
        request('3', 30),
        // Pipelined: completed by one segment, so the same kernel_ns; their starts differ.
        request('3', 90),
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'notes.txt'), `${request('4', 40)}\n`);
    utimesSync(older, 1, 1);
    expect(loggedRequestKeys(dir)).toEqual(
      new Set([requestKeyOfOlderLine('1', '10'), requestKey('2', 20), requestKey('3', 30), requestKey('3', 90)]),
    );
  });

  it('reads only the tail it is given: a line cut at the start is skipped', () => {
    const dir = join(root, 'b');
    mkdirSync(dir);
    const last = request('6', 60);
    writeFileSync(join(dir, 'x.log'), `${request('5', 50)}\n${last}\n`);
    expect(loggedRequestKeys(dir, last.length + 5)).toEqual(new Set([requestKey('6', 60)]));
  });

  it('each connection: where its latest line that says so left it', () => {
    const dir = join(root, 'c');
    mkdirSync(dir);
    const line = (cookie: string, index: number, resumeSeq: number | null) =>
      JSON.stringify({
        time: 1,
        event: 'imds_request',
        connection: { cookie, request_index: index, start_seq: 1, resume_seq: resumeSeq, kernel_ns: '1' },
      });
    writeFileSync(
      join(dir, 'x.log'),
      [line('7', 0, 100), line('7', 1, 200), line('7', 2, null), line('8', 0, 50), ''].join('\n'),
    );
    expect(loggedRequests(dir).resumePoints).toEqual(
      new Map([
        [7n, { seq: 200, nextIndex: 2 }],
        [8n, { seq: 50, nextIndex: 1 }],
      ]),
    );
  });

  it('is empty when there is no log directory yet', () => {
    expect(loggedRequestKeys(join(root, 'missing')).size).toBe(0);
  });
});
