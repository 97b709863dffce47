// A daemon that replays its predecessor's journaled records logs each request once: the
// pipeline and the log sink on real files, two daemons in a row (no root).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/config/index.js';
import { loggedRequests } from '../../src/daemon/logged-requests.js';
import { LongestTurn } from '../../src/capture/longest-turn.js';
import { Pipeline } from '../../src/daemon/pipeline.js';
import { openTestSink } from '../helpers/test-sink.js';
import type { Flow, KernelRecord } from '../../src/model/records.js';

const root = mkdtempSync(join(tmpdir(), 'imds-replay-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const flow: Flow = { cookie: 7n, family: 'ipv4', address: '169.254.169.254', port: 80 };
const get = (n: number) => `GET /latest/meta-data/ami-id?n=${n} HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n`;
/** Kernel time now: a request read now still waits for its answer. */
const base = process.hrtime.bigint();
/** Request n on one keep-alive connection, then its answer. */
function exchange(n: number, seq: number): KernelRecord[] {
  const bytes = new TextEncoder().encode(get(n));
  const at = base + BigInt(10 * n);
  return [
    {
      kind: 'payload',
      tsNs: at,
      flow,
      owner: null,
      socketUid: 0,
      socketCgroupId: 0n,
      seq,
      streamStart: null,
      wireLength: bytes.length,
      bytes,
    },
    // IMDS acknowledges the whole request with its answer.
    { kind: 'response', tsNs: at + 1n, flow, seq: 1 + 100 * n, ack: (seq + bytes.length) >>> 0, status: 200 },
  ];
}
const seqOf = (n: number) => 1 + [...Array(n).keys()].reduce((sum, i) => sum + get(i).length, 0);

/** How the daemon ends: killed (nothing flushed), or stopped while systemd keeps the capture for the next one. */
type End = 'killed' | 'handing-over';

async function daemon(dir: string, records: KernelRecord[], replay: boolean, end: End = 'killed') {
  const sink = await openTestSink(dir, {
    hostname: 'test-host',
    identity: { instance_id: null, region: null, boot_id: 'b-1' },
  });
  const pipeline = new Pipeline({ ...DEFAULT_CONFIG, logDir: dir }, sink, '/sys/fs/cgroup/unified');
  if (replay) pipeline.takeOver(loggedRequests(dir));
  pipeline.handle(records);
  pipeline.endOfTurn();
  if (end === 'handing-over') pipeline.flushAll(true);
  const counters = pipeline.counters({} as never, 0n, sink.counters(), {
    drainErrors: 0,
    statusWriteErrors: 0,
    longestDrainTurn: new LongestTurn(),
  });
  await sink.close();
  return counters;
}

type Line = {
  event?: string;
  imds_version?: string;
  request?: { path: string };
  response?: { status: number } | null;
  connection?: { request_index: number };
};
function requestLines(dir: string): Line[] {
  return readdirSync(dir)
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean))
    .map((t) => JSON.parse(t) as Line)
    .filter((l) => l.event === 'imds_request');
}
const loggedPaths = (dir: string) => requestLines(dir).map((l) => l.request?.path ?? '');

