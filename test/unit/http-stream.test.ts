// The pure HTTP core: reassembly, request parsing and v1/v2 classification.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Classification, classifyRequest } from '../../src/logic/classify.js';
import { HttpRequestParser, type HttpRequestRecord } from '../../src/logic/http-request.js';
import { type Segment, TcpByteStream } from '../../src/logic/tcp-stream.js';
import { decodeBytes, printable, splitArgv } from '../../src/logic/text.js';

type ArbitraryValue<A> = A extends fc.Arbitrary<infer T> ? T : never;

const enc = (s: string) => new TextEncoder().encode(s);

function parseSegments(segments: Segment[], end = true): HttpRequestRecord[] {
  const stream = new TcpByteStream();
  const parser = new HttpRequestParser();
  const out: HttpRequestRecord[] = [];
  for (const seg of segments) for (const chunk of stream.push(seg)) out.push(...parser.push(chunk));
  if (end) {
    for (const chunk of stream.end()) out.push(...parser.push(chunk));
    out.push(...parser.end());
  }
  return out;
}

function whole(text: string, seq = 1000): Segment[] {
  const bytes = enc(text);
  return [{ seq, bytes, wireLength: bytes.length }];
}

const summary = (recs: HttpRequestRecord[]) =>
  recs.map((r) => {
    const c: Classification = classifyRequest(r);
    return `${r.method} ${r.path} ${c.imds_version} aws=${c.aws_api} token=${c.token_request}`;
  });

const V1 = 'GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: curl/8.5.0\r\n\r\n';
const V2 = 'GET /latest/meta-data/ HTTP/1.1\r\nX-aws-ec2-metadata-token: AQAAAsecret==\r\n\r\n';
const PUT = 'PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n';

describe('classification', () => {
  it('v1, v2 and the token PUT', () => {
    expect(summary(parseSegments(whole(V1 + V2 + PUT)))).toEqual([
      'GET /latest/meta-data/ v1 aws=true token=false',
      'GET /latest/meta-data/ v2 aws=true token=false',
      'PUT /latest/api/token v2 aws=true token=true',
    ]);
  });

  it('header names are case-insensitive; values and paths never make a request v2', () => {
    const lower = 'GET /latest/meta-data/ HTTP/1.1\r\nx-AWS-ec2-METADATA-token: t\r\n\r\n';
    const inPath =
      'GET /latest/meta-data/X-aws-ec2-metadata-token HTTP/1.1\r\nUser-Agent: X-aws-ec2-metadata-token: x\r\n\r\n';
    expect(summary(parseSegments(whole(lower + inPath)))).toEqual([
      'GET /latest/meta-data/ v2 aws=true token=false',
      'GET /latest/meta-data/X-aws-ec2-metadata-token v1 aws=true token=false',
    ]);
  });

  it('GCP, Azure and OpenStack paths are not the AWS API; dated and 1.0 paths are', () => {
    const reqs = [
      '/computeMetadata/v1/instance/id',
      '/metadata/instance?api-version=2021',
      '/openstack/latest/meta_data.json',
      '/2021-07-15/meta-data/',
      '/1.0/meta-data/',
      '/',
    ]
      .map((p) => `GET ${p} HTTP/1.1\r\n\r\n`)
      .join('');
    expect(parseSegments(whole(reqs)).map((r) => classifyRequest(r).aws_api)).toEqual([
      false,
      false,
      false,
      true,
      true,
      true,
    ]);
  });

  it('a request not fully seen is unknown, never v1', () => {
    const [rec] = parseSegments(whole('GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\n'));
    expect(rec && classifyRequest(rec).imds_version).toBe('unknown');
    expect(rec?.headerBlockComplete).toBe(false);
  });

  it('the record keeps no header value but the User-Agent', () => {
    const [rec] = parseSegments(whole(V2));
    expect(JSON.stringify(rec)).not.toContain('secret');
  });
});

