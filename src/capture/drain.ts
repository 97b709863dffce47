// Drains the event buffer on the Node event loop: koffi watches the buffer's epoll fd and,
// when it is readable, a turn hands records over a few at a time until none wait or the
// turn has worked for TURN_BUDGET_MS. The bound is time, not a count of records: what a
// record costs depends on what it brings (a new process, a new cgroup, a line to write),
// and a flood of records must not starve timers and the watchdog. What a turn leaves stays
// in the kernel's buffer (the fd stays readable: the next turn takes it). An exception in a
// drain is counted and reported, never the end of capture. Nothing blocks the event loop.
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
import { LongestTurn } from './longest-turn.js';
import { drainPreviousRing } from './previous-ring.js';

/** How long one event-loop turn hands records over before it yields to the rest of the loop. */
export const TURN_BUDGET_MS = 10;
/**
 * Records read and handed over at a time within a turn (a perf buffer reads all its pages at
 * once; they are handed over as many at a time): the turn's clock is read between handovers.
 */
export const HANDOVER_RECORDS = 32;
/** How often a buffer whose wakeups can go missing is drained without one. */
const TIMED_DRAIN_MS = 1000;
/** Each half of the journal of records read (hundreds of connections with their lineage, thousands of requests). */
const JOURNAL_HALF_BYTES = 2 << 20;

/** Where drained records go, from start() on. */
export interface RecordReceiver {
  /** The next records, in order: a turn hands over a few at a time. */
  handle(records: KernelRecord[]): void;
  /** A turn has handed over what it will: work that need not follow every handover (expiries). */
  endOfTurn(): void;
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
  /** The longest event-loop turn spent draining and handing over. */
  readonly longest = new LongestTurn();
  /** A turn to take what a perf buffer's read or a journal left in `pending`, once scheduled. */
  private nextTurn: NodeJS.Immediate | null = null;
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
    const turn = () => void this.drain();
    this.poller = koffi.node.poll(this.buffer.epollFd, { readable: true }, turn);
    if (this.buffer.needsTimedDrain) this.timedDrain = setInterval(turn, TIMED_DRAIN_MS).unref();
    return () => this.stop();
  }

  /**
   * One event-loop turn: hands records over until none wait or TURN_BUDGET_MS has passed;
   * returns how many. A drain that throws is counted and reported; the next turn goes on.
   */
  drain(): number {
    const receiver = this.receiver;
    if (this.closed || !receiver) return 0;
    let handed = 0;
    this.longest.measure(() => {
      const deadline = process.hrtime.bigint() + BigInt(TURN_BUDGET_MS * 1_000_000);
      try {
        for (;;) {
          const n = this.handOver(receiver);
          handed += n;
          if (n === 0 || process.hrtime.bigint() >= deadline) break;
        }
      } catch (err) {
        this.failed(receiver, err);
      }
      try {
        receiver.endOfTurn();
      } catch (err) {
        this.failed(receiver, err);
      }
    });
    // The buffer's fd stays readable while records wait there; records already read do not make it so.
    if (this.pending.length > 0 && !this.nextTurn && this.poller) {
      this.nextTurn = setImmediate(() => {
        this.nextTurn = null;
        this.drain();
      });
    }
    return handed;
  }

  private failed(receiver: RecordReceiver, err: unknown): void {
    this.errors++;
    receiver.captureError('drain', err instanceof Error ? err : new Error(String(err)));
  }

  /** Drains until nothing waits (shutdown: programs are detached, nothing new arrives). */
  drainAll(): void {
    const receiver = this.receiver;
    if (this.closed || !receiver) return;
    while (this.handOver(receiver) > 0);
    receiver.endOfTurn();
  }

  /**
   * Hands over up to HANDOVER_RECORDS: those already read first (a previous daemon's journal
   * and ring, a perf buffer's pages), else as many read from the buffer now. Returns how many.
   */
  private handOver(receiver: RecordReceiver): number {
    if (this.pending.length === 0) {
      try {
        this.buffer.consume(HANDOVER_RECORDS);
      } finally {
        this.drains++;
      }
      if (!this.buffer.ordered) this.pending.sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
    }
    this.journalRead(receiver);
    const records = this.pending.splice(0, HANDOVER_RECORDS);
    if (records.length > 0) receiver.handle(records);
    return records.length;
  }

  /** Journals what was read since the last handover, before anything acts on it. */
  private journalRead(receiver: RecordReceiver): void {
    if (this.pendingRaw.length === 0) return;
    try {
      this.journal?.append(this.pendingRaw, this.oldestNeeded(receiver, this.pending));
    } catch (err) {
      // Capture goes on; only a crash from now on could lose what is in flight.
      receiver.captureError('journal', err as Error);
      this.journal?.giveUp();
      this.journal = null;
    }
    this.pendingRaw = [];
  }

  /** The oldest kernel time the journal must keep: the receiver's, or the first record not handed over yet. */
  private oldestNeeded(receiver: RecordReceiver, notHandedOver: KernelRecord[]): bigint | null {
    let oldest = receiver.neededSinceNs();
    for (const record of notHandedOver) if (oldest === null || record.tsNs < oldest) oldest = record.tsNs;
    return oldest;
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
    if (this.nextTurn) clearImmediate(this.nextTurn);
    this.nextTurn = null;
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
