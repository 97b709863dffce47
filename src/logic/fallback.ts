// Fallback diagnosis: an SDK whose token PUT failed (403/404/405) or got no answer, and
// that then makes an IMDSv1 request, fell back to IMDSv1 (docs/imds.md).
// Keyed by process (pid and start time); time is passed in, never read; memory is
// bounded by count and by expiry.

export type TokenOutcome = number | 'no-answer';

export interface Fallback {
  reason: string;
}

/**
 * A v1 request this long after a failed token PUT still counts as its fallback. SDKs
 * give up on an unanswered PUT after about a second (botocore's default timeout; the
 * JavaScript SDK v2 retries it a few times) and then fall back at once; ten seconds
 * cover the retries without blaming a much later v1 call on an old failure.
 */
export const FALLBACK_WINDOW_NS = 10_000_000_000n;
export const MAX_TRACKED_PROCESSES = 4096;
/** The reason given when the PUT got no answer at all (the hop-limit case in containers). */
export const UNANSWERED_PUT_REASON = 'token PUT got no answer, then the same process fell back to IMDSv1';
const REFUSED_PUT_PREFIX = 'token PUT was answered ';

/** Whether the fallback followed a PUT that IMDS (or something in between) answered with a refusal. */
export function followedRefusedPut(fallback: Fallback): boolean {
  return fallback.reason.startsWith(REFUSED_PUT_PREFIX);
}

/** Token PUT answers after which SDKs fall back to IMDSv1. */
const FALLBACK_STATUSES = new Set<TokenOutcome>([403, 404, 405, 'no-answer']);

interface Failure {
  outcome: TokenOutcome;
  atNs: bigint;
}

export class FallbackDetector {
  /** Process key -> its latest failed token PUT; insertion order is time order. */
  private readonly failures = new Map<string, Failure>();

  get trackedProcesses(): number {
    return this.failures.size;
  }

  onTokenRequest(event: { process: string; status: TokenOutcome; atNs: bigint }): void {
    this.failures.delete(event.process);
    this.expire(event.atNs);
    if (!FALLBACK_STATUSES.has(event.status)) return;
    this.failures.set(event.process, { outcome: event.status, atNs: event.atNs });
    for (const key of this.failures.keys()) {
      if (this.failures.size <= MAX_TRACKED_PROCESSES) break;
      this.failures.delete(key);
    }
  }

  onV1Request(event: { process: string; atNs: bigint }): Fallback | null {
    const failure = this.failures.get(event.process);
    if (!failure || event.atNs < failure.atNs || event.atNs - failure.atNs > FALLBACK_WINDOW_NS) return null;
    if (failure.outcome === 'no-answer') return { reason: UNANSWERED_PUT_REASON };
    return { reason: `${REFUSED_PUT_PREFIX}${failure.outcome}, then the same process fell back to IMDSv1` };
  }

  /** Forgets failures too old to explain any v1 request from now on. */
  private expire(nowNs: bigint): void {
    for (const [key, failure] of this.failures) {
      if (nowNs - failure.atNs <= FALLBACK_WINDOW_NS) break;
      this.failures.delete(key);
    }
  }
}
