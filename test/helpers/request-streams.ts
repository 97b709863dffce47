// Generated HTTP request streams and what the network does to them, for the property tests
// of the reassembly, the parser and the connection tracker.
import fc from 'fast-check';
import type { Segment } from '../../src/logic/tcp-stream.js';

export type ArbitraryValue<A> = A extends fc.Arbitrary<infer T> ? T : never;

const randomCase = (name: string, flips: readonly boolean[]) =>
  Array.from(name, (c, i) => (flips[i % Math.max(flips.length, 1)] ? c.toUpperCase() : c.toLowerCase())).join('');

export const requestArb = fc.record({
  kind: fc.constantFrom('v1', 'v2', 'token-put'),
  path: fc.constantFrom(
    '/latest/meta-data/',
    '/latest/meta-data/X-aws-ec2-metadata-token',
    '/',
    '/1.0/meta-data/',
    '/computeMetadata/v1/',
    '/metadata/instance',
  ),
  nameCase: fc.array(fc.boolean(), { minLength: 1, maxLength: 12 }),
  userAgent: fc.option(
    fc.stringMatching(/^[\x20-\x7e]{1,60}$/).map((s) => s.trim() || 'x'),
    { nil: null },
  ),
  body: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
  bareLf: fc.boolean(),
});
export type GeneratedRequest = ArbitraryValue<typeof requestArb>;

export function render(r: GeneratedRequest): Uint8Array {
  const head = [
    r.kind === 'token-put' ? 'PUT /latest/api/token HTTP/1.1' : `GET ${r.path} HTTP/1.1`,
    'Host: 169.254.169.254', // test data, never dialled
  ];
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

export function concatenated(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** What the network may do: cut points, retransmitted ranges, and how far a segment may be delayed. */
export const networkArb = fc.record({
  isn: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0xffffff00, max: 0xffffffff })),
  cuts: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 30 }),
  retransmits: fc.array(fc.record({ from: fc.nat(), length: fc.integer({ min: 1, max: 200 }), after: fc.nat() }), {
    maxLength: 8,
  }),
  delays: fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 60 }),
});

export function transmit(stream: Uint8Array, net: ArbitraryValue<typeof networkArb>): Segment[] {
  const segment = (from: number, to: number): Segment => ({
    seq: (net.isn + from) >>> 0,
    bytes: stream.subarray(from, to),
    wireLength: to - from,
  });
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
  const keyed = sent.map((s, i) => ({
    s,
    key: i === 0 ? -1 : i + (net.delays[i % Math.max(net.delays.length, 1)] ?? 0),
  }));
  return keyed.sort((a, b) => a.key - b.key).map((k) => k.s);
}
