// ConnectionTracker: responses matched by sequence numbers, holes
// that never hide the requests behind them, and connections joined mid-stream.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Flow, PayloadRecord, ResponseRecord } from '../../src/model/records.js';
import {
  CLOSED_MEMORY_NS,
  HOLE_WAIT_NS,
  IDLE_CONNECTION_NS,
  type ObservedRequest,
  ConnectionTracker,
} from '../../src/logic/connections.js';
import { concatenated, render, requestArb } from '../helpers/request-streams.js';

const flow: Flow = { cookie: 9n, family: 'ipv4', address: '169.254.169.254', port: 80 };
const WAIT = 1000n;
const enc = (text: string) => new TextEncoder().encode(text);

function payload(seq: number, bytes: Uint8Array, tsNs: bigint, streamStart: number | null = 1): PayloadRecord {
  return {
    kind: 'payload',
    tsNs,
    flow,
    owner: null,
    socketUid: 0,
    socketCgroupId: 0n,
    seq: seq >>> 0,
    streamStart,
    wireLength: bytes.length,
    bytes,
  };
}
const response = (seq: number, ack: number, status: number, tsNs: bigint): ResponseRecord => ({
  kind: 'response',
  tsNs,
  flow,
  seq: seq >>> 0,
  ack: ack >>> 0,
  status,
});
const statuses = (done: ObservedRequest[]) => done.map((r) => [r.index, r.request.path, r.status]);

const get = (path: string, token = false) =>
  `GET ${path} HTTP/1.1\r\nHost: 169.254.169.254\r\n${token ? 'X-aws-ec2-metadata-token: AQAEAsecret==\r\n' : ''}\r\n`;

