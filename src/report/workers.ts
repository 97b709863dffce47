// Reading the input on several threads: each reader (worker threads, and the calling thread
// beside them: its modules are loaded and warm already) reads whole files and hands back what
// they hold (the part of the report, or for the fleet answer each host's latest verdict
// line); the results are added together in input order, so the report is the one a single
// reader would make. This module is also the workers' script: loaded as a worker with its
// role in workerData, it serves files until told to stop.
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { CommandError, EXIT, exitStatusOf } from '../logic/exit-status.js';
import { ReportBuilder, type ReportOptions, type ReportPartial } from '../logic/report/aggregate.js';
import { LatestVerdicts } from '../logic/report/latest-verdicts.js';
import { eachLineOf, readLineChunks, readTextChunks } from './lines.js';

const ROLE = 'imds-analyzer report reader';
/** More readers than cores only adds switching; two is what the target machines have. */
const MAX_WORKERS = 4;
/**
 * A worker's short-lived values (lines, matches) are collected in a small young generation:
 * a bigger one holds more garbage at each moment for no gain in time, and every worker has its own.
 */
const WORKER_YOUNG_GENERATION_MB = 8;

/** What a worker does with each file: the report's part of it, or its latest verdict lines. */
type Task = 'report' | 'latest-verdicts';

interface Job {
  index: number;
  file: string;
}

type Done<R> = { index: number; result: R } | { index: number; ioError: string };

/**
 * Reads a file, item by item, into `add`. A file whose content ends early or is not what its
 * name says (a gzip cut short while it was being rotated, a .gz that is not gzip) keeps the
 * items read before the failure and gives the reason; a failing read system call (EIO) ends
 * the report with EXIT.io: the disk, not the evidence, is the problem.
 */
async function readEach<T>(
  file: string,
  read: (file: string) => AsyncGenerator<T>,
  add: (item: T) => void,
): Promise<string | null> {
  try {
    for await (const item of read(file)) add(item);
    return null;
  } catch (err) {
    if (exitStatusOf(err) === EXIT.io)
      throw new CommandError(EXIT.io, `reading ${file} failed: ${(err as Error).message}`);
    return (err as Error).message;
  }
}

/** Reads one file's lines into the builder (readEach says what a failure does). */
export async function readFileInto(
  builder: ReportBuilder,
  file: string,
  add = (text: string) => builder.addText(text),
): Promise<void> {
  builder.addFile();
  const unreadable = await readEach(file, readTextChunks, (chunk) => eachLineOf(chunk, add));
  if (unreadable !== null) builder.addUnreadable(file, unreadable);
}

/** One file's verdict lines that can matter: each host's latest in it, and the irregular ones. */
export interface FileVerdicts {
  lines: string[];
  /** Why the file was not read to its end, or null. */
  unreadable: string | null;
}

/** One file's latest verdict lines, read as bytes (LatestVerdicts.offerChunk). */
export async function latestVerdictsOf(file: string, window: ReportOptions): Promise<FileVerdicts> {
  const verdicts = new LatestVerdicts(window);
  const unreadable = await readEach(file, readLineChunks, (chunk) => verdicts.offerChunk(chunk));
  return { lines: [...verdicts.lines()], unreadable };
}

/** How many readers to use by default (this thread and workers): one per core, at most MAX_WORKERS. */
export function defaultWorkers(): number {
  return Math.min(MAX_WORKERS, availableParallelism());
}

/** Whether this module can run as a worker: compiled JavaScript, not a TypeScript source under a test runner. */
export function workersAvailable(): boolean {
  return /\.m?js$/.test(fileURLToPath(import.meta.url));
}

export interface FileProgress {
  file: string;
  lines: number;
}

/** What a reader does with one file, for `task` (a reader keeps its own builder between files). */
function readerOf(task: Task, options: ReportOptions): (file: string) => Promise<unknown> {
  const builder = new ReportBuilder(options);
  return async (file) => {
    if (task === 'latest-verdicts') return latestVerdictsOf(file, options);
    await readFileInto(builder, file);
    return builder.takePartial();
  };
}

/**
 * Runs `task` over the files on `count` readers, this thread and `count - 1` workers;
 * `onDone` gets each file's result, in file order.
 */
async function onWorkers<R>(
  files: string[],
  count: number,
  task: Task,
  options: ReportOptions,
  onDone: (index: number, result: R) => void,
): Promise<void> {
  const workers = Array.from(
    { length: Math.min(count, files.length) - 1 },
    () =>
      new Worker(new URL(import.meta.url), {
        workerData: { role: ROLE, task, options },
        resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      }),
  );
  const results = new Map<number, R>();
  let next = 0;
  let delivered = 0;
  const deliver = (index: number, result: R) => {
    results.set(index, result);
    // Delivered as soon as every earlier file is: memory holds only results that wait.
    while (results.has(delivered)) {
      onDone(delivered, results.get(delivered) as R);
      results.delete(delivered);
      delivered++;
    }
  };
  let failed = false;
  const here = async () => {
    const read = readerOf(task, options);
    while (next < files.length && !failed) {
      const index = next++;
      deliver(index, (await read(files[index] as string)) as R);
    }
  };
  try {
    await Promise.all([
      here().catch((err: unknown) => {
        failed = true;
        throw err;
      }),
      ...workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            let busy = false;
            const give = () => {
              busy = next < files.length && !failed;
              if (!busy) {
                resolve();
                return;
              }
              const job: Job = { index: next, file: files[next] as string };
              next++;
              worker.postMessage(job);
            };
            worker.on('message', (done: Done<R>) => {
              if ('ioError' in done) {
                busy = false;
                failed = true;
                reject(new CommandError(EXIT.io, done.ioError));
                return;
              }
              deliver(done.index, done.result);
              give();
            });
            worker.once('error', reject);
            worker.once('exit', (code) => {
              if (busy) reject(new Error(`a report worker stopped while reading (exit ${code})`));
            });
            give();
          }),
      ),
    ]);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * Reads the files on `count` readers (onWorkers) and adds their parts to `builder` in file order.
 * `onFile` is told of each file done (for progress).
 */
export async function readInWorkers(
  files: string[],
  options: ReportOptions,
  builder: ReportBuilder,
  count: number,
  onFile: (done: FileProgress) => void = () => {},
): Promise<void> {
  await onWorkers<ReportPartial>(files, count, 'report', options, (index, partial) => {
    builder.absorb(partial);
    onFile({ file: files[index] as string, lines: partial.lines });
  });
}

/** latestVerdictsOf each file on `count` readers (onWorkers), handed to `onDone` in file order. */
export async function latestVerdictsInWorkers(
  files: string[],
  options: ReportOptions,
  count: number,
  onDone: (index: number, verdicts: FileVerdicts) => void,
): Promise<void> {
  await onWorkers<FileVerdicts>(files, count, 'latest-verdicts', options, onDone);
}

function serve(): void {
  const port = parentPort;
  if (!port) return;
  const { task, options } = workerData as { task: Task; options: ReportOptions };
  const read = readerOf(task, options);
  port.on('message', (job: Job) => {
    void read(job.file).then(
      (result) => port.postMessage({ index: job.index, result } satisfies Done<unknown>),
      (err: Error) => port.postMessage({ index: job.index, ioError: err.message } satisfies Done<unknown>),
    );
  });
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) serve();
