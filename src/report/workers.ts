// Reading the input on worker threads: each worker reads whole files (gunzip, lines, JSON,
// the contract, the aggregate) and hands back the part of the report they hold; the parts
// are added together in input order, so the report is the one a single reader would make.
// This module is also the workers' script: loaded as a worker with its role in workerData,
// it serves files until told to stop.
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { CommandError, EXIT, exitStatusOf } from '../logic/exit-status.js';
import { ReportBuilder, type ReportOptions, type ReportPartial } from '../logic/report/aggregate.js';
import { readLineBatches } from './lines.js';

const ROLE = 'imds-analyzer report reader';
/** More workers than cores only adds switching; two is what the target machines have. */
const MAX_WORKERS = 4;
/**
 * A worker's short-lived values (lines, matches) are collected in a small young generation:
 * a bigger one holds more garbage at each moment for no gain in time, and every worker has its own.
 */
const WORKER_YOUNG_GENERATION_MB = 8;

interface Job {
  index: number;
  file: string;
}

type Done = { index: number; partial: ReportPartial } | { index: number; ioError: string };

/**
 * Reads one file into the builder. A file whose content ends early or is not what its name
 * says (a gzip cut short while it was being rotated, a .gz that is not gzip) keeps the lines
 * read before the failure and is named; a failing read system call (EIO) ends the report with
 * EXIT.io: the disk, not the evidence, is the problem.
 */
export async function readFileInto(
  builder: ReportBuilder,
  file: string,
  add = (text: string) => builder.addText(text),
): Promise<void> {
  builder.addFile();
  try {
    for await (const lines of readLineBatches(file)) for (const text of lines) add(text);
  } catch (err) {
    if (exitStatusOf(err) === EXIT.io)
      throw new CommandError(EXIT.io, `reading ${file} failed: ${(err as Error).message}`);
    builder.addUnreadable(file, (err as Error).message);
  }
}

/** How many workers to use by default: one per core, at most MAX_WORKERS. */
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

/**
 * Reads the files on `count` workers and adds their parts to `builder` in file order.
 * `onFile` is told of each file done (for progress).
 */
export async function readInWorkers(
  files: string[],
  options: ReportOptions,
  builder: ReportBuilder,
  count: number,
  onFile: (done: FileProgress) => void = () => {},
): Promise<void> {
  const workers = Array.from(
    { length: Math.min(count, files.length) },
    () =>
      new Worker(new URL(import.meta.url), {
        workerData: { role: ROLE, options },
        resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      }),
  );
  const parts = new Map<number, ReportPartial>();
  let next = 0;
  let merged = 0;
  try {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            let busy = false;
            const give = () => {
              busy = next < files.length;
              if (!busy) {
                resolve();
                return;
              }
              const job: Job = { index: next, file: files[next] as string };
              next++;
              worker.postMessage(job);
            };
            worker.on('message', (done: Done) => {
              if ('ioError' in done) {
                busy = false;
                reject(new CommandError(EXIT.io, done.ioError));
                return;
              }
              const { index, partial } = done;
              parts.set(index, partial);
              onFile({ file: files[index] as string, lines: partial.lines });
              // Added as soon as every earlier file is: memory holds only parts that wait.
              while (parts.has(merged)) {
                builder.absorb(parts.get(merged) as ReportPartial);
                parts.delete(merged);
                merged++;
              }
              give();
            });
            worker.once('error', reject);
            worker.once('exit', (code) => {
              if (busy) reject(new Error(`a report worker stopped while reading (exit ${code})`));
            });
            give();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function serve(): void {
  const port = parentPort;
  if (!port) return;
  const builder = new ReportBuilder((workerData as { options: ReportOptions }).options);
  port.on('message', (job: Job) => {
    void readFileInto(builder, job.file).then(
      () => port.postMessage({ index: job.index, partial: builder.takePartial() } satisfies Done),
      (err: Error) => port.postMessage({ index: job.index, ioError: err.message } satisfies Done),
    );
  });
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) serve();
