// Durations and counts as a person writes and reads them: 30m, 24h, 7d in; "4d 3h", "2 boots" out.

const UNIT_MS = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 } as const;

/** `90s`, `30m`, `24h`, `7d` or a plain `0`, in milliseconds; null when it is not one. */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  const match = /^(\d+)\s*([smhd])$/.exec(trimmed);
  return match ? Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS] : null;
}

export function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return `${m}m ${Math.floor(seconds % 60)}s`;
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