describe('responses are matched by sequence number', () => {
  it('a retransmitted response does not shift later statuses', () => {
    const t = new ConnectionTracker(WAIT);
    const a = get('/latest/meta-data/');
    const b = get('/latest/meta-data/ami-id');
    t.onPayload(payload(1, enc(a), 10n));
    t.onResponse(response(5000, 1 + a.length, 200, 11n));
    t.onPayload(payload(1 + a.length, enc(b), 12n));
    // IMDS did not see our ACK and sends the first response again, acking the second request.
    t.onResponse(response(5000, 1 + a.length + b.length, 200, 13n));
    t.onResponse(response(5300, 1 + a.length + b.length, 401, 14n));
    expect(statuses(t.takeCompleted(15n))).toEqual([
      [0, '/latest/meta-data/', 200],
      [1, '/latest/meta-data/ami-id', 401],
    ]);
    expect(t.counters().responses_retransmitted).toBe(1);
  });

  it('a response resent after the client closed is a retransmission, for as long as a closed socket takes data', () => {
    const t = new ConnectionTracker(WAIT);
    const a = get('/latest/meta-data/');
    t.onPayload(payload(1, enc(a), 10n));
    t.onResponse(response(5000, 1 + a.length, 200, 11n));
    t.onClose({ kind: 'close', tsNs: 12n, flow, reset: false });
    expect(statuses(t.takeCompleted(13n))).toEqual([[0, '/latest/meta-data/', 200]]);
    expect(t.trackedConnections).toBe(0);
    t.onResponse(response(5000, 1 + a.length, 200, 14n));
    expect(t.counters()).toMatchObject({ responses_retransmitted: 1, responses_unmatched: 0 });
    // Past the memory, the same copy can no longer be told from an answer to an unseen request.
    t.takeCompleted(12n + CLOSED_MEMORY_NS);
    t.onResponse(response(5000, 1 + a.length, 200, 13n + CLOSED_MEMORY_NS));
    expect(t.counters()).toMatchObject({ responses_retransmitted: 1, responses_unmatched: 1 });
    expect(t.takeCompleted(14n + CLOSED_MEMORY_NS)).toEqual([]);
  });

  it('a response on a connection never seen is counted as unmatched, never logged', () => {
    const t = new ConnectionTracker(WAIT);
    t.onResponse(response(5000, 80, 200, 10n));
    expect(t.counters()).toMatchObject({ responses_unmatched: 1, joined_mid_stream: 0 });
    expect(t.takeCompleted(10n + WAIT)).toEqual([]);
    expect(t.trackedConnections).toBe(0);
  });

  it('a new response after close (its request unseen) is unmatched, not a retransmission', () => {
    const t = new ConnectionTracker(WAIT);
    const a = get('/a');
    t.onPayload(payload(1, enc(a), 10n));
    t.onResponse(response(5000, 1 + a.length, 200, 11n));
    t.onClose({ kind: 'close', tsNs: 12n, flow, reset: false });
    t.onResponse(response(5300, 1 + a.length, 404, 13n));
    expect(t.counters()).toMatchObject({ responses_retransmitted: 0, responses_unmatched: 1 });
  });

  it('a late answer to a timed-out request is not given to the next one', () => {
    const t = new ConnectionTracker(WAIT);
    const a = get('/a');
    t.onPayload(payload(1, enc(a), 10n));
    expect(t.nextDeadline()).toBe(10n + WAIT);
    expect(statuses(t.takeCompleted(10n + WAIT))).toEqual([[0, '/a', null]]);
    t.onResponse(response(100, 1 + a.length, 404, 1011n));
    t.onPayload(payload(1 + a.length, enc(get('/b')), 1012n));
    t.onResponse(response(300, 1 + 2 * a.length, 401, 1013n));
    expect(statuses(t.takeCompleted(1014n))).toEqual([[1, '/b', 401]]);
  });

  it('pipelined requests are answered in order', () => {
    const t = new ConnectionTracker(WAIT);
    const both = get('/a') + get('/b');
    t.onPayload(payload(1, enc(both), 10n));
    t.onResponse(response(100, 1 + both.length, 200, 11n));
    t.onResponse(response(200, 1 + both.length, 404, 12n));
    expect(statuses(t.takeCompleted(13n))).toEqual([
      [0, '/a', 200],
      [1, '/b', 404],
    ]);
  });

  it('a response whose request was lost in a hole goes to no other request, and is counted', () => {
    const t = new ConnectionTracker(WAIT);
    const [a, lost, c] = [get('/a'), get('/lost'), get('/c')];
    t.onPayload(payload(1, enc(a), 10n));
    t.onResponse(response(100, 1 + a.length, 200, 11n));
    // The record of /lost never arrives; its response does, then /c and its response.
    t.onResponse(response(200, 1 + a.length + lost.length, 404, 13n));
    t.onPayload(payload(1 + a.length + lost.length, enc(c), 14n));
    t.onResponse(response(300, 1 + a.length + lost.length + c.length, 401, 15n));
    expect(statuses(t.takeCompleted(16n))).toEqual([[0, '/a', 200]]);
    expect(statuses(t.takeCompleted(16n + HOLE_WAIT_NS))).toEqual([[1, '/c', 401]]);
    t.takeCompleted(16n + HOLE_WAIT_NS + WAIT + HOLE_WAIT_NS);
    expect(t.counters()).toMatchObject({ holes_skipped: 1, hole_bytes: lost.length, responses_unmatched: 1 });
  });
});

describe('a hole never hides the requests behind it', () => {
  const [a, b, c] = [get('/a'), get('/b'), get('/c')];
  const behindHole = (t: ConnectionTracker) => {
    t.onPayload(payload(1, enc(a), 10n));
    // b's record is lost; c waits behind the hole.
    t.onPayload(payload(1 + a.length + b.length, enc(c), 20n));
    return t;
  };
  const paths = (done: ObservedRequest[]) => done.map((r) => [r.request.path, r.classification.imds_version]);

  it('given up when its wait runs out', () => {
    const t = behindHole(new ConnectionTracker(WAIT));
    expect(paths(t.takeCompleted(20n))).toEqual([]);
    expect(t.nextDeadline()).toBe(10n + WAIT);
    expect(paths(t.takeCompleted(10n + WAIT))).toEqual([['/a', 'v1']]);
    expect(t.nextDeadline()).toBe(20n + HOLE_WAIT_NS);
    t.takeCompleted(20n + HOLE_WAIT_NS);
    expect(paths(t.takeCompleted(20n + HOLE_WAIT_NS + WAIT))).toEqual([['/c', 'v1']]);
  });

  it('given up on close', () => {
    const t = behindHole(new ConnectionTracker(WAIT));
    t.onClose({ kind: 'close', tsNs: 30n, flow, reset: false });
    expect(paths(t.takeCompleted(30n + WAIT))).toEqual([
      ['/a', 'v1'],
      ['/c', 'v1'],
    ]);
    expect(t.trackedConnections).toBe(0);
    expect(t.counters()).toMatchObject({ holes_skipped: 1, hole_bytes: b.length });
  });

  it('given up at shutdown and on idle flush', () => {
    expect(paths(behindHole(new ConnectionTracker(WAIT)).flushAll())).toEqual([
      ['/a', 'v1'],
      ['/c', 'v1'],
    ]);
    // With a response wait longer than the hole wait, only idleness ends it.
    const idle = behindHole(new ConnectionTracker(IDLE_CONNECTION_NS * 2n));
    expect(paths(idle.takeCompleted(20n + IDLE_CONNECTION_NS))).toEqual([
      ['/a', 'v1'],
      ['/c', 'v1'],
    ]);
  });

  it('a lost first record: the stream start is known, the rest is parsed from the next request line', () => {
    const t = new ConnectionTracker(WAIT);
    t.onPayload(payload(1 + a.length, enc(b), 10n));
    expect(paths(t.flushAll())).toEqual([['/b', 'v1']]);
  });
});

