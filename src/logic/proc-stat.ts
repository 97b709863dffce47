// One line of /proc/<pid>/stat, parsed (proc(5)). comm is in parentheses and may itself
// contain ") ", so the fields are counted from the last one.

export interface ProcStat {
  comm: string;
  /** R, S, D, Z, T, ... */
  state: string;
  ppid: number;
  /** Field 22: start time in clock ticks since boot; tells a live process from a reused pid. */
  startTicks: bigint;
}

export function parseProcStat(stat: string): ProcStat | null {
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const fields = stat.slice(close + 2).split(' ');
  const [state, ppidText = '', startText = ''] = [fields[0], fields[1], fields[19]];
  if (!state || !/^\d+$/.test(ppidText) || !/^\d+$/.test(startText)) return null;
  return { comm: stat.slice(open + 1, close), state, ppid: Number(ppidText), startTicks: BigInt(startText) };
}
