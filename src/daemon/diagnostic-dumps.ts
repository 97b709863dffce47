/**
 * A diagnostic report or heap snapshot would hold argv and token values in plain text: none
 * is written on a signal or a crash, whatever NODE_OPTIONS asks (the unit also sets LimitCORE=0).
 */
export function noDiagnosticDumps(): void {
  process.report.reportOnSignal = false;
  process.report.reportOnFatalError = false;
  process.report.reportOnUncaughtException = false;
  const dumping =
    /--(?:heapsnapshot-signal|heapsnapshot-near-heap-limit|report-on-signal|report-on-fatalerror|report-uncaught-exception)\b/;
  for (const option of [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]) {
    if (dumping.test(option))
      throw new Error(`refusing to run with ${option.split('=')[0]}: it writes process memory (argv, tokens) to disk`);
  }
}
