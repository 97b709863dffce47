// Drains the event buffer on the Node event loop: koffi watches the buffer's epoll fd and,
// when it is readable, one consume hands over the pending records, at most DRAIN_BUDGET of
// them per event-loop turn so that a flood of records cannot starve timers and the watchdog
// (the fd stays readable: the next turn takes the rest). An exception in a drain is counted
// and reported, never the end of capture. Nothing blocks the event loop.
//
// With a journal (systemd's fd store keeps the buffer past this process), what is read is
// journaled before anything acts on it: from then on a crash no longer loses it.
import { closeSync } from 'node:fs';
import koffi from 'koffi';
import type { BpfObject, Libbpf } from '../libbpf/libbpf.js';
import type { KernelRecord } from '../model/records.js';
import { AbiError, decodeRecord } from './abi.js';
import { type BufferKind, type EventBuffer, openEventBuffer } from './event-buffer.js';
import type { JournalFacts } from '../logic/takeover.js';
import { Journal } from './journal.js';
import { drainPreviousRing } from './previous-ring.js';

/** Records handed over per event-loop turn (a ring buffer turn; a perf buffer drains its pages). */
export const DRAIN_BUDGET = 4096;
/** How often a buffer whose wakeups can go missing is drained without one. */
const TIMED_DRAIN_MS = 1000;
/** Each half of the journal of records read (hundreds of connections with their lineage, thousands of requests). */
const JOURNAL_HALF_BYTES = 2 << 20;

/** Where drained records go, from start() on. */
export interface RecordReceiver {
  /** Every record of one drain, in order, after the drain. */
  handle(records: KernelRecord[]): void;
  /** A record that could not be decoded (never expected; counted, not fatal). */
  decodeError(err: Error): void;
  /** A drain that threw, or a journal that could not be written (never expected; capture goes on). */
  captureError(source: 'drain' | 'journal', err: Error): void;
  /**
   * Kernel time of the oldest record the receiver still needs after a restart (the first
   * record of a connection it tracks), null when none: the journal keeps at least those.
   */
  neededSinceNs(): bigint | null;
}

function asAbiError(err: unknown): AbiError {
  return err instanceof AbiError ? err : new AbiError(String(err));
}

export class Drain {
  /** Drains that threw. */
  errors = 0;
  /** Drains that completed. */
  private drains = 0;
  private health = { drains: -1, produced: 0n };
  private readonly buffer: EventBuffer;
  private pending: KernelRecord[] = [];
  /** The raw bytes of the records in `pending`, for the journal. */
  private pendingRaw: Uint8Array[] = [];
  private journal: Journal | null = null;
  /** Records replayed from a previous daemon's journal. */
  private replayed = 0;
  /** Records taken before start() (journal, previous ring) that did not decode, told to the receiver then. */
  private readonly earlyDecodeErrors: AbiError[] = [];
  /** What the previous daemon's journal held (null: none taken over), for the takeover's verdict. */
  readonly journalFacts: JournalFacts | null = null;
  private receiver: RecordReceiver | null = null;
  private poller: ReturnType<typeof koffi.node.poll> | null = null;
  private timedDrain: NodeJS.Timeout | null = null;
  private closed = false;

  /**
   * `journal`: keep one (the buffer outlives this process) and the fd of a previous
   * daemon's, whose records the first drain hands over ahead of what waits in the buffer.
   */
  constructor(
    libbpf: Libbpf,
    obj: BpfObject,
    kind: BufferKind,
    perfPagesPerCpu: number,
    journal: { keep: boolean; inheritedFd: number | null },
  ) {
    this.buffer = openEventBuffer(libbpf, obj, kind, perfPagesPerCpu, this.takeSample);
    const inheritedFd = journal.inheritedFd;
    // Only a ring buffer outlives its reader: a perf buffer's rings belong to this process.
    if (kind !== 'ringbuf' || !journal.keep) {
      if (inheritedFd !== null) closeSync(inheritedFd);
      return;
    }
    const adopted = inheritedFd === null ? null : Journal.adopt(inheritedFd);
    if (inheritedFd !== null && !adopted) closeSync(inheritedFd);
    try {
      this.journal = adopted?.journal ?? Journal.create(JOURNAL_HALF_BYTES);
    } catch (err) {
      this.buffer.free();
      throw err;
    }
    let oldestKeptNs: bigint | null = null;
    for (const raw of adopted?.records ?? []) {
      try {
        const record = decodeRecord(raw);
        this.pending.push(record);
        if (oldestKeptNs === null || record.tsNs < oldestKeptNs) oldestKeptNs = record.tsNs;
        this.replayed++;
      } catch (err) {
        this.decodeFailed(err);
      }
    }
    if (adopted) this.journalFacts = { ...adopted, oldestKeptNs };
  }

