// The log file: pino-roll (rotation by size and by day or hour, a bounded number of files)
// over a synchronous SonicBoom, wrapped so that every line is counted as written or not
// written, a refused write is retried, a deleted directory is recreated on the next write,
// no rotation opens a planted symlink, and the oldest files are deleted as each roll happens.
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import pinoRoll, { type RollStream } from 'pino-roll';
import { ensureLogDirectory, FILE_MODE, fixOpenFileMode, prepareLogFile, removePlantedEntries } from './safe-files.js';

export interface RotationOptions {
  maxSizeMB: number;
  frequency: 'daily' | 'hourly';
  maxFiles: number;
}

export interface WriteCounters {
  linesWritten: number;
  linesNotWritten: number;
  writeErrors: number;
}

const FILE_BASE = 'imds-analyzer';
/** Log files are `imds-analyzer.<date>.<n>.log`. */
export const LOG_FILE_PREFIX = `${FILE_BASE}.`;
/** A log file's name: the date as pino-roll writes it (daily or hourly), then its number that day. */
const LOG_FILE_NAME = /^imds-analyzer\.(\d{4}-\d{2}-\d{2}(?:-\d{2})?)\.(\d+)\.log$/;
/** Bytes held for retry while the disk refuses writes; lines beyond this are dropped and counted. */
export const PENDING_LIMIT_BYTES = 1024 * 1024;
const CLOSE_WAIT_MS = 2000;

/** The log files in `dir`, oldest first: by date (its digits sort as text), then by number. */
export function logFilesOldestFirst(dir: string): string[] {
  const files = readdirSync(dir).flatMap((name) => {
    const match = LOG_FILE_NAME.exec(name);
    return match ? [{ name, date: match[1] as string, number: Number(match[2]) }] : [];
  });
  files.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.number - b.number));
  return files.map((file) => file.name);
}

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? String(err);
}

function endsWithoutNewline(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    const { size } = fstatSync(fd);
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    closeSync(fd);
  }
}

export class RollingFile {
  private readonly counts: WriteCounters = { linesWritten: 0, linesNotWritten: 0, writeErrors: 0 };
  /** Lines handed to the stream that are not known to be on disk yet (a refused write keeps them buffered). */
  private linesPending = 0;
  private failing = false;
  private closed = false;

  static async open(dir: string, rotation: RotationOptions): Promise<RollingFile> {
    ensureLogDirectory(dir);
    // pino-roll picks its first file by scanning the directory: nothing planted may be among them.
    removePlantedEntries(dir, LOG_FILE_PREFIX);
    const stream = await pinoRoll({
      file: join(dir, FILE_BASE),
      extension: '.log',
      dateFormat: rotation.frequency === 'hourly' ? 'yyyy-MM-dd-HH' : 'yyyy-MM-dd',
      frequency: rotation.frequency,
      size: `${rotation.maxSizeMB}m`,
      mode: FILE_MODE,
      sync: true,
      maxLength: PENDING_LIMIT_BYTES,
    });
    const file = new RollingFile(dir, stream, rotation.maxFiles);
    file.endTornLine();
    return file;
  }

  private constructor(
    private readonly dir: string,
    private readonly stream: RollStream,
    private readonly maxFiles: number,
  ) {
    fixOpenFileMode(stream.fd);
    const reopen = stream.reopen.bind(stream);
    // pino-roll rotates by reopening under the next name: make that name a fresh regular
    // file of ours first, so a symlink planted there is removed instead of followed.
    stream.reopen = (file?: string | number) => {
      if (typeof file === 'string') {
        ensureLogDirectory(this.dir);
        prepareLogFile(file);
      }
      reopen(file);
      if (typeof file === 'string') this.removeOldFiles(file);
    };
    stream.on('ready', () => {
      // Emitted a tick after the open: the file may be closed again by then.
      try {
        if (!stream.destroyed) fixOpenFileMode(stream.fd);
      } catch (err) {
        this.failed(err);
      }
    });
    stream.on('error', (err: unknown) => this.failed(err));
    stream.on('drop', () => {
      this.linesPending--;
      this.counts.linesNotWritten++;
    });
  }

  /**
   * A file left by a run that stopped while the disk was full may end in half a line;
   * start on a fresh line so the next record does not merge with it.
   */
  private endTornLine(): void {
    // Not a record: nothing is added to the line counts.
    if (endsWithoutNewline(this.stream.file)) this.attempt('\n');
  }

