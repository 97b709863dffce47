// The journal of socket records a daemon read (src/capture/journal.ts) on a real memfd:
// what the next daemon gets back is always the newest records, in order, none torn.
import fc from 'fast-check';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Journal } from '../../src/capture/journal.js';

const open: Journal[] = [];
afterEach(() => {
  for (const journal of open.splice(0)) journal.close();
});
function create(halfBytes: number): Journal {
  const journal = Journal.create(halfBytes);
  open.push(journal);
  return journal;
}
const record = (n: number, size = 8) => new Uint8Array(size).fill(n % 256);
const ids = (records: Uint8Array[]) => records.map((r) => r[0]);

describe('journal', () => {
  it('gives back every record, in order, to the daemon that adopts it', () => {
    const journal = create(4096);
    journal.append([record(1), record(2, 100)]);
    journal.append([record(3, 1)]);
    const adopted = Journal.adopt(journal.fd);
    expect(adopted && ids(adopted.records)).toEqual([1, 2, 3]);
    expect(adopted?.records.map((r) => r.byteLength)).toEqual([8, 100, 1]);
  });

  it('goes on appending after what it adopted', () => {
    const journal = create(4096);
    journal.append([record(1)]);
    const adopted = Journal.adopt(journal.fd);
    adopted?.journal.append([record(2)]);
    expect(ids(Journal.adopt(journal.fd)?.records ?? [])).toEqual([1, 2]);
  });

  it('keeps the newest records, at least a half full, when the halves wrap', () => {
    const journal = create(256);
    const all = Array.from({ length: 100 }, (_, i) => record(i, 20));
    for (const r of all) journal.append([r]);
    const got = ids(Journal.adopt(journal.fd)?.records ?? []);
    expect(got).toEqual(ids(all.slice(-got.length)));
    // (256 - 16) / 24 = 10 records per half.
    expect(got.length).toBeGreaterThanOrEqual(10);
  });

  it('is not taken for a journal when the fd is another file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imds-journal-'));
    try {
      writeFileSync(join(dir, 'f'), Buffer.alloc(4096));
      const fd = openSync(join(dir, 'f'), 'r');
      expect(Journal.isJournal(fd)).toBe(false);
      expect(Journal.adopt(fd)).toBeNull();
      closeSync(fd);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('any batches of any sizes: the records given back are the newest ones, in order, byte for byte', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 8 }), { maxLength: 40 }),
        (batches) => {
          const journal = create(512);
          const written: Uint8Array[] = [];
          let n = 0;
          for (const sizes of batches) {
            const batch = sizes.map((size) => Uint8Array.from({ length: size }, (_, i) => (n + i) % 256));
            n++;
            written.push(...batch);
            journal.append(batch);
          }
          const got = Journal.adopt(journal.fd)?.records ?? [];
          const tail = written.slice(written.length - got.length);
          expect(got.map((r) => Buffer.from(r).toString('hex'))).toEqual(
            tail.map((r) => Buffer.from(r).toString('hex')),
          );
          const bytes = written.reduce((sum, r) => sum + 4 + r.byteLength, 0);
          // Everything while it fits in one half; after that, never less than a half less one record.
          if (bytes <= 512 - 16) expect(got.length).toBe(written.length);
          else expect(got.reduce((sum, r) => sum + 4 + r.byteLength, 0)).toBeGreaterThan(512 - 16 - 204);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('says whether records were dropped, and what its writer still needed then', () => {
    const journal = create(256);
    journal.append([record(1, 20)], 5n);
    let adopted = Journal.adopt(journal.fd);
    expect(adopted).toMatchObject({ dropped: false, neededSinceNs: 5n, givenUp: false });
    // 10 records a half: the 25th append has handed over a half that held records.
    for (let i = 2; i <= 25; i++) journal.append([record(i, 20)], BigInt(100 + i));
    adopted = Journal.adopt(journal.fd);
    expect(adopted).toMatchObject({ dropped: true, neededSinceNs: 125n });
    journal.append([record(26, 20)], null);
    expect(Journal.adopt(journal.fd)?.neededSinceNs).toBe('none');
  });

  it('a journal given up says so to the next daemon, which starts it whole again', () => {
    const first = Journal.create(256);
    first.append([record(1)], 1n);
    const fd = openSync(`/proc/self/fd/${first.fd}`, 'r+');
    first.giveUp();
    const adopted = Journal.adopt(fd);
    expect(adopted).toMatchObject({ givenUp: true });
    expect(Journal.adopt(fd)).toMatchObject({ givenUp: false });
    closeSync(fd);
  });
});
