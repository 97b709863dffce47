// The drain's turns are bounded by time, not by a count of records: a turn whose records are
// slow to handle yields after TURN_BUDGET_MS (plus one handover), leaves the rest in the
// buffer, and later turns take them in order, none lost. Over a stand-in ring buffer (the
// libbpf calls the drain makes) and records built from the ABI's layout.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ABI_LAYOUT, RecordType } from '../../src/capture/abi.js';
import { Drain, HANDOVER_RECORDS, type RecordReceiver, TURN_BUDGET_MS } from '../../src/capture/drain.js';
import type { BpfObject, Libbpf } from '../../src/libbpf/libbpf.js';
import type { KernelRecord } from '../../src/model/records.js';

/** A close record of connection `cookie` at kernel time `tsNs`. */
function closeRecord(cookie: number, tsNs: number): Uint8Array {
  const raw = new Uint8Array(ABI_LAYOUT.imds_close_record.size);
  const view = new DataView(raw.buffer);
  view.setUint32(ABI_LAYOUT.imds_record_head.fields.type, RecordType.close, true);
  view.setBigUint64(ABI_LAYOUT.imds_record_head.fields.ts_ns, BigInt(tsNs), true);
  const flow = ABI_LAYOUT.imds_close_record.fields.flow;
  view.setBigUint64(flow + ABI_LAYOUT.imds_flow.fields.cookie, BigInt(cookie), true);
  return raw;
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/** A ring buffer holding `queued`; its epoll fd is a FIFO nobody writes (koffi polls it, it never fires). */
function standInRing(queued: Uint8Array[]): { libbpf: Libbpf; consumed: () => number } {
  const dir = mkdtempSync(join(tmpdir(), 'drain-turn-'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  const fd = openSync(join(dir, 'fifo'), constants.O_RDWR | constants.O_NONBLOCK);
  cleanups.push(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true });
  });
  let onSample: ((data: Uint8Array, cpu: number) => void) | null = null;
  let consumed = 0;
  const libbpf = {
    findMap: () => 1n,
    mapFd: () => 3,
    ringBufferNew: (_fd: number, handler: (data: Uint8Array, cpu: number) => void) => {
      onSample = handler;
      return 2n;
    },
    ringBufferEpollFd: () => fd,
    ringBufferConsume: (_ring: unknown, budget: number) => {
      const taken = queued.splice(0, budget);
      for (const raw of taken) onSample?.(raw, -1);
      consumed += taken.length;
      return taken.length;
    },
    ringBufferFree: () => undefined,
  } as unknown as Libbpf;
  return { libbpf, consumed: () => consumed };
}

/** Receives records, spending `msPerRecord` on each as a slow pipeline would. */
function slowReceiver(msPerRecord: number) {
  const received: bigint[] = [];
  let turns = 0;
  const receiver: RecordReceiver = {
    handle(records: KernelRecord[]) {
      for (const rec of records) {
        const until = performance.now() + msPerRecord;
        while (performance.now() < until);
        received.push(rec.tsNs);
      }
    },
    endOfTurn: () => void turns++,
    decodeError: (err) => {
      throw err;
    },
    captureError: (_source, err) => {
      throw err;
    },
    neededSinceNs: () => null,
  };
  return { receiver, received, turns: () => turns };
}

describe('drain turns', () => {
  it('yield after the time budget, leave the rest in the buffer and hand everything over in order', () => {
    const total = 400;
    const ring = standInRing(Array.from({ length: total }, (_, i) => closeRecord(i + 1, 1000 + i)));
    const drain = new Drain(ring.libbpf, 0n as unknown as BpfObject, 'ringbuf', 8, { keep: false, inheritedFd: null });
    cleanups.push(() => drain.close());
    const slow = slowReceiver(0.25);
    const stop = drain.start(slow.receiver);
    cleanups.push(stop);

    const started = performance.now();
    const first = drain.drain();
    const firstMs = performance.now() - started;
    // One turn: at least one handover, then no new one once the budget is spent.
    expect(first).toBeGreaterThanOrEqual(HANDOVER_RECORDS);
    expect(first).toBeLessThan(total);
    expect(first % HANDOVER_RECORDS).toBe(0);
    expect(firstMs).toBeGreaterThanOrEqual(TURN_BUDGET_MS);
    // What the turn did not hand over was never read: it waits in the kernel's buffer.
    expect(ring.consumed()).toBe(first);

    let turns = 1;
    while (drain.drain() > 0) turns++;
    expect(turns).toBeGreaterThan(1);
    expect(slow.turns()).toBe(turns + 1); // every turn ends with endOfTurn, the empty last one too
    expect(slow.received).toEqual(Array.from({ length: total }, (_, i) => BigInt(1000 + i)));
    // The measure is of whole turns (reading, decoding and handing over), not of one handover.
    expect(drain.longest.wallMs).toBeGreaterThanOrEqual(TURN_BUDGET_MS);
  });
});
