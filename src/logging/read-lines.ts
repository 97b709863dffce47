// Our log files read back line by line (current and rotated, gzip-compressed or not): memory
// does not grow with a file. `report` reads them; the daemon reads its own directory once at
// start for its verdict line.
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';

/** The daemon's lines are a few KiB (argv and headers are bounded); anything this long is not one. */
export const MAX_LINE_CHARS = 8 * 1048576;
const OVERSIZED_LINE = '(a line longer than MAX_LINE_CHARS, skipped)';

/**
 * Lines of a file (gzip when named *.gz, as rotated logs and CloudWatch Logs export objects are);
 * a CR before the LF is dropped, a last line without LF is kept.
 */
export async function* readLines(file: string): AsyncGenerator<string> {
  const raw = createReadStream(file);
  let input: NodeJS.ReadableStream = raw;
  if (file.endsWith('.gz')) {
    const gunzip = createGunzip();
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
    for (const part of parts) {
      if (oversized) {
        oversized = false; // the end of the oversized line
        continue;
      }
      yield part.endsWith('\r') ? part.slice(0, -1) : part;
    }
    if (rest.length > MAX_LINE_CHARS) {
      // Memory stays bounded whatever a file holds; the line is reported once, as not JSON.
      if (!oversized) yield OVERSIZED_LINE;
      oversized = true;
      rest = '';
    }
  }
  if (rest && !oversized) yield rest;
}
