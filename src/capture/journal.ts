// The records this daemon took from the ring buffer, kept in a memfd that systemd's
// fd store holds. A record leaves the ring the moment it is read, but its request line is
// written only once the request is complete (its response seen, or given up on): a crash
// in between would lose it. The next daemon replays the journal's recent records and
// writes only the lines that are not in the log yet.
//
// Layout: a header (magic, index of the current half, the oldest kernel time the writer
// still needed) and two halves, each a header (seq, bytes used) and length-prefixed records.
// Records are appended to the current half; a full half hands over to the other, which
// starts empty, so the older half stays readable. Every append is one pwrite of records then
// one of the half's used count: a process killed between the two leaves records that are
// simply not counted.
//
// The journal is bounded: a half handed over drops what it held. Whether that lost anything
// the next daemon needs is told by the writer's watermark, written before every append: the
// kernel time of the oldest record it still needed (the first record of a connection it
// tracks). A journal given up after a write error says so in its header (GIVEN_UP).
import { closeSync, fstatSync, ftruncateSync, readSync, readlinkSync, writeSync } from 'node:fs';
import koffi from 'koffi';

export const JOURNAL_NAME = 'imds-analyzer-journal';
const MAGIC = 0x494d444a; // "IMDJ"
const FILE_HEADER = 16;
const HALF_HEADER = 16;
const MFD_CLOEXEC = 1;
/** In the header's half index: the writer gave the journal up, records after it are missing. */
const GIVEN_UP = 0x80000000;
/** The watermark when the writer needed nothing (no connection tracked). */
const NOTHING_NEEDED = 0xffffffffffffffffn;

/** What a daemon taking over a journal learns besides its records. */
export interface AdoptedJournal {
  journal: Journal;
  /** The newest records still in the journal, oldest first. */
  records: Uint8Array[];
  /** A half was handed over since the journal was made: older records are gone. */
  dropped: boolean;
  /** Kernel time of the oldest record the writer still needed; null: unknown; 'none': nothing. */
  neededSinceNs: bigint | null | 'none';
  /** The writer gave the journal up: records it read after that are not in it. */
  givenUp: boolean;
}

export class Journal {
  private current = 0;
  private seq = 0n;
  private used = 0;
  private neededSinceNs = 0n;
  private givenUp = false;

  private constructor(
    readonly fd: number,
    private readonly halfBytes: number,
  ) {}

  /** A new, empty journal of two halves of `halfBytes` each. */
  static create(halfBytes: number): Journal {
    const memfdCreate = koffi.load('libc.so.6').func('int memfd_create(const char *name, unsigned int flags)');
    const fd = memfdCreate(JOURNAL_NAME, MFD_CLOEXEC) as number;
    if (fd < 0) throw new Error(`memfd_create failed (errno ${koffi.errno()})`);
    ftruncateSync(fd, FILE_HEADER + 2 * halfBytes);
    const journal = new Journal(fd, halfBytes);
    journal.writeHalfHeader(0, 0n, 0);
    journal.writeHalfHeader(1, 0n, 0);
    journal.writeFileHeader();
    return journal;
  }