describe('a connection joined mid-stream', () => {
  it('header bytes never become a request, and the next request is logged', () => {
    const t = new ConnectionTracker(WAIT);
    // The request line went out before we attached; the token header and the next request after.
    const tail = 'X-aws-ec2-metadata-token: AQAEAsecret==\r\nUser-Agent: x\r\n\r\n';
    t.onPayload(payload(5000, enc(tail), 10n, null));
    t.onPayload(payload(5000 + tail.length, enc(get('/latest/meta-data/ami-id')), 11n, null));
    const done = t.flushAll();
    expect(done.map((r) => [r.request.method, r.request.path, r.classification.imds_version])).toEqual([
      ['GET', '/latest/meta-data/ami-id', 'v1'],
    ]);
    expect(JSON.stringify(done, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain('AQAEAsecret');
    expect(t.counters()).toMatchObject({ joined_mid_stream: 1, bytes_skipped: tail.length });
  });

  it('a header line that looks like `NAME VALUE` is no version-less request', () => {
    const t = new ConnectionTracker(WAIT);
    t.onPayload(payload(1, enc('X-aws-ec2-metadata-token: AQAEAsecret==\r\n'), 10n));
    t.onClose({ kind: 'close', tsNs: 11n, flow, reset: false });
    const done = t.takeCompleted(11n + WAIT);
    expect(done.map((r) => [r.request.method, r.request.path, r.classification.imds_version])).toEqual([
      ['', '', 'unknown'],
    ]);
  });
});

describe('property: any hole, any segmentation', () => {
  const endings = ['close', 'shutdown', 'wait'] as const;
  it('every request whose header block was fully seen is logged, in order, and nothing else is v1 or v2', () => {
    fc.assert(
      fc.property(
        fc.array(
          requestArb.map((r) => ({ ...r, body: null })),
          { minLength: 1, maxLength: 8 },
        ),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.boolean(),
        fc.constantFrom(...endings),
        (requests, cuts, dropped, isn, startKnown, ending) => {
          const parts = requests.map(render);
          const stream = concatenated(parts);
          const t = new ConnectionTracker(WAIT);
          const lost: Array<[number, number]> = [];
          for (let at = 0, i = 0, ts = 1n; at < stream.length; i++, ts++) {
            const to = Math.min(stream.length, at + (cuts[i % cuts.length] ?? 1));
            if (dropped[i % dropped.length]) lost.push([at, to]);
            else t.onPayload(payload(isn + 1 + at, stream.subarray(at, to), ts, startKnown ? (isn + 1) >>> 0 : null));
            at = to;
          }
          let done: ObservedRequest[];
          if (ending === 'close') {
            t.onClose({ kind: 'close', tsNs: 10_000n, flow, reset: false });
            done = t.takeCompleted(10_000n + WAIT);
          } else if (ending === 'shutdown') {
            done = t.flushAll();
          } else {
            done = [...t.takeCompleted(10_000n + HOLE_WAIT_NS), ...t.takeCompleted(10_000n + HOLE_WAIT_NS + WAIT)];
          }
          // Which requests had every byte of their header block seen (no body here).
          let offset = 0;
          const seen: string[] = [];
          requests.forEach((request, i) => {
            const [from, to] = [offset, offset + (parts[i]?.length ?? 0)];
            offset = to;
            if (!lost.some(([a, b]) => a < to && b > from)) seen.push(JSON.stringify(requestKey(request)));
          });
          const known = done.filter((r) => r.classification.imds_version !== 'unknown');
          expect(
            known.map((r) => JSON.stringify([r.request.method, r.request.path, r.classification.imds_version])),
          ).toEqual(seen);
          expect(JSON.stringify(done.map((r) => r.request))).not.toContain('AQAEAsecret');
        },
      ),
      { numRuns: 1000 },
    );
  });
});

function requestKey(r: { kind: string; path: string }) {
  return r.kind === 'token-put' ? ['PUT', '/latest/api/token', 'v2'] : ['GET', r.path, r.kind === 'v1' ? 'v1' : 'v2'];
}

describe('an idle keep-alive connection', () => {
  const a = get('/latest/meta-data/');
  const b = get('/latest/meta-data/ami-id');
  it('resumes from the next byte it expects after its idle flush: no phantom hole, the request index goes on', () => {
    const t = new ConnectionTracker(WAIT);
    t.onPayload(payload(1, enc(a), 10n));
    t.onResponse(response(5000, 1 + a.length, 200, 11n));
    expect(statuses(t.takeCompleted(12n))).toEqual([[0, '/latest/meta-data/', 200]]);
    // Idle past the flush: forgotten, with where its stream stood.
    expect(t.takeCompleted(11n + IDLE_CONNECTION_NS)).toEqual([]);
    expect(t.trackedConnections).toBe(0);
    // A resent copy of the answer given before the flush answers a request seen: not unmatched.
    t.onResponse(response(5000, 1 + a.length, 200, 12n + IDLE_CONNECTION_NS));
    expect(t.counters()).toMatchObject({ responses_unmatched: 0 });
    const later = 20n + IDLE_CONNECTION_NS;
    t.onPayload(payload(1 + a.length, enc(b), later));
    t.onResponse(response(5300, 1 + a.length + b.length, 200, later + 1n));
    const done = t.takeCompleted(later + 2n);
    expect(statuses(done)).toEqual([[1, '/latest/meta-data/ami-id', 200]]);
    expect(done[0]?.startSeq).toBe(1 + a.length);
    expect(t.counters()).toMatchObject({
      holes_skipped: 0,
      hole_bytes: 0,
      bytes_skipped: 0,
      joined_mid_stream: 0,
      responses_unmatched: 0,
    });
  });

  it('flushed mid-request: what follows is parsed from the next request line, nothing is made up', () => {
    const t = new ConnectionTracker(WAIT);
    const head = 'GET /latest/meta-data/iam/ HTTP/1.1\r\nHost: 169.254.169.254\r\n';
    t.onPayload(payload(1, enc(head), 10n));
    // The cut request is reported incomplete at the flush.
    expect(t.takeCompleted(10n + IDLE_CONNECTION_NS).map((r) => r.request.headerBlockComplete)).toEqual([false]);
    const later = 20n + IDLE_CONNECTION_NS;
    t.onPayload(payload(1 + head.length, enc(`\r\n${b}`), later));
    expect(t.flushAll().map((r) => [r.request.path, r.classification.imds_version])).toEqual([
      ['/latest/meta-data/ami-id', 'v1'],
    ]);
    expect(t.counters()).toMatchObject({ holes_skipped: 0, joined_mid_stream: 0 });
  });

  it('a close while idle forgets it: a new connection with the same cookie starts afresh', () => {
    const t = new ConnectionTracker(WAIT);
    t.onPayload(payload(1, enc(a), 10n));
    t.takeCompleted(10n + IDLE_CONNECTION_NS);
    t.onClose({ kind: 'close', tsNs: 11n + IDLE_CONNECTION_NS, flow, reset: false });
    t.onPayload(payload(1, enc(b), 12n + IDLE_CONNECTION_NS));
    expect(t.flushAll().map((r) => [r.index, r.request.path])).toEqual([[0, '/latest/meta-data/ami-id']]);
  });
});

describe('a stop the next daemon takes over from', () => {
  it('completes the requests waiting for a response, and leaves a request still arriving and data behind a hole', () => {
    const t = new ConnectionTracker(WAIT);
    const a = get('/latest/meta-data/');
    const b = get('/latest/meta-data/ami-id');
    t.onPayload(payload(1, enc(a), 10n));
    // Half of b's header block, and a segment behind a hole.
    t.onPayload(payload(1 + a.length, enc(b.slice(0, 20)), 11n));
    t.onPayload({ ...payload(5000, enc(get('/x')), 12n), flow: { ...flow, cookie: 10n } });
    t.onPayload({ ...payload(1, enc('GET /y'), 13n), flow: { ...flow, cookie: 10n } });
    expect(t.completeWaiting().map((r) => [r.request.path, r.status])).toEqual([['/latest/meta-data/', null]]);
    expect(t.counters()).toMatchObject({ holes_skipped: 0, hole_bytes: 0 });
    expect(t.oldestNeededNs()).toBe(10n);
  });

  it('the oldest record still needed: the first since a connection last had nothing pending', () => {
    const t = new ConnectionTracker(WAIT);
    expect(t.oldestNeededNs()).toBeNull();
    const a = get('/latest/meta-data/');
    t.onPayload(payload(1, enc(a), 10n));
    t.onPayload({ ...payload(1, enc(a), 20n), flow: { ...flow, cookie: 10n } });
    expect(t.oldestNeededNs()).toBe(10n);
    // Answered: a keep-alive connection with nothing pending needs none of its records again.
    t.onResponse(response(5000, 1 + a.length, 200, 21n));
    expect(t.oldestNeededNs()).toBe(20n);
    t.onPayload(payload(1 + a.length, enc(a.slice(0, 9)), 30n));
    expect(t.oldestNeededNs()).toBe(20n);
    t.onResponse({ ...response(5000, 1 + a.length, 200, 31n), flow: { ...flow, cookie: 10n } });
    expect(t.oldestNeededNs()).toBe(30n);
  });
});

describe('where a later daemon takes a connection up', () => {
  const a = get('/latest/meta-data/');
  const b = get('/latest/meta-data/ami-id');
  it('a request completed with nothing else pending says where its connection stood; one followed by more does not', () => {
    const t = new ConnectionTracker(WAIT);
    t.onPayload(payload(1, enc(a + b.slice(0, 10)), 10n));
    t.onResponse(response(5000, 1 + a.length, 200, 11n));
    // b is still arriving: a's line cannot say all before is done with.
    expect(t.takeCompleted(12n).map((r) => r.resumeSeq)).toEqual([null]);
    t.onPayload(payload(1 + a.length + 10, enc(b.slice(10)), 13n));
    t.onResponse(response(5300, 1 + a.length + b.length, 200, 14n));
    expect(t.takeCompleted(15n).map((r) => r.resumeSeq)).toEqual([1 + a.length + b.length]);
  });

  it("taken up where the previous daemon logged it: no hole, its answers are no one else's, the index goes on", () => {
    const t = new ConnectionTracker(WAIT);
    const at = 1 + a.length;
    t.resumeFrom(new Map([[flow.cookie, { seq: at, nextIndex: 1 }]]));
    // The journal still held the end of request 0 and its answer; then request 1 comes.
    t.onPayload(payload(20, enc(a.slice(19)), 10n));
    t.onResponse(response(5000, at, 200, 11n));
    t.onPayload(payload(at, enc(b), 12n));
    t.onResponse(response(5300, at + b.length, 200, 13n));
    const done = t.takeCompleted(14n);
    expect(statuses(done)).toEqual([[1, '/latest/meta-data/ami-id', 200]]);
    expect(t.counters()).toMatchObject({
      holes_skipped: 0,
      bytes_skipped: 0,
      joined_mid_stream: 0,
      responses_unmatched: 0,
      responses_retransmitted: 0,
    });
  });

  it('an answer to a request the previous daemon logged, on a connection not seen again: not unmatched', () => {
    const t = new ConnectionTracker(WAIT);
    t.resumeFrom(new Map([[flow.cookie, { seq: 1 + a.length, nextIndex: 1 }]]));
    t.onResponse(response(5000, 1 + a.length, 200, 11n));
    expect(t.counters().responses_unmatched).toBe(0);
    // One acknowledging bytes it never logged is unmatched.
    t.onResponse(response(5300, 1 + a.length + 10, 200, 12n));
    expect(t.counters().responses_unmatched).toBe(1);
  });
});
