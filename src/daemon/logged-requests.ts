// The requests a previous daemon wrote last, read back from the end of the log, so that
// replaying its journal (../capture/journal.ts) logs none of them twice.
import { closeSync, fstatSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { requestKey, requestKeyOfOlderLine } from '../logic/request-line.js';

/** Far more than the lines the journal's records can make again. */
const TAIL_BYTES = 16 * 1048576;

/** requestKey (requestKeyOfOlderLine for older lines) of every imds_request line in the last `tailBytes` of the newest log files. */
export function loggedRequestKeys(dir: string, tailBytes = TAIL_BYTES): Set<string> {
  const keys = new Set<string>();
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((name) => name.endsWith('.log'))
      .map((name) => join(dir, name))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  } catch {
    return keys;
  }
  let budget = tailBytes;
  for (const file of files) {
    if (budget <= 0) break;
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const length = Math.min(size, budget);
      const bytes = Buffer.alloc(length);
      readSync(fd, bytes, 0, length, size - length);
      budget -= length;
      // The first line may be cut by the tail: it fails to parse and is skipped.
      for (const text of bytes.toString('utf8').split('\n')) {
        if (!text.includes('"imds_request"')) continue;
        try {
          const line = JSON.parse(text) as {
            event?: string;
            connection?: { cookie?: unknown; start_seq?: unknown; kernel_ns?: unknown };
          };
          const { cookie, start_seq: startSeq, kernel_ns: kernelNs } = line.connection ?? {};
          if (line.event !== 'imds_request' || typeof cookie !== 'string') continue;
          if (typeof startSeq === 'number') keys.add(requestKey(cookie, startSeq));
          else if (typeof kernelNs === 'string') keys.add(requestKeyOfOlderLine(cookie, kernelNs));
        } catch {
          // Not a whole line.
        }
      }
    } finally {
      closeSync(fd);
    }
  }
  return keys;
}
