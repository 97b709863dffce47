// The host's own verdict line (../logic/report/verdict-line.ts), written periodically and at
// stop. Every line the daemon writes also goes to a ReportBuilder, the one `report` uses;
// what earlier daemons wrote is read once from the log directory at start, newest files
// first, up to a byte budget (the verdict's window says how far back that reached).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ReportBuilder } from '../logic/report/aggregate.js';
import type { StoredLogLine } from '../model/stored-line.js';
import { verdictFields } from '../logic/report/verdict-line.js';
import type { HostIdentity } from '../logic/host-identity.js';
import { LOG_FILE_PREFIX, type LogSink } from '../logging/index.js';
import { readLines } from '../logging/read-lines.js';

/** Enough for the default rotation's whole retention of a busy host; a bound on start-up reading. */
export const SEED_BUDGET_BYTES = 256 * 1048576;
/** How long a stop waits for the earlier logs to be read before it writes the verdict without them. */
const SEED_WAIT_AT_STOP_MS = 2000;
/** `{"level":30,"time":1733...`: pino writes level then time first on every line. */
const LINE_TIME = /^\{"level":\d+,"time":(\d+)/;

export interface VerdictWriterOptions {
  logDir: string;
  identity: HostIdentity;
  hostname: string;
  version: string;
  seedBudgetBytes?: number;
}

/** Our log files in the directory, newest first, as many as the budget holds. */
function filesWithin(dir: string, budget: number): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.startsWith(LOG_FILE_PREFIX) && name.endsWith('.log'));
  } catch {
    return [];
  }
  const files = names
    .map((name) => ({ path: join(dir, name), st: statSync(join(dir, name), { throwIfNoEntry: false }) }))
    .filter((f) => f.st?.isFile())
    .sort((a, b) => (b.st?.mtimeMs ?? 0) - (a.st?.mtimeMs ?? 0));
  const chosen: string[] = [];
  let left = budget;
  for (const { path, st } of files) {
    left -= st?.size ?? 0;
    if (left < 0) break;
    chosen.push(path);
  }
  return chosen;
}

export class VerdictWriter {
  private readonly builder = new ReportBuilder();
  /** Lines written from here on are seen as they are written; older ones are read from the files. */
  private readonly sinceMs = Date.now();
  private readonly stopSeeding = new AbortController();
  private seeding: Promise<void> = Promise.resolve();
  private seedDone = false;
  private timer: NodeJS.Timeout | undefined;
  private sink: LogSink | null = null;

  constructor(private readonly options: VerdictWriterOptions) {}

  /** One line as the sink wrote it: the same text `report` reads from the file. */
  see(text: string): void {
    // The sink writes the contract: parsed, not checked again.
    this.builder.add(JSON.parse(text) as StoredLogLine);
  }

  /** Settles once the earlier logs are read (or their reading has ended). */
  get seeded(): Promise<void> {
    return this.seeding;
  }

  /** Reads the earlier lines, then writes a verdict line through `sink` every `intervalSeconds`. */
  start(sink: LogSink, intervalSeconds: number): void {
    this.sink = sink;
    this.seeding = this.seed().then(() => {
      this.seedDone = true;
    });
    this.timer = setInterval(() => {
      if (this.seedDone) this.write();
    }, intervalSeconds * 1000);
    this.timer.unref();
  }

  private async seed(): Promise<void> {
    for (const file of filesWithin(this.options.logDir, this.options.seedBudgetBytes ?? SEED_BUDGET_BYTES)) {
      try {
        for await (const text of readLines(file)) {
          if (this.stopSeeding.signal.aborted) {
            this.builder.addUnreadable(file, 'the daemon stopped before it had read its earlier logs');
            return;
          }
          const time = Number(LINE_TIME.exec(text)?.[1] ?? Number.NaN);
          // This daemon's own lines are counted as they are written.
          if (!(time >= this.sinceMs)) this.builder.addText(text);
        }
      } catch (err) {
        this.builder.addUnreadable(file, (err as Error).message);
      }
    }
  }

  /** One verdict line over everything seen so far. */
  write(): void {
    if (!this.sink) return;
    const now = Date.now();
    const fields = verdictFields(this.builder.result(), this.builder.tokenlessOf(this.host()), {
      version: this.options.version,
      pid: process.pid,
      instanceId: this.options.identity.instance_id,
      timeMs: now,
    });
    const { event: _, ...body } = fields;
    this.sink.lifecycle('verdict', body);
  }

  private host(): string {
    return this.options.identity.instance_id ?? this.options.hostname;
  }

  /** On a failed start: no more lines, no more reading. */
  cancel(): void {
    clearInterval(this.timer);
    this.stopSeeding.abort();
    this.sink = null;
  }

  /** At stop: the reading of earlier logs ends (the verdict then says so), the last verdict line is written. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    let waited: NodeJS.Timeout | undefined;
    await Promise.race([this.seeding, new Promise((resolve) => (waited = setTimeout(resolve, SEED_WAIT_AT_STOP_MS)))]);
    clearTimeout(waited);
    this.stopSeeding.abort();
    await this.seeding;
    this.write();
  }
}
