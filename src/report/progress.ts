// Progress of a long report on stderr, only when stderr is a terminal: files, lines, rate and
// the time left (from the bytes of the files done), redrawn in place at most a few times a
// second and erased before the report is printed.
import { statSync } from 'node:fs';
import type { FileProgress } from './workers.js';

const REDRAW_MS = 250;

export interface ProgressOutput {
  isTTY?: boolean;
  write(text: string): unknown;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export class Progress {
  private sizes = new Map<string, number>();
  private totalBytes = 0;
  private doneBytes = 0;
  private files = 0;
  private lines = 0;
  private startedMs = 0;
  private drawnMs = 0;
  private drawn = false;

  constructor(
    private readonly out: ProgressOutput,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.out.isTTY === true;
  }

  start(files: string[]): void {
    if (!this.enabled) return;
    this.startedMs = this.now();
    for (const file of files) {
      const size = statSync(file, { throwIfNoEntry: false })?.size ?? 0;
      this.sizes.set(file, size);
      this.totalBytes += size;
    }
  }

  file(done: FileProgress): void {
    if (!this.enabled) return;
    this.files++;
    this.lines += done.lines;
    this.doneBytes += this.sizes.get(done.file) ?? 0;
    const now = this.now();
    if (now - this.drawnMs < REDRAW_MS && this.files < this.sizes.size) return;
    this.drawnMs = now;
    this.out.write(`\r\u001b[K${this.line(now)}`);
    this.drawn = true;
  }

  /** What the progress line says at `now`. */
  line(now: number): string {
    const seconds = Math.max((now - this.startedMs) / 1000, 0.001);
    const rate = this.lines / seconds;
    const share = this.totalBytes > 0 ? this.doneBytes / this.totalBytes : 1;
    const left = share > 0 ? (seconds * (1 - share)) / share : Number.POSITIVE_INFINITY;
    return `report: ${this.files}/${this.sizes.size} files, ${this.lines.toLocaleString('en-US')} lines, ${Math.round(rate).toLocaleString('en-US')} lines/s, ${clock(seconds)} elapsed, ${clock(left)} left`;
  }

  finish(): void {
    if (this.drawn) this.out.write('\r\u001b[K');
  }
}
