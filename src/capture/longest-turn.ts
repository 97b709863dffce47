// The longest event-loop turn spent on kernel records: its wall time, which is what timers and
// the watchdog wait for, and the process's CPU time within it, which tells work (the daemon's
// own) from waiting (for a CPU the host's other processes hold, or in a write the disk holds).
export class LongestTurn {
  wallMs = 0;
  cpuMs = 0;

  /** Runs one turn and keeps its times if it is the longest so far. */
  measure(turn: () => void): void {
    const startedNs = process.hrtime.bigint();
    const cpuBefore = process.cpuUsage();
    try {
      turn();
    } finally {
      const wallMs = Number(process.hrtime.bigint() - startedNs) / 1e6;
      if (wallMs > this.wallMs) {
        const cpu = process.cpuUsage(cpuBefore);
        this.wallMs = wallMs;
        this.cpuMs = (cpu.user + cpu.system) / 1000;
      }
    }
  }

  /** The longer of two. */
  static longer(a: LongestTurn, b: LongestTurn): LongestTurn {
    return a.wallMs >= b.wallMs ? a : b;
  }
}
