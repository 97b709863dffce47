// Issue 9 item 3: whatever the network does to a generated request stream (any cut into
// segments, retransmissions that are re-segmented and overlap, reordering within a window,
// sequence numbers crossing 2^32), the classified requests equal those of the unsegmented stream.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyRequest } from '../../src/logic/classify.js';
import { HttpRequestParser, MAX_PATH_CHARS, MAX_USER_AGENT_CHARS } from '../../src/logic/http-request.js';
import { type Segment, TcpByteStream } from '../../src/logic/tcp-stream.js';

type ArbitraryValue<A> = A extends fc.Arbitrary<infer T> ? T : never;

/** One line per request: everything the log line takes from the parser and the classifier. */
function classified(segments: readonly Segment[]): string[] {
  const stream = new TcpByteStream();
  const parser = new HttpRequestParser();
  const chunks = [...segments.flatMap((s) => stream.push(s)), ...stream.end()];
  const records = [...chunks.flatMap((c) => parser.push(c)), ...parser.end()];
  return records.map((r) => JSON.stringify([r.method, r.path, r.userAgent, r.hasForwardedFor, classifyRequest(r)]));
}

const randomCase = (name: string, flips: readonly boolean[]) =>
  Array.from(name, (c, i) => (flips[i % Math.max(flips.length, 1)] ? c.toUpperCase() : c.toLowerCase())).join('');

const requestArb = fc.record({
  kind: fc.constantFrom('v1', 'v2', 'token-put'),
  path: fc.constantFrom('/latest/meta-data/', '/latest/meta-data/X-aws-ec2-metadata-token', '/', '/1.0/meta-data/', '/computeMetadata/v1/', '/metadata/instance'),
  nameCase: fc.array(fc.boolean(), { minLength: 1, maxLength: 12 }),
  userAgent: fc.option(fc.stringMatching(/^[\x20-\x7e]{1,60}$/).map((s) => s.trim() || 'x'), { nil: null }),
  body: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
  bareLf: fc.boolean(),
});
type GeneratedRequest = ArbitraryValue<typeof requestArb>;

function render(r: GeneratedRequest): Uint8Array {
  const head = [r.kind === 'token-put' ? 'PUT /latest/api/token HTTP/1.1' : `GET ${r.path} HTTP/1.1`, 'Host: 169.254.169.254'];
  if (r.userAgent !== null) head.push(`${randomCase('user-agent', r.nameCase)}: ${r.userAgent}`);
  if (r.kind === 'v2') head.push(`${randomCase('x-aws-ec2-metadata-token', r.nameCase)}: AQAEAsecret==`);
  if (r.kind === 'token-put') head.push(`${randomCase('x-aws-ec2-metadata-token-ttl-seconds', r.nameCase)}: 21600`);
  if (r.body !== null) head.push(`Content-Length: ${r.body.length}`);
  const eol = r.bareLf ? '\n' : '\r\n';
  const text = new TextEncoder().encode(head.join(eol) + eol + eol);
  const out = new Uint8Array(text.length + (r.body?.length ?? 0));
  out.set(text);
  if (r.body) out.set(r.body, text.length);
  return out;
}

function concatenated(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

/** What the network may do: cut points, retransmitted ranges, and how far a segment may be delayed. */
const networkArb = fc.record({
  isn: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0xffffff00, max: 0xffffffff })),
  cuts: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 30 }),
  retransmits: fc.array(fc.record({ from: fc.nat(), length: fc.integer({ min: 1, max: 200 }), after: fc.nat() }), { maxLength: 8 }),
  delays: fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 60 }),
});

function transmit(stream: Uint8Array, net: ArbitraryValue<typeof networkArb>): Segment[] {
  const segment = (from: number, to: number): Segment => ({ seq: (net.isn + from) >>> 0, bytes: stream.subarray(from, to), wireLength: to - from });
  const sent: Segment[] = [];
  for (let at = 0, i = 0; at < stream.length; i++) {
    const to = Math.min(stream.length, at + (net.cuts[i % net.cuts.length] ?? 1));
    sent.push(segment(at, to));
    at = to;
  }
  // A retransmission covers an arbitrary range already sent (re-segmented, overlapping
  // the originals) and goes out some time after the original bytes.
  for (const r of net.retransmits) {
    const from = r.from % stream.length;
    const to = Math.min(stream.length, from + r.length);
    const firstAfter = sent.findIndex((s) => ((s.seq - net.isn) >>> 0) + s.wireLength >= to);
    const position = firstAfter + 1 + (r.after % (sent.length - firstAfter));
    sent.splice(position, 0, segment(from, to));
  }
  // Reordering within a window: each segment after the first may be overtaken by the next few.
  const keyed = sent.map((s, i) => ({ s, key: i === 0 ? -1 : i + (net.delays[i % Math.max(net.delays.length, 1)] ?? 0) }));
  return keyed.sort((a, b) => a.key - b.key).map((k) => k.s);
}

describe('property: the network does not change the classified requests', () => {
  it('any segmentation, overlapping retransmission, reordering within a window and seq wrap', () => {
    fc.assert(
      fc.property(fc.array(requestArb, { minLength: 1, maxLength: 8 }), networkArb, (requests, net) => {
        const stream = concatenated(requests.map(render));
        const expected = classified([{ seq: net.isn, bytes: stream, wireLength: stream.length }]);
        expect(expected).toHaveLength(requests.length);
        expect(expected.map((line) => JSON.parse(line)[4].imds_version)).toEqual(requests.map((r) => (r.kind === 'v1' ? 'v1' : 'v2')));
        expect(classified(transmit(stream, net))).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('no record holds the token value, whatever the segmentation', () => {
    fc.assert(
      fc.property(fc.array(requestArb, { minLength: 1, maxLength: 4 }), networkArb, (requests, net) => {
        const stream = concatenated(requests.map(render));
        expect(classified(transmit(stream, net)).join('\n')).not.toContain('AQAEAsecret');
      }),
      { numRuns: 100 },
    );
  });

  it('arbitrary bytes (random, NUL-heavy, request-like fragments) never throw and give bounded, decidable records', () => {
    const fragment = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.constantFrom('GET /latest/ HTTP/1.1\r\n', 'get / HTTP/1.1\n', '\r\n\r\n', '\n\n', 'Content-Length: 9\r\n', 'Transfer-Encoding: chunked\r\n', ' folded\r\n', 'ffff\r\n', '\0\0\0', 'X-aws-ec2-metadata-token: t\r\n').map((t) => new TextEncoder().encode(t)),
    );
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 40 }), networkArb, (fragments, net) => {
        const stream = concatenated(fragments);
        fc.pre(stream.length > 0);
        const records = classified(transmit(stream, net));
        expect(records).toEqual(classified([{ seq: net.isn, bytes: stream, wireLength: stream.length }]));
        for (const line of records) {
          const [method, path, userAgent, , c] = JSON.parse(line) as [string, string, string | null, boolean, { imds_version: string }];
          expect(['v1', 'v2', 'unknown']).toContain(c.imds_version);
          expect(path.length).toBeLessThanOrEqual(MAX_PATH_CHARS);
          expect(method.length).toBeLessThanOrEqual(32);
          expect((userAgent ?? '').length).toBeLessThanOrEqual(MAX_USER_AGENT_CHARS);
        }
      }),
      { numRuns: 300 },
    );
  });
});