  /** One record from a buffer. Runs inside libbpf's C callback: nothing may escape it. */
  private readonly takeSample = (data: Uint8Array): void => {
    try {
      this.pending.push(decodeRecord(data));
      // Every record is about an IMDS connection now (process records come with its connect()).
      if (this.journal) this.pendingRaw.push(data.slice());
    } catch (err) {
      this.decodeFailed(err);
    }
  };

  /** A record that did not decode: told to the receiver, or kept for it until start(). */
  private decodeFailed(err: unknown): void {
    const error = asAbiError(err);
    if (!this.receiver) {
      this.earlyDecodeErrors.push(error);
      return;
    }
    try {
      this.receiver.decodeError(error);
    } catch {
      // Reporting is best effort; the record is already counted as skipped.
    }
  }

  /**
   * Reads the previous daemon's ring `fd` to its end (after the journal's records, ahead of
   * this buffer's: the order they were written in) and closes it. False when it could not be read.
   */
  drainPrevious(libbpf: Libbpf, fd: number): boolean {
    return drainPreviousRing(libbpf, fd, this.takeSample);
  }

  /** Records of a previous daemon's journal the first drain hands over. */
  get journaled(): number {
    return this.replayed;
  }

  get lost(): bigint {
    return this.buffer.lost;
  }

  /** The journal's fd, for systemd's store (null without a journal). */
  get journalFd(): number | null {
    return this.journal?.fd ?? null;
  }

  /** Starts draining on the event loop into `receiver`; returns how to stop (close() stops it too). */
  start(receiver: RecordReceiver): () => void {
    this.receiver = receiver;
    for (const err of this.earlyDecodeErrors.splice(0)) receiver.decodeError(err);
    const drainNow = () => {
      try {
        this.drain();
      } catch (err) {
        this.errors++;
        receiver.captureError('drain', err instanceof Error ? err : new Error(String(err)));
      }
    };
    this.poller = koffi.node.poll(this.buffer.epollFd, { readable: true }, drainNow);
    if (this.buffer.needsTimedDrain) this.timedDrain = setInterval(drainNow, TIMED_DRAIN_MS).unref();
    return () => this.stop();
  }

  /** Consumes up to `budget` records available now and hands them over; returns how many. */
  drain(budget = DRAIN_BUDGET): number {
    const receiver = this.receiver;
    if (this.closed || !receiver) return 0;
    try {
      this.buffer.consume(budget);
    } finally {
      this.drains++;
    }
    const batch = this.pending;
    if (batch.length === 0) return 0;
    this.pending = [];
    try {
      this.journal?.append(this.pendingRaw, this.oldestNeeded(receiver, batch));
    } catch (err) {
      // Capture goes on; only a crash from now on could lose what is in flight.
      receiver.captureError('journal', err as Error);
      this.journal?.giveUp();
      this.journal = null;
    }
    this.pendingRaw = [];
    if (!this.buffer.ordered) batch.sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
    receiver.handle(batch);
    return batch.length;
  }

  /** The oldest kernel time the journal must keep: the receiver's, or this batch's first record. */
  private oldestNeeded(receiver: RecordReceiver, batch: KernelRecord[]): bigint | null {
    let oldest = receiver.neededSinceNs();
    for (const record of batch) if (oldest === null || record.tsNs < oldest) oldest = record.tsNs;
    return oldest;
  }

  /** Drains until the buffer is empty (shutdown: programs are detached, nothing new arrives). */
  drainAll(): void {
    while (this.drain() > 0);
  }

  /**
   * For the watchdog: false when the kernel produced IMDS records (`produced`, a running
   * count) since the last check and no drain ran in between (the drain loop is dead). A live
   * loop drains within one turn of a record, so a healthy daemon fails at most one check in
   * a row, which systemd forgives.
   */
  alive(produced: bigint): boolean {
    const alive = this.drains !== this.health.drains || produced === this.health.produced;
    this.health = { drains: this.drains, produced };
    return alive;
  }

  private stop(): void {
    this.poller?.close();
    this.poller = null;
    if (this.timedDrain) clearInterval(this.timedDrain);
    this.timedDrain = null;
  }

  /** Stops draining and frees the buffer and the journal. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stop();
    this.buffer.free();
    this.journal?.close();
  }
}
