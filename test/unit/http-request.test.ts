// HttpRequestParser over reassembled chunks: keep-alive, pipelining, framing, gaps, bounds.
import { describe, expect, it } from 'vitest';
import { classifyRequest } from '../../src/logic/classify.js';
import { HttpRequestParser, type HttpRequestRecord, MAX_HEADER_BLOCK } from '../../src/logic/http-request.js';
import type { StreamChunk } from '../../src/logic/tcp-stream.js';

const data = (text: string): StreamChunk => ({ kind: 'data', bytes: new TextEncoder().encode(text) });

function parse(chunks: StreamChunk[]): HttpRequestRecord[] {
  const parser = new HttpRequestParser();
  return [...chunks.flatMap((c) => parser.push(c)), ...parser.end()];
}
const versions = (recs: HttpRequestRecord[]) =>
  recs.map((r) => `${r.method} ${r.path} ${classifyRequest(r).imds_version}`);

const v1 = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: 169.254.169.254\r\n${extra}\r\n`;
const v2 = (path: string) => v1(path, 'X-aws-ec2-metadata-token: AQAEAtoken==\r\n');

describe('HttpRequestParser', () => {
  it('one keep-alive connection: a v2 GET then a v1 GET, each with its stream offset', () => {
    const first = v2('/latest/meta-data/instance-id');
    const recs = parse([data(first), data(v1('/latest/meta-data/ami-id'))]);
    expect(versions(recs)).toEqual(['GET /latest/meta-data/instance-id v2', 'GET /latest/meta-data/ami-id v1']);
    expect(recs.map((r) => r.streamOffset)).toEqual([0, first.length]);
  });

  it('pipelined requests in one chunk, and requests cut at every byte, give the same records', () => {
    const text = `PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n${v2('/latest/a')}${v1('/latest/b')}`;
    const whole = parse([data(text)]);
    expect(versions(whole)).toEqual(['PUT /latest/api/token v2', 'GET /latest/a v2', 'GET /latest/b v1']);
    expect(parse(Array.from(text, (c) => data(c)))).toEqual(whole);
  });

  it('keeps User-Agent and header names only; X-Forwarded-For is noted', () => {
    const [rec] = parse([
      data(v2('/latest/').replace('Host:', 'User-Agent: aws-cli/2.15.0\r\nX-Forwarded-For: 10.0.0.1\r\nHost:')),
    ]);
    expect(rec).toMatchObject({
      userAgent: 'aws-cli/2.15.0',
      hasForwardedFor: true,
      canaryHeader: false,
      hasTokenHeader: true,
      headerCount: 4,
      httpVersion: 'HTTP/1.1',
    });
    expect(JSON.stringify(rec)).not.toMatch(/AQAEAtoken|10\.0\.0\.1|169\.254/);
  });

  it('a header block ended by bare LF LF is complete', () => {
    expect(versions(parse([data('GET /latest/ HTTP/1.0\nHost: x\n\n')]))).toEqual(['GET /latest/ v1']);
  });

  it('a gap inside a Content-Length body is harmless; a gap inside headers makes the request unknown', () => {
    const post = 'POST /latest/x HTTP/1.1\r\nContent-Length: 20\r\n\r\n0123';
    expect(versions(parse([data(post), { kind: 'gap', length: 16 }, data(v1('/latest/y'))]))).toEqual([
      'POST /latest/x v1',
      'GET /latest/y v1',
    ]);
    const cut = parse([data('GET /latest/z HTTP/1.1\r\nX-aws-'), { kind: 'gap', length: 30 }, data('\r\n\r\n')]);
    expect(cut.map((r) => [r.headerBlockComplete, classifyRequest(r).imds_version])).toEqual([[false, 'unknown']]);
  });

  it('after a gap past the body, parsing resynchronises at the next request line, or yields nothing', () => {
    const post = 'POST /latest/x HTTP/1.1\r\nContent-Length: 4\r\n\r\n';
    expect(
      versions(parse([data(post), { kind: 'gap', length: 50 }, data(`tail of something\r\n${v1('/latest/next')}`)])),
    ).toEqual(['POST /latest/x v1', 'GET /latest/next v1']);
    expect(versions(parse([data(post), { kind: 'gap', length: 50 }, data('no request line here\r\n\r\n')]))).toEqual([
      'POST /latest/x v1',
    ]);
  });

  it('resynchronises only on a well-formed request line: standard method, origin or absolute target, HTTP/1.x', () => {
    const resyncedOn = (line: string) => {
      const parser = new HttpRequestParser(true);
      return versions([
        ...parser.push(data(`X-aws-ec2-metadata-token: AQAEAtoken==\r\n${line}\r\nHost: x\r\n\r\n`)),
        ...parser.end(),
      ]);
    };
    expect(resyncedOn('GET /latest/a HTTP/1.1')).toEqual(['GET /latest/a v1']);
    expect(resyncedOn('GET http://169.254.169.254/latest/a HTTP/1.0')).toEqual([
      'GET http://169.254.169.254/latest/a v1',
    ]);
    for (const notARequestLine of [
      'get /latest/a HTTP/1.1',
      'FETCH /latest/a HTTP/1.1',
      'GET latest/a HTTP/1.1',
      'GET /latest/a HTTP/2.0',
      'GET /latest/a',
    ]) {
      expect({ notARequestLine, records: resyncedOn(notARequestLine) }).toEqual({ notARequestLine, records: [] });
    }
  });

  it('a header line is never a method or a path, not even when it looks like `NAME VALUE`', () => {
    const [rec] = parse([data('X-aws-ec2-metadata-token: AQAEAtoken==\r\nHost: x\r\n\r\n')]);
    expect(rec).toMatchObject({ method: '', path: '', requestLineValid: false });
    expect(JSON.stringify(rec)).not.toContain('AQAEAtoken');
  });

  it('chunked bodies are skipped by their sizes; an unparsable or oversized size resynchronises', () => {
    const chunked = (sizes: string) => `POST /latest/c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n${sizes}`;
    expect(
      versions(parse([data(chunked('4;ext=1\r\nGET \r\n0\r\nTrailer: t\r\n\r\n') + v1('/latest/after'))])),
    ).toEqual(['POST /latest/c v1', 'GET /latest/after v1']);
    for (const bad of ['zz\r\n', 'fffffffffffffffffff\r\n', `${'1'.repeat(2000)}`]) {
      expect(versions(parse([data(`${chunked(bad)}junk\r\n${v1('/latest/resync')}`)]))).toEqual([
        'POST /latest/c v1',
        'GET /latest/resync v1',
      ]);
    }
  });

  it('conflicting Content-Length values are unparsable framing: resynchronise', () => {
    const bad = 'POST /latest/x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd';
    // The request glued to the unknown body is not guessed; the next one on its own line is found.
    expect(versions(parse([data(bad + v1('/latest/y') + v1('/latest/z'))]))).toEqual([
      'POST /latest/x v1',
      'GET /latest/z v1',
    ]);
  });

  it('a header block over the bound is reported incomplete without buffering the rest', () => {
    const parser = new HttpRequestParser();
    const recs = parser.push(data(`GET /latest/ HTTP/1.1\r\nX-Pad: ${'a'.repeat(MAX_HEADER_BLOCK)}`));
    expect(recs.map((r) => r.headerBlockComplete)).toEqual([false]);
    expect(parser.push(data('a'.repeat(100_000)))).toEqual([]);
    expect(parser.end()).toEqual([]);
  });

  it('a stream of CRs without a LF is bounded like any header block', () => {
    const parser = new HttpRequestParser();
    expect(parser.push(data('\r'.repeat(MAX_HEADER_BLOCK + 1))).map((r) => r.headerBlockComplete)).toEqual([false]);
    expect(parser.push(data(`\r\n${'GET /latest/ HTTP/1.1\r\n\r\n'}`)).map((r) => r.path)).toEqual(['/latest/']);
  });

  it('end() flushes a half-sent request as incomplete; a connection closed between requests flushes nothing', () => {
    expect(
      parse([data('GET /latest/meta-data/ HT')]).map((r) => [r.method, r.path, r.httpVersion, r.headerBlockComplete]),
    ).toEqual([['GET', '/latest/meta-data/', null, false]]);
    expect(parse([data(v1('/latest/'))])).toHaveLength(1);
  });

  it('long paths and User-Agents are bounded and marked truncated', () => {
    const [rec] = parse([data(v1(`/latest/${'p'.repeat(5000)}`, `User-Agent: ${'u'.repeat(5000)}\r\n`))]);
    expect(rec?.path.length).toBeLessThan(5000);
    expect(rec?.userAgent?.length).toBeLessThan(5000);
    expect(rec?.truncated).toEqual(['path', 'user_agent']);
  });
});
