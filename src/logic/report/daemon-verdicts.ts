// The daemons' own verdict lines in the report's input. A verdict line is what its daemon
// concluded, not evidence: the latest per host answers only for a host whose input holds no
// other line (a fleet's collected verdicts without the logs behind them).
import type { StoredLineOf } from '../../model/stored-line.js';
import type { LogTokenless } from './cross-check.js';
import type { HostVerdict } from './schema.js';
import { hostVerdictOf, tokenlessOfVerdict } from './verdict-line.js';

/** A host's latest verdict line and its time. */
export interface LatestVerdict {
  t: number;
  line: StoredLineOf<'verdict'>;
}

/** Whether the input holds a line of the host's own besides its verdict lines. */
type HasEvidence = (key: string) => boolean;

export class DaemonVerdicts {
  private readonly latest = new Map<string, LatestVerdict>();

  /** A host's verdict line, kept if it is the latest so far (the later of two at one time). */
  keep(key: string, verdict: LatestVerdict): void {
    const latest = this.latest.get(key);
    if (!latest || verdict.t >= latest.t) this.latest.set(key, verdict);
  }

  /** The lines kept since the last call, handed over and forgotten here (ReportBuilder.takePartial). */
  take(): Map<string, LatestVerdict> {
    const taken = new Map(this.latest);
    this.latest.clear();
    return taken;
  }

  absorb(verdicts: Map<string, LatestVerdict>): void {
    for (const [key, other] of verdicts) this.keep(key, other);
  }

  /** Hosts judged by their latest verdict line: those with no other line in the input. */
  hostVerdicts(hasEvidence: HasEvidence): HostVerdict[] {
    return [...this.latest].filter(([key]) => !hasEvidence(key)).map(([key, { line }]) => hostVerdictOf(line, key));
  }

  /** What those hosts' verdict lines say about their tokenless 2xx requests, for the cross-check. */
  tokenless(hasEvidence: HasEvidence): LogTokenless[] {
    return [...this.latest]
      .filter(([key]) => !hasEvidence(key))
      .map(([key, { line }]) => tokenlessOfVerdict(line, key));
  }
}
