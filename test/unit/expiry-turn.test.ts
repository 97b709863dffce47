// The expiry timer's turns are bounded by time as the drain's are: when thousands of requests
// wait past responseWaitMs, a turn writes them a few at a time until it has worked for
// TURN_BUDGET_MS, the next turns go on, and every request is written exactly once, in its
// connection's order, also when an answer or a shutdown comes in the middle. The pipeline and
// the log sink on real files, on an injected kernel clock.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TURN_BUDGET_MS } from '../../src/capture/drain.js';
import { LongestTurn } from '../../src/capture/longest-turn.js';
import { DEFAULT_CONFIG } from '../../src/config/index.js';
import { Pipeline } from '../../src/daemon/pipeline.js';
import type { LogSink } from '../../src/logging/index.js';
import { openTestSink } from '../helpers/test-sink.js';
import { flowOf, waitingRequests } from '../helpers/waiting-requests.js';

const root = mkdtempSync(join(tmpdir(), 'imds-expiry-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Keep-alive connections with requests sent back to back, none answered (one with more than a turn takes). */
const CONNECTIONS = [...Array.from({ length: 1000 }, () => 2), 1000];
const TOTAL = CONNECTIONS.reduce((sum, n) => sum + n, 0);
/** What writing a line costs at least here, so that the work outlasts a turn on any machine. */
const LINE_COST_MS = 0.05;
/** A deadline for a loaded host: it only ends a wait that would fail anyway. */
const ALL_WRITTEN_WITHIN_MS = 200_000;
/** Kernel time the requests were sent at. */
const SENT_AT_NS = 10_000_000_000n;

/** The sink, each request line made to cost LINE_COST_MS first. */
function slowed(sink: LogSink): LogSink {
  return {
    ...sink,
    request(line) {
      const until = performance.now() + LINE_COST_MS;
      while (performance.now() < until);
      sink.request(line);
    },
  };
}

interface Line {
  event: string;
  connection: { cookie: string; request_index: number };
  response: { status: number } | null;
}
function requestLines(dir: string): Line[] {
  return readdirSync(dir)
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean))
    .map((text) => JSON.parse(text) as Line)
    .filter((line) => line.event === 'imds_request');
}

/** Every request once, each connection's in the order they were sent. */
function expectEachOnceInOrder(lines: Line[]): void {
  const indexes = new Map<string, number[]>();
  for (const { connection: c } of lines) indexes.set(c.cookie, [...(indexes.get(c.cookie) ?? []), c.request_index]);
  expect(lines).toHaveLength(TOTAL);
  const sent = CONNECTIONS.map((requests, i) => [String(i + 1), [...Array(requests).keys()]]);
  expect(Object.fromEntries(indexes)).toEqual(Object.fromEntries(sent));
}

async function waitingPipeline(name: string) {
  const dir = join(root, name);
  const sink = await openTestSink(dir, { rotation: { maxSizeMB: 100, frequency: 'daily', maxFiles: 3 } });
  let monoNs = SENT_AT_NS;
  const config = { ...DEFAULT_CONFIG, logDir: dir, summary: { ...DEFAULT_CONFIG.summary, enabled: false } };
  const pipeline = new Pipeline(config, slowed(sink), '/sys/fs/cgroup', null, null, {
    wallMs: Date.now,
    monoNs: () => monoNs,
  });
  const { records, endSeq } = waitingRequests(CONNECTIONS, monoNs);
  for (let i = 0; i < records.length; i += 32) pipeline.handle(records.slice(i, i + 32));
  pipeline.endOfTurn();
  expect(requestLines(dir)).toEqual([]);
  // Past every request's wait for its answer.
  monoNs += BigInt(config.responseWaitMs + 1) * 1_000_000n;
  const counted = () => {
    const { requests } = pipeline.counters({} as never, 0n, sink.counters(), {
      drainErrors: 0,
      statusWriteErrors: 0,
      longestDrainTurn: new LongestTurn(),
    });
    return requests.v1 + requests.v2 + requests.unknown;
  };
  return { dir, sink, pipeline, endSeq, counted, now: () => monoNs };
}

describe('expiry turns', { timeout: 240_000 }, () => {
  it('yield after the time budget, go on in the next turns and write every expired request once, in order', async () => {
    const { dir, sink, pipeline, endSeq, counted, now } = await waitingPipeline('turns');
    const first = new LongestTurn();
    first.measure(() => pipeline.endOfTurn());
    const firstWritten = counted();
    expect(firstWritten).toBeGreaterThan(0);
    expect(firstWritten).toBeLessThan(TOTAL);
    expect(first.wallMs).toBeGreaterThanOrEqual(TURN_BUDGET_MS);
    // What the pass has not reached still waits on its connection: the journal keeps its records.
    expect(pipeline.neededSinceNs()).toBe(SENT_AT_NS);

    // An answer on the long connection before the pass reached its requests: its earliest waiting one.
    const long = CONNECTIONS.length;
    pipeline.handle([
      { kind: 'response', tsNs: now(), flow: flowOf(long), seq: 1, ack: endSeq.get(long) ?? 0, status: 200 },
    ]);
    const deadline = Date.now() + ALL_WRITTEN_WITHIN_MS;
    while (counted() < TOTAL && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    await sink.close();

    const lines = requestLines(dir);
    console.log(
      `expiry: ${TOTAL} requests expired at once, ${firstWritten} written in the first turn (${first.wallMs.toFixed(1)} ms), the rest in the turns after`,
    );
    expectEachOnceInOrder(lines);
    const answered = lines.filter((line) => line.response !== null);
    expect(answered.map((line) => [line.connection.cookie, line.response])).toEqual([[String(long), { status: 200 }]]);
  });

  it('a shutdown in the middle of a pass writes the rest at once, none twice, and no turn after it writes more', async () => {
    const { dir, sink, pipeline, counted } = await waitingPipeline('shutdown');
    pipeline.endOfTurn();
    expect(counted()).toBeLessThan(TOTAL);
    pipeline.flushAll();
    expect(counted()).toBe(TOTAL);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await sink.close();
    expectEachOnceInOrder(requestLines(dir));
  });
});
