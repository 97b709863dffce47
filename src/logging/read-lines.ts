// Our log files read back line by line (current and rotated, gzip-compressed or not): memory
// does not grow with a file. `report` reads them; the daemon reads its own directory once at
// start for its verdict line.
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';

/** The daemon's lines are a few KiB (argv and headers are bounded); anything this long is not one. */
export const MAX_LINE_CHARS = 8 * 1048576;
const OVERSIZED_LINE = '(a line longer than MAX_LINE_CHARS, skipped)';

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

/** readLines, the lines of each chunk read at once (a reader of millions of lines pays per chunk, not per line). */
export async function* readLineBatches(file: string): AsyncGenerator<string[]> {
  const raw = createReadStream(file, { highWaterMark: READ_CHUNK_BYTES });
  let input: NodeJS.ReadableStream = raw;
  if (file.endsWith('.gz')) {
    const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES });
    // pipe() does not forward a read error; without this a failed read would hang the loop.
    raw.on('error', (err) => gunzip.destroy(err));
    input = raw.pipe(gunzip);
  }
  input.setEncoding('utf8');
  // Splitting chunks by hand: node:readline costs about a second more per million lines.
  let rest = '';
  let oversized = false;
  for await (const chunk of input as AsyncIterable<string>) {
    const parts = chunk.split('\n');
    // Only the chunk is split, so a line spanning many chunks costs linear time, not quadratic.
    parts[0] = rest + parts[0];
    rest = parts.pop() ?? '';
    if (oversized && parts.length > 0) {
      oversized = false; // the end of the oversized line
      parts.shift();
    }
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      if (part.endsWith('\r')) parts[i] = part.slice(0, -1);
    }
    if (parts.length > 0) yield parts;
    if (rest.length > MAX_LINE_CHARS) {
      // Memory stays bounded whatever a file holds; the line is reported once, as not JSON.
      if (!oversized) yield [OVERSIZED_LINE];
      oversized = true;
      rest = '';
    }
  }
  if (rest && !oversized) yield [rest];
}
