// The niceness the shipped unit gives the daemon (its Nice=), applied as systemd applies it, for
// the tests and benches that measure the daemon against a flood as it runs in production.
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './compiled.js';

/** The niceness the shipped unit gives the daemon (Nice=). */
export function unitNice(): number {
  const unit = readFileSync(join(REPO_ROOT, 'packaging/systemd/imds-analyzer.service'), 'utf8');
  const nice = Number(/^Nice=(-?\d+)$/m.exec(unit)?.[1]);
  if (!Number.isInteger(nice)) throw new Error('the unit names no Nice=');
  return nice;
}

/**
 * Nice= as systemd applies it: to every thread of the process (niceness is per thread on
 * Linux; threads made later inherit it from the thread that makes them).
 */
export function applyNice(pid: number, nice: number): void {
  for (const tid of readdirSync(`/proc/${pid}/task`)) setPriority(Number(tid), nice);
}
