// Reassembles one direction of one TCP connection from the segments the kernel saw:
// retransmitted bytes are delivered once, out-of-order segments wait (within bounds)
// for the hole before them, and bytes that are missing for good become a gap chunk
// (the parser then knows it cannot vouch for what was there). A hole is given up when
// the bounds are exceeded, and when the caller's wait for it runs out or the connection
// ends (end): data behind a hole is never dropped.

export interface Segment {
  /** TCP sequence number (u32) of the first payload byte. */
  seq: number;
  /** The first `bytes.length` payload bytes; the rest of `wireLength` was not captured. */
  bytes: Uint8Array;
  wireLength: number;
}

export type StreamChunk = { kind: 'data'; bytes: Uint8Array } | { kind: 'gap'; length: number };

/**
 * Out-of-order data held while waiting for a hole to fill: with more than this, the first
 * hole is reported as a gap. A stream holds at most these plus one segment in flight.
 */
export const MAX_PENDING_SEGMENTS = 64;
export const MAX_PENDING_BYTES = 256 * 1024;

/** Signed distance a - b in 32-bit sequence space (handles wrap-around). */
function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export class TcpByteStream {
  private next: number | null = null;
  /** Sequence number of stream offset 0. */
  private origin: number | null = null;
  private pending: Segment[] = [];
  private pendingBytes = 0;
  /** Holes given up so far, and the bytes they lacked. */
  holesSkipped = 0;
  bytesSkipped = 0;

  /**
   * @param start sequence number of the connection's first payload byte (ISN + 1) when
   *   known; otherwise the stream starts at the first segment seen.
   */
  constructor(start: number | null = null) {
    if (start !== null) this.next = this.origin = start >>> 0;
  }

  /** Sequence number of stream offset `offset`, once the stream has started. */
  seqAt(offset: number): number | null {
    return this.origin === null ? null : (this.origin + offset) >>> 0;
  }

  /** Sequence number of the next byte expected, once the stream has started. */
  get nextSeq(): number | null {
    return this.next;
  }

  /** Data waits behind a hole. */
  get hasHole(): boolean {
    return this.pending.length > 0;
  }

  push(segment: Segment): StreamChunk[] {
    if (segment.wireLength <= 0) return [];
    if (this.next === null) this.next = this.origin = segment.seq >>> 0;
    const out: StreamChunk[] = [];
    const ahead = seqDiff(segment.seq, this.next);
    if (ahead > 0) {
      this.hold(segment);
      // A hole not filled within our bounds is given up (a gap), as often as it takes to
      // get back under them.
      while (this.pending.length > MAX_PENDING_SEGMENTS || this.pendingBytes > MAX_PENDING_BYTES) {
        this.skipFirstHole(out);
      }
    } else {
      this.deliver(segment, out);
    }
    this.drainPending(out);
    return out;
  }

  /**
   * Connection over, or the wait for the holes ran out: whatever waits behind a hole is
   * delivered after a gap. The stream goes on from there.
   */
  end(): StreamChunk[] {
    const out: StreamChunk[] = [];
    while (this.pending.length > 0) this.skipFirstHole(out);
    return out;
  }

  private skipFirstHole(out: StreamChunk[]): void {
    const first = this.pending[0] as Segment;
    const hole = seqDiff(first.seq, this.next as number);
    if (hole > 0) {
      out.push({ kind: 'gap', length: hole });
      this.holesSkipped++;
      this.bytesSkipped += hole;
      this.next = first.seq >>> 0;
    }
    this.drainPending(out);
  }

  private hold(segment: Segment): void {
    if (this.pending.some((p) => p.seq === segment.seq && p.wireLength >= segment.wireLength)) return;
    this.pending.push(segment);
    this.pendingBytes += segment.bytes.length;
    const base = this.next ?? 0;
    this.pending.sort((a, b) => seqDiff(a.seq, base) - seqDiff(b.seq, base));
  }

  /** Delivers the part of a segment at or after `next`. */
  private deliver(segment: Segment, out: StreamChunk[]): void {
    const next = this.next as number;
    const skip = -seqDiff(segment.seq, next);
    if (skip >= segment.wireLength) return; // wholly a retransmission
    const captured = segment.bytes.subarray(Math.min(skip, segment.bytes.length));
    const missing = segment.wireLength - skip - captured.length;
    if (captured.length > 0) out.push({ kind: 'data', bytes: captured });
    if (missing > 0) out.push({ kind: 'gap', length: missing });
    this.next = (next + segment.wireLength - skip) >>> 0;
  }

  private drainPending(out: StreamChunk[]): void {
    while (this.pending.length > 0 && this.next !== null) {
      const first = this.pending[0] as Segment;
      if (seqDiff(first.seq, this.next) > 0) return;
      this.pending.shift();
      this.pendingBytes -= first.bytes.length;
      this.deliver(first, out);
    }
  }
}