describe('replaying a predecessor journal', () => {
  it('logs what the predecessor had not logged, and nothing twice', async () => {
    const dir = join(root, 'logs');
    const all = [0, 1, 2, 3].map((n) => exchange(n, seqOf(n)));
    // The first daemon logs requests 0 and 1; it had read request 2 but not its answer when it was killed.
    await daemon(dir, [...(all[0] ?? []), ...(all[1] ?? []), (all[2] ?? [])[0] as KernelRecord], false);
    // Request 2 was still waiting for its answer: not logged.
    expect(loggedPaths(dir)).toEqual(['/latest/meta-data/ami-id?n=0', '/latest/meta-data/ami-id?n=1']);
    // The next daemon replays the journal (requests 0..2 as read), then drains the answer and request 3.
    const counters = await daemon(dir, all.flat(), true);
    expect(loggedPaths(dir).sort()).toEqual([0, 1, 2, 3].map((n) => `/latest/meta-data/ami-id?n=${n}`));
    // Taken up where the log left the connection: requests 0 and 1 are not even parsed again.
    expect(counters.replayed_duplicates).toBe(0);
    expect(requestLines(dir).map((l) => l.connection?.request_index)).toEqual([0, 1, 2, 3]);
    expect(counters.streams).toMatchObject({ holes_skipped: 0, bytes_skipped: 0, responses_unmatched: 0 });
    // The request the first daemon read unanswered got its answer from the replay.
    expect(requestLines(dir).find((l) => l.request?.path.endsWith('n=2'))?.response).toEqual({ status: 200 });
  });

  it('a keep-alive connection whose earlier records the journal dropped is taken up where the log left it', async () => {
    const dir = join(root, 'dropped');
    const all = [0, 1, 2].map((n) => exchange(n, seqOf(n)));
    await daemon(dir, [...(all[0] ?? []), ...(all[1] ?? [])], false);
    // The journal kept none of requests 0 and 1 (dropped: nothing was pending on them).
    const counters = await daemon(dir, all[2] ?? [], true);
    expect(requestLines(dir).map((l) => [l.connection?.request_index, l.request?.path])).toEqual([
      [0, '/latest/meta-data/ami-id?n=0'],
      [1, '/latest/meta-data/ami-id?n=1'],
      [2, '/latest/meta-data/ami-id?n=2'],
    ]);
    expect(counters.streams).toMatchObject({ joined_mid_stream: 0, holes_skipped: 0, bytes_skipped: 0 });
  });

  it('a clean restart while a header block is split across segments logs the request once, never cut short', async () => {
    const dir = join(root, 'split');
    const bytes = new TextEncoder().encode(get(0));
    const cut = 20;
    const segment = (from: number, to: number, tsNs: bigint): KernelRecord => ({
      kind: 'payload',
      tsNs,
      flow: { ...flow, cookie: 8n },
      owner: null,
      socketUid: 0,
      socketCgroupId: 0n,
      seq: 1 + from,
      streamStart: 1,
      wireLength: to - from,
      bytes: bytes.subarray(from, to),
    });
    const first = segment(0, cut, base);
    const rest = segment(cut, bytes.length, base + 5n);
    // Stopped by `systemctl restart` after the first segment: nothing is logged for it.
    await daemon(dir, [first], false, 'handing-over');
    expect(requestLines(dir)).toEqual([]);
    // The next daemon replays the first segment from the journal and reads the rest from the buffer.
    const answer: KernelRecord = {
      kind: 'response',
      tsNs: base + 6n,
      flow: { ...flow, cookie: 8n },
      seq: 1,
      ack: 1 + bytes.length,
      status: 200,
    };
    await daemon(dir, [first, rest, answer], true);
    expect(requestLines(dir).map((l) => [l.imds_version, l.request?.path])).toEqual([
      ['v1', '/latest/meta-data/ami-id?n=0'],
    ]);
  });

  it('pipelined requests completed by one segment are each known again after a restart', async () => {
    const dir = join(root, 'pipelined');
    // A third request has begun: nothing says the connection can be taken up past the first two,
    // so the next daemon parses them again and knows them by their keys.
    const bytes = new TextEncoder().encode(get(0) + get(1) + get(2).slice(0, 12));
    const conn: Flow = { ...flow, cookie: 9n };
    const records: KernelRecord[] = [
      {
        kind: 'payload',
        tsNs: base,
        flow: conn,
        owner: null,
        socketUid: 0,
        socketCgroupId: 0n,
        seq: 1,
        streamStart: 1,
        wireLength: bytes.length,
        bytes,
      },
      { kind: 'response', tsNs: base + 1n, flow: conn, seq: 1, ack: 1 + get(0).length, status: 200 },
      { kind: 'response', tsNs: base + 2n, flow: conn, seq: 500, ack: 1 + get(0).length + get(1).length, status: 200 },
    ];
    await daemon(dir, records, false);
    const counters = await daemon(dir, records, true);
    expect(loggedPaths(dir)).toEqual(['/latest/meta-data/ami-id?n=0', '/latest/meta-data/ami-id?n=1']);
    expect(counters.replayed_duplicates).toBe(2);
  });
});
