// Tokenless requests that IMDS answered with 2xx, per 5-minute period: what CloudWatch's
// AWS/EC2 MetadataNoToken counts for an instance (basic monitoring's period), so that the
// two can be compared period by period.

export const PERIOD_MS = 5 * 60_000;

export const periodStart = (t: number) => Math.floor(t / PERIOD_MS) * PERIOD_MS;

export class TokenlessCounts {
  /** By period number (start / PERIOD_MS): a small integer is a cheaper key than a time in ms. */
  private readonly byPeriod = new Map<number, number>();
  total = 0;

  add(t: number, n = 1): void {
    const period = Math.floor(t / PERIOD_MS);
    this.byPeriod.set(period, (this.byPeriod.get(period) ?? 0) + n);
    this.total += n;
  }

  /** [period start ms, count] in time order. */
  periods(): Array<[number, number]> {
    return [...this.byPeriod].sort((a, b) => a[0] - b[0]).map(([period, n]) => [period * PERIOD_MS, n]);
  }
}
