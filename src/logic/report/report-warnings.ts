// What limits the report without deciding the verdict: callers attributed incompletely, hosts
// whose capture stopped before the input's end, files and lines that could not be read.
import type { HostEvidence } from './host-evidence.js';

export function reportWarnings(
  hosts: HostEvidence[],
  unreadableFiles: readonly string[],
  corruptLines: number,
): string[] {
  const warnings: string[] = [];
  const processLost = hosts.reduce((n, h) => n + h.lostProcessRecords, 0);
  if (processLost > 0) {
    warnings.push(`the kernel lost ${processLost} process record(s): some callers may be attributed incompletely`);
  }
  for (const host of hosts) {
    const stoppedMs = host.coverage().stoppedAtEndMs;
    if (stoppedMs !== null)
      warnings.push(
        `${host.host}: its last daemon was stopped at ${new Date(stoppedMs).toISOString()} (not for a shutdown) and none started after: nothing since is observed`,
      );
  }
  for (const file of unreadableFiles) warnings.push(`file not read to its end, later lines missing: ${file}`);
  if (corruptLines > 0) warnings.push(`${corruptLines} corrupt or truncated line(s) skipped`);
  return warnings;
}
