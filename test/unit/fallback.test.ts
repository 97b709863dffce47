// FallbackDetector: a failed or unanswered token PUT, then IMDSv1 from the same process.
import { describe, expect, it } from 'vitest';
import { FALLBACK_WINDOW_NS, FallbackDetector, MAX_TRACKED_PROCESSES } from '../../src/logic/fallback.js';

const SECOND = 1_000_000_000n;

describe('FallbackDetector', () => {
  it.each([403, 404, 405] as const)('a token PUT answered %i, then v1, is a fallback', (status) => {
    const d = new FallbackDetector();
    d.onTokenRequest({ process: '42:1000', status, atNs: 10n * SECOND });
    expect(d.onV1Request({ process: '42:1000', atNs: 10n * SECOND + 2_000_000n })).toEqual({
      reason: `token PUT was answered ${status}, then the same process fell back to IMDSv1`,
    });
  });

  it('an unanswered token PUT, then v1, is a fallback', () => {
    const d = new FallbackDetector();
    d.onTokenRequest({ process: 'p', status: 'no-answer', atNs: 0n });
    expect(d.onV1Request({ process: 'p', atNs: SECOND })?.reason).toBe(
      'token PUT got no answer, then the same process fell back to IMDSv1',
    );
  });

  it('a working token, another process, or no PUT at all is no fallback', () => {
    const d = new FallbackDetector();
    d.onTokenRequest({ process: 'ok', status: 200, atNs: 0n });
    d.onTokenRequest({ process: 'bad-ttl', status: 400, atNs: 0n });
    d.onTokenRequest({ process: 'failed', status: 403, atNs: 0n });
    expect(d.onV1Request({ process: 'ok', atNs: 1n })).toBeNull();
    expect(d.onV1Request({ process: 'bad-ttl', atNs: 1n })).toBeNull();
    expect(d.onV1Request({ process: 'other', atNs: 1n })).toBeNull();
    // Same pid, other start time: another process.
    expect(d.onV1Request({ process: 'failed:2', atNs: 1n })).toBeNull();
  });

  it('a later successful PUT clears the failure', () => {
    const d = new FallbackDetector();
    d.onTokenRequest({ process: 'p', status: 403, atNs: 0n });
    d.onTokenRequest({ process: 'p', status: 200, atNs: SECOND });
    expect(d.onV1Request({ process: 'p', atNs: 2n * SECOND })).toBeNull();
  });

  it('counts only within the window, and never backwards in time', () => {
    const d = new FallbackDetector();
    d.onTokenRequest({ process: 'p', status: 404, atNs: SECOND });
    expect(d.onV1Request({ process: 'p', atNs: SECOND + FALLBACK_WINDOW_NS })).not.toBeNull();
    expect(d.onV1Request({ process: 'p', atNs: SECOND + FALLBACK_WINDOW_NS + 1n })).toBeNull();
    expect(d.onV1Request({ process: 'p', atNs: SECOND - 1n })).toBeNull();
  });

  it('forgets expired failures and stays bounded in count', () => {
    const d = new FallbackDetector();
    for (let i = 0; i < 1000; i++) d.onTokenRequest({ process: `old${i}`, status: 403, atNs: 0n });
    d.onTokenRequest({ process: 'new', status: 403, atNs: FALLBACK_WINDOW_NS + 1n });
    expect(d.trackedProcesses).toBe(1);

    const many = new FallbackDetector();
    for (let i = 0; i < 3 * MAX_TRACKED_PROCESSES; i++)
      many.onTokenRequest({ process: `p${i}`, status: 'no-answer', atNs: BigInt(i) });
    expect(many.trackedProcesses).toBe(MAX_TRACKED_PROCESSES);
    // The newest are kept, the oldest went first.
    expect(many.onV1Request({ process: `p${3 * MAX_TRACKED_PROCESSES - 1}`, atNs: SECOND })).not.toBeNull();
    expect(many.onV1Request({ process: 'p0', atNs: SECOND })).toBeNull();
  });
});
