// Our log files read back line by line (current and rotated, gzip-compressed or not): memory
// does not grow with a file. `report` reads them; the daemon reads its own directory once at
// start for its verdict line.
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';

/** The daemon's lines are a few KiB (argv and headers are bounded); anything this long (in bytes) is not one. */
export const MAX_LINE_CHARS = 8 * 1048576;
const OVERSIZED_LINE = '(a line longer than MAX_LINE_CHARS, skipped)';
const LF = 0x0a;
const CR = 0x0d;

/** A bigger read than the stream's default: fewer chunks to pass through, for files read whole. */
const READ_CHUNK_BYTES = 1 << 18;
const GUNZIP_CHUNK_BYTES = 1 << 18;

/**
 * Lines of a file (gzip when named *.gz, as rotated logs and CloudWatch Logs export objects are);
 * a CR before the LF is dropped, a last line without LF is kept.
 */
export async function* readLines(file: string): AsyncGenerator<string> {
  for await (const lines of readLineBatches(file)) yield* lines;
}

/**
 * readLines, the lines of each chunk read at once (a reader of millions of lines pays per
 * chunk, not per line). Lines are found in the bytes (a newline byte is never part of a
 * multi-byte character) and each is decoded on its own: a value kept from a line keeps that
 * line's text alive, never a whole chunk's.
 */
export async function* readLineBatches(file: string): AsyncGenerator<string[]> {
  const raw = createReadStream(file, { highWaterMark: READ_CHUNK_BYTES });
  let input: NodeJS.ReadableStream = raw;
  if (file.endsWith('.gz')) {
    const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES });
    // pipe() does not forward a read error; without this a failed read would hang the loop.
    raw.on('error', (err) => gunzip.destroy(err));
    input = raw.pipe(gunzip);
  }
  // The start of a line that continues in the next chunk(s), and its length in bytes.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let oversized = false;
  const text = (bytes: Buffer, from: number, to: number): string =>
    bytes.toString('utf8', from, to > from && bytes[to - 1] === CR ? to - 1 : to);
  for await (const chunk of input as AsyncIterable<Buffer>) {
    const lines: string[] = [];
    let from = 0;
    let newline = chunk.indexOf(LF);
    if (newline >= 0 && (pendingBytes > 0 || oversized)) {
      // Lines spanning chunks are put together once, at their end: linear in their length.
      if (oversized)
        oversized = false; // the end of the oversized line
      else {
        pending.push(chunk.subarray(0, newline));
        const whole = Buffer.concat(pending);
        lines.push(text(whole, 0, whole.length));
      }
      pending = [];
      pendingBytes = 0;
      from = newline + 1;
      newline = chunk.indexOf(LF, from);
    }
    for (; newline >= 0; newline = chunk.indexOf(LF, from)) {
      lines.push(text(chunk, from, newline));
      from = newline + 1;
    }
    if (lines.length > 0) yield lines;
    if (from < chunk.length && !oversized) {
      pending.push(chunk.subarray(from));
      pendingBytes += chunk.length - from;
    }
    if (pendingBytes > MAX_LINE_CHARS) {
      // Memory stays bounded whatever a file holds; the line is reported once, as not JSON.
      yield [OVERSIZED_LINE];
      oversized = true;
      pending = [];
      pendingBytes = 0;
    }
  }
  if (pendingBytes > 0) {
    const whole = Buffer.concat(pending);
    yield [text(whole, 0, whole.length)];
  }
}
