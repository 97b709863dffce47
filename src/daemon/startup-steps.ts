// Milliseconds since the process started at the end of each start-up step (in the ready
// line), and the kernel's uptime at READY.
import { readFileSync } from 'node:fs';

export class StartupSteps {
  readonly ms: Record<string, number> = {};

  // process.uptime(), not performance.now(): the latter loads perf_hooks, a cost of its own.
  done(step: string): void {
    this.ms[step] = Math.round(process.uptime() * 1000);
  }
}

/** Milliseconds since the kernel started (CLOCK_BOOTTIME, as /proc/uptime counts it), or null. */
export function kernelUptimeMs(): number | null {
  try {
    const seconds = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Number.isFinite(seconds) ? Math.round(seconds * 1000) : null;
  } catch {
    return null;
  }
}