describe('reassembly', () => {
  it('a token header split over three segments is still v2', () => {
    const text = 'GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nX-aws-ec2-metadata-token: abc\r\n\r\n';
    const b = enc(text);
    const cuts = [0, 20, 40, b.length];
    const segs = cuts.slice(0, -1).map((from, i) => ({
      seq: 5000 + from,
      bytes: b.subarray(from, cuts[i + 1]),
      wireLength: (cuts[i + 1] ?? 0) - from,
    }));
    expect(summary(parseSegments(segs, false))).toEqual(['GET /latest/meta-data/ v2 aws=true token=false']);
  });

  it('a retransmitted segment is counted once, across sequence wrap-around', () => {
    const b = enc(V1 + V1);
    const seq = 0xffffffff - 10;
    const half = 70;
    const segs = [
      { seq, bytes: b.subarray(0, half), wireLength: half },
      { seq, bytes: b.subarray(0, half), wireLength: half },
      { seq: (seq + half) >>> 0, bytes: b.subarray(half), wireLength: b.length - half },
      { seq: (seq + half) >>> 0, bytes: b.subarray(half), wireLength: b.length - half },
    ];
    expect(parseSegments(segs)).toHaveLength(2);
  });

  it('out-of-order segments wait for the hole', () => {
    const b = enc(V2);
    const segs = [
      { seq: 100, bytes: b.subarray(0, 10), wireLength: 10 },
      { seq: 130, bytes: b.subarray(30), wireLength: b.length - 30 },
      { seq: 110, bytes: b.subarray(10, 30), wireLength: 20 },
    ];
    expect(summary(parseSegments(segs, false))).toEqual(['GET /latest/meta-data/ v2 aws=true token=false']);
  });

  it('a truncated capture inside the header block makes the request unknown', () => {
    const b = enc(V1);
    expect(summary(parseSegments([{ seq: 1, bytes: b.subarray(0, 40), wireLength: b.length }]))).toEqual([
      'GET /latest/meta-data/ unknown aws=true token=false',
    ]);
  });

  it('a 16 KiB header block is unknown, and the next request is still parsed', () => {
    const huge = `GET /latest/meta-data/ HTTP/1.1\r\nX-Pad: ${'a'.repeat(17000)}\r\n\r\n`;
    expect(summary(parseSegments(whole(huge + V1)))).toEqual([
      'GET /latest/meta-data/ unknown aws=true token=false',
      'GET /latest/meta-data/ v1 aws=true token=false',
    ]);
  });
});

describe('malformed traffic never throws', () => {
  it.each([
    ['random bytes', Uint8Array.from({ length: 300 }, (_, i) => (i * 73 + 11) % 256)],
    ['request line without a version', enc('GET /latest/meta-data/\r\n')],
    ['lower-case method', enc('get /latest/meta-data/ HTTP/1.1\r\n\r\n')],
    ['obsolete folding', enc('GET /latest/ HTTP/1.1\r\nUser-Agent: a\r\n  b\r\n\r\n')],
    ['NUL bytes', enc('GET /latest/\u0000x HTTP/1.1\r\nUser-Agent: \u0000\r\n\r\n')],
  ])('%s', (_name, bytes) => {
    const recs = parseSegments([{ seq: 1, bytes, wireLength: bytes.length }]);
    for (const r of recs) expect(['v1', 'v2', 'unknown']).toContain(classifyRequest(r).imds_version);
  });

  it('documents each case', () => {
    const run = (s: string) => summary(parseSegments(whole(s)));
    expect(run('GET /latest/meta-data/\r\n')).toEqual(['GET /latest/meta-data/ unknown aws=false token=false']);
    expect(run('get /latest/ HTTP/1.1\r\n\r\n')).toEqual(['get /latest/ v1 aws=true token=false']);
    const [folded] = parseSegments(whole('GET /latest/ HTTP/1.1\r\nUser-Agent: a\r\n  b\r\n\r\n'));
    expect(folded?.userAgent).toBe('a b');
  });

  it('bodies with Content-Length and chunked encoding are skipped', () => {
    const post = 'POST /latest/x HTTP/1.1\r\nContent-Length: 5\r\n\r\nGET /';
    const chunked = 'POST /latest/y HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n';
    expect(summary(parseSegments(whole(post + chunked + V1)))).toEqual([
      'POST /latest/x v1 aws=true token=false',
      'POST /latest/y v1 aws=true token=false',
      'GET /latest/meta-data/ v1 aws=true token=false',
    ]);
  });
});

