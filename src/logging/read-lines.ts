// Our log files read back line by line (current and rotated, gzip-compressed or not): memory
// does not grow with a file. `report` reads them; the daemon reads its own directory once at
// start for its verdict line. One byte reader (readLineChunks: whole lines, many at a time)
// serves both the readers that decode every line (readLineBatches, readLines) and those that
// look at a few bytes of each line and decode only what they keep (the fleet report).
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';

/** The daemon's lines are a few KiB (argv and headers are bounded); anything this long (in bytes) is not one. */
export const MAX_LINE_CHARS = 8 * 1048576;
const OVERSIZED_LINE = '(a line longer than MAX_LINE_CHARS, skipped)';
const LF = 0x0a;
const CR = 0x0d;

/** A bigger read than the stream's default: fewer chunks to pass through, for files read whole. */
const READ_CHUNK_BYTES = 1 << 18;
/** Reads of the byte scanners: few large reads, few leftovers to join. */
export const SCAN_CHUNK_BYTES = 4 * 1048576;

/**
 * The file's bytes a chunk at a time (gunzipped when named *.gz). A plain file is read into
 * two buffers in turn, the next read under way while the caller works on the chunk it was
 * given: each chunk is valid until the next is asked for, and large buffers make no garbage.
 */
async function* byteChunks(file: string, chunkBytes: number): AsyncGenerator<Buffer> {
  if (file.endsWith('.gz')) {
    const raw = createReadStream(file, { highWaterMark: chunkBytes });
    const gunzip = createGunzip({ chunkSize: chunkBytes });
    // pipe() does not forward a read error; without this a failed read would hang the loop.
    raw.on('error', (err) => gunzip.destroy(err));
    yield* raw.pipe(gunzip) as AsyncIterable<Buffer>;
    return;
  }
  const handle = await open(file, 'r');
  const buffers = [Buffer.allocUnsafe(chunkBytes), Buffer.allocUnsafe(chunkBytes)];
  let position = 0;
  let turn = 0;
  const readInto = (buffer: Buffer) => handle.read(buffer, 0, chunkBytes, position);
  let reading = readInto(buffers[0] as Buffer);
  try {
    for (;;) {
      const { bytesRead, buffer } = await reading;
      if (bytesRead === 0) return;
      position += bytesRead;
      turn ^= 1;
      reading = readInto(buffers[turn] as Buffer);
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await reading.catch(() => undefined);
    await handle.close();
  }
}

/**
 * The file's lines as bytes, many at a time: each buffer holds whole lines, every one ending
 * in LF but a last line without one (CR still in place; a newline byte is never part of a
 * multi-byte character). A line longer than MAX_LINE_CHARS bytes is given as a one-line note.
 * A buffer is valid until the next one is asked for.
 */
export async function* readLineChunks(file: string, chunkBytes = SCAN_CHUNK_BYTES): AsyncGenerator<Buffer> {
  // The start of a line that continues in the next chunk(s).
  let rest: Buffer | null = null;
  let oversized = false;
  for await (const chunk of byteChunks(file, chunkBytes)) {
    const last = chunk.lastIndexOf(LF);
    if (last < 0) {
      // Lines spanning chunks are put together as they come: a copy, the chunk is reused.
      if (!oversized) rest = rest ? Buffer.concat([rest, chunk]) : Buffer.from(chunk);
    } else {
      const first = chunk.indexOf(LF);
      if (!oversized && !rest) yield chunk.subarray(0, last + 1);
      else {
        // The line begun in an earlier chunk ends here (an oversized one is dropped).
        if (!oversized && rest) yield Buffer.concat([rest, chunk.subarray(0, first + 1)]);
        if (last > first) yield chunk.subarray(first + 1, last + 1);
      }
      oversized = false;
      rest = last + 1 < chunk.length ? Buffer.from(chunk.subarray(last + 1)) : null;
    }
    if (rest && rest.length > MAX_LINE_CHARS) {
      // Memory stays bounded whatever a file holds; the line is reported once, as not JSON.
      if (!oversized) yield Buffer.from(`${OVERSIZED_LINE}\n`);
      oversized = true;
      rest = null;
    }
  }
  if (rest && !oversized) yield rest;
}

/**
 * Lines of a file (gzip when named *.gz, as rotated logs and CloudWatch Logs export objects are);
 * a CR before the LF is dropped, a last line without LF is kept.
 */
export async function* readLines(file: string): AsyncGenerator<string> {
  for await (const lines of readLineBatches(file)) yield* lines;
}

/**
 * readLines, the lines of each chunk read at once (a reader of millions of lines pays per
 * chunk, not per line).
 */
export async function* readLineBatches(file: string): AsyncGenerator<string[]> {
  for await (const chunk of readTextChunks(file)) {
    const lines: string[] = [];
    eachLineOf(chunk, (text) => lines.push(text));
    yield lines;
  }
}

/** readLineChunks in reads of READ_CHUNK_BYTES, for readers that decode every line (eachLineOf). */
export function readTextChunks(file: string): AsyncGenerator<Buffer> {
  return readLineChunks(file, READ_CHUNK_BYTES);
}

/**
 * The lines of a chunk of readLineChunks, each decoded on its own as it is given to `each`
 * (a CR before the LF dropped): a value kept from a line keeps that line's text alive, never
 * a whole chunk's, and no line waits decoded while the ones before it are read.
 */
export function eachLineOf(chunk: Buffer, each: (text: string) => void): void {
  for (let from = 0; from < chunk.length; ) {
    let newline = chunk.indexOf(LF, from);
    if (newline < 0) newline = chunk.length;
    each(chunk.toString('utf8', from, newline > from && chunk[newline - 1] === CR ? newline - 1 : newline));
    from = newline + 1;
  }
}
