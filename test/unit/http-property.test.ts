// Whatever the network does to a generated request stream (any cut into
// segments, retransmissions that are re-segmented and overlap, reordering within a window,
// sequence numbers crossing 2^32), the classified requests equal those of the unsegmented stream.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyRequest } from '../../src/logic/classify.js';
import { HttpRequestParser, MAX_PATH_CHARS, MAX_USER_AGENT_CHARS } from '../../src/logic/http-request.js';
import { type Segment, TcpByteStream } from '../../src/logic/tcp-stream.js';
import { concatenated, networkArb, render, requestArb, transmit } from '../helpers/request-streams.js';

/** One line per request: everything the log line takes from the parser and the classifier. */
function classified(segments: readonly Segment[]): string[] {
  const stream = new TcpByteStream();
  const parser = new HttpRequestParser();
  const chunks = [...segments.flatMap((s) => stream.push(s)), ...stream.end()];
  const records = [...chunks.flatMap((c) => parser.push(c)), ...parser.end()];
  return records.map((r) => JSON.stringify([r.method, r.path, r.userAgent, r.hasForwardedFor, classifyRequest(r)]));
}

describe('property: the network does not change the classified requests', () => {
  it('any segmentation, overlapping retransmission, reordering within a window and seq wrap', () => {
    fc.assert(
      fc.property(fc.array(requestArb, { minLength: 1, maxLength: 8 }), networkArb, (requests, net) => {
        const stream = concatenated(requests.map(render));
        const expected = classified([{ seq: net.isn, bytes: stream, wireLength: stream.length }]);
        expect(expected).toHaveLength(requests.length);
        expect(expected.map((line) => JSON.parse(line)[4].imds_version)).toEqual(
          requests.map((r) => (r.kind === 'v1' ? 'v1' : 'v2')),
        );
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
      fc
        .constantFrom(
          'GET /latest/ HTTP/1.1\r\n',
          'get / HTTP/1.1\n',
          '\r\n\r\n',
          '\n\n',
          'Content-Length: 9\r\n',
          'Transfer-Encoding: chunked\r\n',
          ' folded\r\n',
          'ffff\r\n',
          '\0\0\0',
          'X-aws-ec2-metadata-token: t\r\n',
        )
        .map((t) => new TextEncoder().encode(t)),
    );
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 40 }), networkArb, (fragments, net) => {
        const stream = concatenated(fragments);
        fc.pre(stream.length > 0);
        const records = classified(transmit(stream, net));
        expect(records).toEqual(classified([{ seq: net.isn, bytes: stream, wireLength: stream.length }]));
        for (const line of records) {
          const [method, path, userAgent, , c] = JSON.parse(line) as [
            string,
            string,
            string | null,
            boolean,
            { imds_version: string },
          ];
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
