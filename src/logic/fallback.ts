// Fallback diagnosis: an SDK whose token PUT failed (403/404/405) or got no answer, and
// that then makes an IMDSv1 request, fell back to IMDSv1. Keyed by process (pid and
// start time); time is passed in; memory is bounded.

export type TokenOutcome = number | 'no-answer';

export interface Fallback {
  reason: string;
}

/** A v1 request this long after a failed token PUT still counts as its fallback. */
export const FALLBACK_WINDOW_NS = 60_000_000_000n;
export const MAX_TRACKED_PROCESSES = 4096;
const FAILED = new Set<TokenOutcome>([403, 404, 405, 'no-answer']);

export class FallbackDetector {
  private readonly failures = new Map<string, { outcome: TokenOutcome; atNs: bigint }>();

  onTokenRequest(event: { process: string; status: TokenOutcome; atNs: bigint }): void {
    this.failures.delete(event.process);
    if (!FAILED.has(event.status)) return;
    this.failures.set(event.process, { outcome: event.status, atNs: event.atNs });
    if (this.failures.size > MAX_TRACKED_PROCESSES) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }

  onV1Request(event: { process: string; atNs: bigint }): Fallback | null {
    const failure = this.failures.get(event.process);
    if (!failure || event.atNs - failure.atNs > FALLBACK_WINDOW_NS) return null;
    const what = failure.outcome === 'no-answer' ? 'got no answer' : `was answered ${failure.outcome}`;
    return { reason: `token PUT ${what}, then the same process fell back to IMDSv1` };
  }
}
