// TcpByteStream: what reaches the parser when segments are lost, cut short, repeated or late.
import { describe, expect, it } from 'vitest';
import {
  MAX_PENDING_BYTES,
  MAX_PENDING_SEGMENTS,
  type Segment,
  type StreamChunk,
  TcpByteStream,
} from '../../src/logic/tcp-stream.js';

const bytesOf = (text: string) => new TextEncoder().encode(text);
const seg = (seq: number, text: string, wireLength = text.length): Segment => ({
  seq: seq >>> 0,
  bytes: bytesOf(text),
  wireLength,
});

/** Chunks as text: data as its bytes, a gap as <gap N>. */
function render(chunks: StreamChunk[]): string {
  return chunks.map((c) => (c.kind === 'data' ? new TextDecoder().decode(c.bytes) : `<gap ${c.length}>`)).join('');
}
function run(segments: Segment[]): string {
  const stream = new TcpByteStream();
  return render([...segments.flatMap((s) => stream.push(s)), ...stream.end()]);
}

describe('TcpByteStream', () => {
  it('a re-segmented retransmission delivers only its new bytes', () => {
    expect(run([seg(100, 'abcd'), seg(102, 'cdefg'), seg(100, 'abcdefgh'), seg(108, 'ij')])).toBe('abcdefghij');
  });

  it('sequence numbers wrap at 2^32, with a segment held across the wrap', () => {
    const isn = 0xfffffffc;
    expect(run([seg(isn, 'ab'), seg(isn + 4, 'ef'), seg(isn + 2, 'cd'), seg(isn + 2, 'cdef')])).toBe('abcdef');
  });

  it('a truncated capture becomes a gap of the uncaptured bytes, and the stream goes on after it', () => {
    expect(run([seg(1, 'GET /', 12), seg(13, 'next')])).toBe('GET /<gap 7>next');
  });

  it('a hole still open at the end is a gap before the late data', () => {
    expect(run([seg(10, 'ab'), seg(20, 'xyz')])).toBe('ab<gap 8>xyz');
  });

  it('zero-length segments and duplicate held segments change nothing', () => {
    expect(run([seg(5, 'a'), seg(6, '', 0), seg(8, 'c'), seg(8, 'c'), seg(6, 'b', 1), seg(7, 'x')])).toBe('abxc');
  });

  it('more held segments than MAX_PENDING_SEGMENTS give the hole up as a gap', () => {
    const stream = new TcpByteStream();
    expect(stream.push(seg(0, 'a'))).toHaveLength(1);
    const held = Array.from({ length: MAX_PENDING_SEGMENTS }, (_, i) => seg(10 + i, 'b'));
    expect(held.flatMap((s) => stream.push(s))).toEqual([]);
    const out = render(stream.push(seg(10 + MAX_PENDING_SEGMENTS, 'c')));
    expect(out).toBe(`<gap 9>${'b'.repeat(MAX_PENDING_SEGMENTS)}c`);
    // The hole's bytes arriving now are old news.
    expect(stream.push(seg(1, 'lateeeeee'))).toEqual([]);
  });

  it('more held bytes than MAX_PENDING_BYTES give the hole up as a gap', () => {
    const stream = new TcpByteStream();
    stream.push(seg(0, 'a'));
    const big = 'x'.repeat(MAX_PENDING_BYTES / 2);
    expect(stream.push(seg(2, big))).toEqual([]);
    expect(stream.push(seg(3 + big.length, big))).toEqual([]);
    const sizes = (chunks: StreamChunk[]) => chunks.map((c) => (c.kind === 'gap' ? c.length : -c.bytes.length));
    // Only the first hole is given up: that is enough to get back under the bound.
    expect(sizes(stream.push(seg(4 + 2 * big.length, 'y')))).toEqual([1, -big.length]);
    expect(sizes(stream.end())).toEqual([1, -big.length, 1, -1]);
  });
});
