// Streams log lines from files and directories: current and rotated logs, and
// gzip-compressed ones, line by line (memory does not grow with the files).
import { accessSync, constants, type Dirent, readdirSync, type Stats, statSync } from 'node:fs';
import { join } from 'node:path';
import { NoInputError } from '../logic/exit-status.js';
import { ReportBuilder, type ReportOptions } from '../logic/report/aggregate.js';
import { LatestVerdicts } from '../logic/report/latest-verdicts.js';
import type { LogTokenless } from '../logic/report/cross-check.js';
import { type CrossCheck, type Report, reportSchema } from '../logic/report/schema.js';
import {
  type FileProgress,
  type FileVerdicts,
  defaultWorkers,
  latestVerdictsInWorkers,
  latestVerdictsOf,
  readFileInto,
  readInWorkers,
  workersAvailable,
} from './workers.js';

export { MAX_LINE_CHARS, readLines } from './lines.js';

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

/**
 * The report over files and directories (any directory: the daemon's, a fixture's, a fleet's
 * collected logs or CloudWatch Logs export, in any mix). A file whose content ends early or
 * is not what its name says (a gzip cut short while it was being rotated, a .gz that is not
 * gzip) keeps the lines read before the failure and adds a warning; a failing read system
 * call (EIO) ends the report with EXIT.io: the disk, not the evidence, is the problem.
 */
export async function buildReport(
  inputs: string[],
  options: ReportOptions = {},
  reading: ReadingOptions = {},
): Promise<Report> {
  const builder = new ReportBuilder(options);
  const files = expandInputs(inputs);
  reading.onStart?.(files);
  const workers = reading.workers ?? defaultWorkers();
  if (reading.verdictsOnly) await readLatestVerdicts(files, options, builder, workers, reading.onFile);
  else if (workers > 1 && files.length > 1 && workersAvailable()) {
    await readInWorkers(files, options, builder, workers, reading.onFile);
  } else {
    for (const file of files) {
      const before = builder.lineCount;
      await readFileInto(builder, file);
      reading.onFile?.({ file, lines: builder.lineCount - before });
    }
  }
  if (reading.crossCheck) builder.setCrossCheck(await reading.crossCheck(builder.tokenlessEvidence()));
  return reportSchema.parse(builder.result());
}

/**
 * Each host's latest verdict line, and nothing else of the files (the fleet answer): each
 * file's latest lines (on workers when there are several files), then the latest of those.
 */
async function readLatestVerdicts(
  files: string[],
  options: ReportOptions,
  builder: ReportBuilder,
  workers: number,
  onFile?: (done: FileProgress) => void,
): Promise<void> {
  const verdicts = new LatestVerdicts(options);
  const add = (index: number, { lines, unreadable }: FileVerdicts) => {
    const file = files[index] as string;
    builder.addFile();
    if (unreadable !== null) builder.addUnreadable(file, unreadable);
    for (const text of lines) verdicts.offer(text);
    onFile?.({ file, lines: lines.length });
  };
  if (workers > 1 && files.length > 1 && workersAvailable())
    await latestVerdictsInWorkers(files, options, workers, add);
  else for (const [index, file] of files.entries()) add(index, await latestVerdictsOf(file, options));
  for (const text of verdicts.lines()) builder.addText(text);
}

export interface ReadingOptions {
  /** Read only verdict lines, each host's latest (report --verdicts). */
  verdictsOnly?: boolean;
  /** Threads reading files, this one and worker threads (default: one per core, at most 4); 0 or 1 reads here alone. */
  workers?: number;
  /** Compares each host's tokenless 2xx requests with an independent count (report --cross-check). */
  crossCheck?: (evidence: LogTokenless[]) => Promise<CrossCheck>;
  onStart?: (files: string[]) => void;
  onFile?: (done: FileProgress) => void;
}
