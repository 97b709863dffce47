// Removing network namespaces a testbed made: whatever still runs inside them was
// started by that testbed (clients' orphans included) and is killed first, so that
// deleting the name really frees the namespace and its links.
import { tryRunSync } from './exec.js';

function killProcessesIn(ns: string): void {
  for (const pid of (tryRunSync(['ip', 'netns', 'pids', ns]) ?? '').split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export function namespaceExists(ns: string): boolean {
  return tryRunSync(['ip', 'netns', 'pids', ns]) !== null;
}

/** Kills what runs in each namespace and deletes it. Returns the names still present afterwards. */
export function deleteNamespaces(namespaces: readonly string[]): string[] {
  for (const ns of namespaces) killProcessesIn(ns);
  for (const ns of namespaces) tryRunSync(['ip', 'netns', 'del', ns]);
  return namespaces.filter(namespaceExists);
}