describe('text', () => {
  it('invalid UTF-8 becomes \\xNN escapes; valid text is kept', () => {
    expect(decodeBytes(Uint8Array.from([0x61, 0xff, 0xc3, 0xa9]), 100).text).toBe('a\\xffé');
    expect(decodeBytes(enc('abcdef'), 3)).toEqual({ text: 'abc', truncated: true });
  });
  it('argv splits on NUL and is bounded', () => {
    expect(splitArgv(enc('curl\u0000-s\u0000http://x\u0000'), 10, 100)).toEqual({
      argv: ['curl', '-s', 'http://x'],
      truncated: false,
    });
    expect(splitArgv(enc('a\u0000b\u0000c\u0000'), 2, 100)).toEqual({ argv: ['a', 'b'], truncated: true });
  });
  it('printable makes control characters and ANSI escapes visible', () => {
    expect(printable('a\u001b[31mb\nc\u0007')).toBe('a\\x1b[31mb\\nc\\x07');
  });
});

// Any segmentation, reordering within a window and retransmission of a
// generated request stream classifies exactly like the unsegmented stream.
describe('property: segmentation does not change the result', () => {
  const header = fc.constantFrom(
    'X-aws-ec2-metadata-token',
    'x-aws-ec2-metadata-token',
    'X-AWS-EC2-METADATA-TOKEN',
    'X-aws-ec2-metadata-token-ttl-seconds',
  );
  const request = fc.record({
    kind: fc.constantFrom('v1', 'v2', 'put'),
    tokenHeader: header,
    ua: fc.option(fc.stringMatching(/^[A-Za-z0-9/. ()-]{1,40}$/), { nil: null }),
    path: fc.constantFrom(
      '/latest/meta-data/',
      '/latest/meta-data/iam/security-credentials/',
      '/computeMetadata/v1/',
      '/2021-07-15/dynamic/',
    ),
    body: fc.option(fc.stringMatching(/^[a-z]{1,30}$/), { nil: null }),
  });
  const render = (r: ArbitraryValue<typeof request>) => {
    const lines = [
      r.kind === 'put' ? 'PUT /latest/api/token HTTP/1.1' : `GET ${r.path} HTTP/1.1`,
      'Host: 169.254.169.254',
    ];
    if (r.ua) lines.push(`User-Agent: ${r.ua}`);
    if (r.kind !== 'v1') lines.push(`${r.tokenHeader}: 21600`);
    if (r.body) lines.push(`Content-Length: ${r.body.length}`);
    return `${lines.join('\r\n')}\r\n\r\n${r.body ?? ''}`;
  };

  it('holds for any cut, retransmission and local reordering', () => {
    fc.assert(
      fc.property(
        fc.array(request, { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (reqs, cuts, retransmits, swaps, isn) => {
          const bytes = enc(reqs.map(render).join(''));
          const expected = summary(parseSegments([{ seq: isn, bytes, wireLength: bytes.length }]));
          const segs: Segment[] = [];
          for (let at = 0, i = 0; at < bytes.length; i++) {
            const len = Math.min(cuts[i % cuts.length] ?? 1, bytes.length - at);
            segs.push({ seq: (isn + at) >>> 0, bytes: bytes.subarray(at, at + len), wireLength: len });
            at += len;
          }
          for (const r of retransmits) {
            const s = segs[r % segs.length];
            if (s) segs.splice((r % segs.length) + 1, 0, s);
          }
          // Egress sees a connection's first data segment first (nothing precedes it);
          // any later pair may be swapped.
          for (const sw of swaps) {
            const i = 1 + (sw % segs.length);
            if (i + 1 < segs.length) [segs[i], segs[i + 1]] = [segs[i + 1] as Segment, segs[i] as Segment];
          }
          expect(summary(parseSegments(segs))).toEqual(expected);
          expect(expected).toHaveLength(reqs.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