  /**
   * Deletes the oldest log files (by date, then number) beyond maxFiles, the current one
   * included in the count and never deleted, those of earlier runs too. Done here, at once,
   * not by pino-roll's limit: its deletion runs later, and two of its rolls close together
   * race on one file and retry for seconds, which kept a stopping daemon from exiting.
   */
  private removeOldFiles(current: string): void {
    let files: string[];
    try {
      files = logFilesOldestFirst(this.dir);
    } catch (err) {
      this.failed(err);
      return;
    }
    for (const name of files.slice(0, Math.max(0, files.length - this.maxFiles))) {
      const path = join(this.dir, name);
      if (path === current) continue;
      try {
        unlinkSync(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.failed(err);
      }
    }
  }

  get file(): string {
    return this.stream.file;
  }

  counters(): WriteCounters {
    return { ...this.counts };
  }

  /** Writes one complete line (with its newline). Never throws. */
  write(line: string): void {
    if (this.closed) {
      this.counts.linesNotWritten++;
      return;
    }
    if (!this.fileInPlace()) {
      // Writing on would land in an unlinked file nobody can read: count it instead.
      this.counts.linesNotWritten++;
      return;
    }
    if (this.linesPending > 0) this.attempt(''); // retry what the disk refused before
    this.linesPending++;
    this.attempt(line);
  }

  /**
   * Closes the file and opens it again by name (SIGHUP, after logrotate moved it away):
   * what was written stays in the old file, new lines go to the file at the path.
   */
  reopen(): void {
    if (this.closed) return;
    this.flush();
    try {
      this.stream.reopen(this.stream.file);
    } catch (err) {
      this.failed(err);
    }
  }

  /** Retries buffered lines once; in sync mode everything else is already on disk. */
  flush(): void {
    if (!this.closed && this.linesPending > 0 && this.fileInPlace()) this.attempt('');
  }

  /** Final flush; lines the disk still refuses are counted as not written. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    const closedEvent = this.closedEvent();
    if (this.linesPending > 0) {
      this.counts.linesNotWritten += this.linesPending;
      this.linesPending = 0;
      this.stream.destroy();
    } else {
      this.stream.end();
    }
    await closedEvent;
  }

  /**
   * Resolves on the stream's 'close' (an 'error' is already counted by the listener), or
   * after CLOSE_WAIT_MS: a stream whose last open failed never closes, and shutdown must end.
   */
  private closedEvent(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, CLOSE_WAIT_MS);
      timer.unref();
      this.stream.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * One synchronous write. With a sync SonicBoom a call that neither failed nor dropped
   * has written everything it held, so every pending line is then on disk.
   */
  private attempt(data: string): void {
    const errorsBefore = this.counts.writeErrors;
    const droppedBefore = this.counts.linesNotWritten;
    try {
      this.stream.write(data);
    } catch (err) {
      // Only a destroyed stream throws here; the line cannot be kept.
      if (data !== '') {
        this.linesPending--;
        this.counts.linesNotWritten++;
      }
      this.failed(err);
      return;
    }
    if (this.counts.writeErrors === errorsBefore && this.counts.linesNotWritten === droppedBefore) this.settled();
    // pino-roll rolls a full file on the stream's next 'drain', which a sync stream emits a
    // tick later: lines written without a yield (the final drain at stop) would all go past
    // the size into one file. A sync stream has written everything once write() returns.
    if (!this.stream.destroyed && this.stream.listenerCount('drain') > 0) this.stream.emit('drain');
  }

  private settled(): void {
    this.counts.linesWritten += this.linesPending;
    this.linesPending = 0;
    if (this.failing) {
      this.failing = false;
      process.stderr.write(`imds-analyzer: log writes to ${this.dir} work again\n`);
    }
  }

  private failed(err: unknown): void {
    this.counts.writeErrors++;
    if (!this.failing) {
      // The journal is the only place left to say so; `stats` carries the counts.
      this.failing = true;
      process.stderr.write(
        `imds-analyzer: cannot write the log in ${this.dir} (${errorCode(err)}); ` +
          `up to ${PENDING_LIMIT_BYTES} bytes are kept for retry, further lines are counted as not written\n`,
      );
    }
  }

  private isRegularFile(): boolean {
    try {
      return lstatSync(this.stream.file).isFile();
    } catch {
      return false;
    }
  }

  /**
   * True when the current file is where it should be. If the directory or the file was
   * removed (or replaced) under us, a fresh file of the same name is made first.
   */
  private fileInPlace(): boolean {
    if (this.isRegularFile()) return true;
    try {
      this.stream.reopen(this.stream.file);
    } catch (err) {
      this.failed(err);
      return false;
    }
    return this.isRegularFile();
  }
}