  /** True for the fd of a journal a previous daemon made. */
  static isJournal(fd: number): boolean {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(`/memfd:${JOURNAL_NAME}`);
    } catch {
      return false;
    }
  }

  /**
   * Takes over a previous daemon's journal: returns its records, oldest first, and goes
   * on appending after them. Null when the fd does not hold a journal.
   */
  static adopt(fd: number): AdoptedJournal | null {
    const size = fstatSync(fd).size;
    const halfBytes = (size - FILE_HEADER) / 2;
    const header = readAt(fd, 0, FILE_HEADER);
    if (!Number.isInteger(halfBytes) || halfBytes <= HALF_HEADER || header.getUint32(0, true) !== MAGIC) return null;
    const journal = new Journal(fd, halfBytes);
    const word = header.getUint32(4, true);
    const current = word & 1;
    const older = journal.readHalf(1 - current);
    const newer = journal.readHalf(current);
    journal.current = current;
    journal.seq = newer.seq;
    journal.used = newer.used;
    const bothHalves = older.seq + 1n === newer.seq;
    const records = bothHalves ? [...older.records, ...newer.records] : newer.records;
    // The first half ever written has seq 0: a retained half of a higher seq followed a dropped one.
    const dropped = (bothHalves ? older.seq : newer.seq) > 0n;
    const watermark = header.getBigUint64(8, true);
    const neededSinceNs = watermark === NOTHING_NEEDED ? 'none' : watermark === 0n ? null : watermark;
    // The next writer starts with a journal that is whole from here on.
    if ((word & GIVEN_UP) !== 0) journal.writeFileHeader();
    return { journal, records, dropped, neededSinceNs, givenUp: (word & GIVEN_UP) !== 0 };
  }

  /**
   * Appends records; `neededSinceNs` is the kernel time of the oldest record the writer still
   * needs (null: none), written first so that a half handed over below is judged by it.
   */
  append(records: Uint8Array[], neededSinceNs: bigint | null = 0n): void {
    if (records.length === 0) return;
    this.neededSinceNs = neededSinceNs ?? NOTHING_NEEDED;
    this.writeFileHeader();
    const room = this.halfBytes - HALF_HEADER;
    const fits = records.filter((r) => 4 + r.byteLength <= room);
    let start = 0;
    while (start < fits.length) {
      let bytes = 0;
      let end = start;
      while (end < fits.length && this.used + bytes + 4 + (fits[end] as Uint8Array).byteLength <= room) {
        bytes += 4 + (fits[end] as Uint8Array).byteLength;
        end++;
      }
      if (end === start) {
        this.switchHalf();
        continue;
      }
      const chunk = new Uint8Array(bytes);
      const view = new DataView(chunk.buffer);
      let at = 0;
      for (const record of fits.slice(start, end)) {
        view.setUint32(at, record.byteLength, true);
        chunk.set(record, at + 4);
        at += 4 + record.byteLength;
      }
      writeSync(this.fd, chunk, 0, bytes, this.halfStart(this.current) + HALF_HEADER + this.used);
      this.used += bytes;
      this.writeHalfHeader(this.current, this.seq, this.used);
      start = end;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  /** Marks the journal given up (best effort: it failed to write already), then closes it. */
  giveUp(): void {
    try {
      this.givenUp = true;
      this.writeFileHeader();
    } catch {
      // The next daemon then sees a journal that merely ends early.
    }
    this.close();
  }

  private switchHalf(): void {
    this.current = 1 - this.current;
    this.seq++;
    this.used = 0;
    this.writeHalfHeader(this.current, this.seq, 0);
    this.writeFileHeader();
  }

  private halfStart(half: number): number {
    return FILE_HEADER + half * this.halfBytes;
  }

  private readHalf(half: number): { seq: bigint; used: number; records: Uint8Array[] } {
    const head = readAt(this.fd, this.halfStart(half), HALF_HEADER);
    const seq = head.getBigUint64(0, true);
    const used = Math.min(head.getUint32(8, true), this.halfBytes - HALF_HEADER);
    const body = readAt(this.fd, this.halfStart(half) + HALF_HEADER, used);
    const records: Uint8Array[] = [];
    let at = 0;
    while (at + 4 <= used) {
      const length = body.getUint32(at, true);
      if (at + 4 + length > used) break;
      records.push(new Uint8Array(body.buffer, at + 4, length));
      at += 4 + length;
    }
    return { seq, used, records };
  }

  private writeHalfHeader(half: number, seq: bigint, used: number): void {
    const head = new DataView(new ArrayBuffer(HALF_HEADER));
    head.setBigUint64(0, seq, true);
    head.setUint32(8, used, true);
    writeSync(this.fd, new Uint8Array(head.buffer), 0, HALF_HEADER, this.halfStart(half));
  }

  private writeFileHeader(): void {
    const head = new DataView(new ArrayBuffer(FILE_HEADER));
    head.setUint32(0, MAGIC, true);
    head.setUint32(4, (this.current | (this.givenUp ? GIVEN_UP : 0)) >>> 0, true);
    head.setBigUint64(8, this.neededSinceNs, true);
    writeSync(this.fd, new Uint8Array(head.buffer), 0, FILE_HEADER, 0);
  }
}

function readAt(fd: number, position: number, length: number): DataView {
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, bytes, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return new DataView(bytes.buffer);
}
