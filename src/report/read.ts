// Streams log lines from files and directories: current and rotated logs, and
// gzip-compressed ones, line by line (memory does not grow with the files).
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { ReportBuilder, type ReportOptions } from '../logic/report/aggregate.js';
import { type Report, reportSchema } from '../logic/report/schema.js';

/** The file S3 puts at the top of a CloudWatch Logs export ("Permission Check Successful"), not a log. */
const EXPORT_WRITE_TEST = 'aws-logs-write-test';

/**
 * Regular files named by the arguments; directories contribute their regular files at any
 * depth (a CloudWatch Logs export is <prefix>/<task>/<stream>/000000.gz). Linked directories
 * inside a directory are not followed, so a link loop cannot make the walk endless.
 */
export function expandInputs(inputs: string[]): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      // A dangling symlink or an entry removed by rotation meanwhile is not an input.
      else if (entry.name !== EXPORT_WRITE_TEST && statSync(path, { throwIfNoEntry: false })?.isFile()) files.push(path);
    }
  };
  for (const input of inputs) {
    const st = statSync(input);
    if (st.isDirectory()) walk(input);
    else if (st.isFile()) files.push(input);
  }
  return files;
}

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

/**
 * The report over files and directories (any directory: the daemon's, a fixture's, a fleet's
 * collected logs or CloudWatch Logs export, in any mix). A file that cannot be read to its end
 * (a gzip cut short while it was being rotated, a permission error) keeps the lines read before
 * the failure and adds a warning.
 */
export async function buildReport(inputs: string[], options: ReportOptions = {}): Promise<Report> {
  const builder = new ReportBuilder(options);
  for (const file of expandInputs(inputs)) {
    builder.addFile();
    try {
      for await (const text of readLines(file)) builder.addText(text);
    } catch (err) {
      builder.addUnreadable(file, (err as Error).message);
    }
  }
  return reportSchema.parse(builder.result());
}
