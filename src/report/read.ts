// Streams log lines from files and directories: current and rotated logs, and
// gzip-compressed ones, line by line (memory does not grow with the files).
import { accessSync, constants, createReadStream, type Dirent, readdirSync, type Stats, statSync } from 'node:fs';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { CommandError, EXIT, exitStatusOf, NoInputError } from '../logic/exit-status.js';
import { ReportBuilder, type ReportOptions } from '../logic/report/aggregate.js';
import { type Report, reportSchema } from '../logic/report/schema.js';

/** The file S3 puts at the top of a CloudWatch Logs export ("Permission Check Successful"), not a log. */
const EXPORT_WRITE_TEST = 'aws-logs-write-test';

/** Why an input cannot be read, in words that say what to fix. */
function cannotRead(path: string, err: unknown): NoInputError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT'
      ? 'no such file or directory'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied (run as root, or as a user who may read the logs)'
        : (err as Error).message;
  return new NoInputError(`cannot read ${path}: ${why}`);
}

/**
 * Regular files named by the arguments; directories contribute their regular files at any
 * depth (a CloudWatch Logs export is <prefix>/<task>/<stream>/000000.gz). Linked directories
 * inside a directory are not followed, so a link loop cannot make the walk endless. A named
 * path that does not exist, a file or directory this user cannot read, and a directory
 * without any file are a NoInputError: a report over them would only say UNKNOWN.
 */
export function expandInputs(inputs: string[]): string[] {
  const files: string[] = [];
  const addFile = (path: string): void => {
    try {
      accessSync(path, constants.R_OK);
    } catch (err) {
      throw cannotRead(path, err);
    }
    files.push(path);
  };
  const walk = (dir: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      throw cannotRead(dir, err);
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      // A dangling symlink or an entry removed by rotation meanwhile is not an input.
      else if (entry.name !== EXPORT_WRITE_TEST && statSync(path, { throwIfNoEntry: false })?.isFile()) addFile(path);
    }
  };
  for (const input of inputs) {
    let st: Stats;
    try {
      st = statSync(input);
    } catch (err) {
      throw cannotRead(input, err);
    }
    const before = files.length;
    if (st.isDirectory()) walk(input);
    else if (st.isFile()) addFile(input);
    else throw new NoInputError(`${input} is neither a file nor a directory`);
    if (files.length === before) throw new NoInputError(`no log files in ${input}`);
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
 * collected logs or CloudWatch Logs export, in any mix). A file whose content ends early or
 * is not what its name says (a gzip cut short while it was being rotated, a .gz that is not
 * gzip) keeps the lines read before the failure and adds a warning; a failing read system
 * call (EIO) ends the report with EXIT.io: the disk, not the evidence, is the problem.
 */
export async function buildReport(inputs: string[], options: ReportOptions = {}): Promise<Report> {
  const builder = new ReportBuilder(options);
  for (const file of expandInputs(inputs)) {
    builder.addFile();
    try {
      for await (const text of readLines(file)) builder.addText(text);
    } catch (err) {
      if (exitStatusOf(err) === EXIT.io)
        throw new CommandError(EXIT.io, `reading ${file} failed: ${(err as Error).message}`);
      builder.addUnreadable(file, (err as Error).message);
    }
  }
  return reportSchema.parse(builder.result());
}
