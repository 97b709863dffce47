// Reassembles one direction of one TCP connection from the segments the kernel saw:
// retransmitted bytes are delivered once, out-of-order segments wait (within bounds)
// for the hole before them, and bytes that are missing for good become a gap chunk
// (the parser then knows it cannot vouch for what was there).

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
  private pending: Segment[] = [];
  private pendingBytes = 0;

  push(segment: Segment): StreamChunk[] {
    if (segment.wireLength <= 0) return [];
    if (this.next === null) this.next = segment.seq >>> 0;
    const out: StreamChunk[] = [];
    const ahead = seqDiff(segment.seq, this.next);
    if (ahead > 0) {
      this.hold(segment);
      // A hole not filled within our bounds is given up (a gap), as often as it takes to
      // get back under them.
      while (this.pending.length > MAX_PENDING_SEGMENTS || this.pendingBytes > MAX_PENDING_BYTES) {
        const first = this.pending[0] as Segment;
        out.push({ kind: 'gap', length: seqDiff(first.seq, this.next) });
        this.next = first.seq >>> 0;
        this.drainPending(out);
      }
    } else {
      this.deliver(segment, out);
    }
    this.drainPending(out);
    return out;
  }

  /** Connection over: whatever still waits behind a hole is delivered after a gap. */
  end(): StreamChunk[] {
    const out: StreamChunk[] = [];
    while (this.pending.length > 0 && this.next !== null) {
      const first = this.pending[0] as Segment;
      const hole = seqDiff(first.seq, this.next);
      if (hole > 0) {
        out.push({ kind: 'gap', length: hole });
        this.next = first.seq >>> 0;
      }
      this.drainPending(out);
    }
    return out;
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
