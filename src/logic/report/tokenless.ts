// Tokenless requests that IMDS answered with 2xx, per 5-minute period: what CloudWatch's
// AWS/EC2 MetadataNoToken counts for an instance (basic monitoring's period), so that the
// two can be compared period by period.

export const PERIOD_MS = 5 * 60_000;

export const periodStart = (t: number) => Math.floor(t / PERIOD_MS) * PERIOD_MS;

export class TokenlessCounts {
  private readonly byPeriod = new Map<number, number>();
  total = 0;

  add(t: number, n = 1): void {
    const start = periodStart(t);
    this.byPeriod.set(start, (this.byPeriod.get(start) ?? 0) + n);
    this.total += n;
  }

  get(start: number): number {
    return this.byPeriod.get(start) ?? 0;
  }

  /** [period start ms, count] in time order. */
  periods(): Array<[number, number]> {
    return [...this.byPeriod].sort((a, b) => a[0] - b[0]);
  }
}
