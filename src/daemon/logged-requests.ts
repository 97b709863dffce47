// The requests a previous daemon wrote last, read back from the end of the log, so that
// replaying its journal (../capture/journal.ts) logs none of them twice, and so that each
// connection it logged is taken up where it stood (ConnectionTracker.resumeFrom).
import { closeSync, fstatSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ResumePoint } from '../logic/connections.js';
import { requestKey, requestKeyOfOlderLine } from '../logic/request-line.js';
import { readStoredLine, type StoredLineOf } from '../model/stored-line.js';

/** Far more than the lines the journal's records can make again. */
const TAIL_BYTES = 16 * 1048576;

export interface LoggedRequests {
  /** requestKey (requestKeyOfOlderLine for older lines) of every request line read. */
  keys: Set<string>;
  /** Per connection cookie, its latest request line's resume_seq (lines that have one). */
  resumePoints: Map<bigint, ResumePoint>;
}

type StoredConnection = NonNullable<StoredLineOf<'imds_request'>['connection']>;

/** What the imds_request lines in the last `tailBytes` of the newest log files say. */
export function loggedRequests(dir: string, tailBytes = TAIL_BYTES): LoggedRequests {
  const logged: LoggedRequests = { keys: new Set(), resumePoints: new Map() };
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((name) => name.endsWith('.log'))
      .map((name) => join(dir, name))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  } catch {
    return logged;
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
      // The first line may be cut by the tail: it reads as corrupt and is skipped.
      for (const text of bytes.toString('utf8').split('\n')) {
        if (!text.includes('"imds_request"')) continue;
        const reading = readStoredLine(text);
        if (reading.kind === 'line' && reading.line.event === 'imds_request' && reading.line.connection)
          take(logged, reading.line.connection);
      }
    } finally {
      closeSync(fd);
    }
  }
  return logged;
}

function take(logged: LoggedRequests, connection: StoredConnection): void {
  const { cookie, request_index: index, start_seq: startSeq, resume_seq: resumeSeq, kernel_ns: kernelNs } = connection;
  if (typeof cookie !== 'string') return;
  if (typeof startSeq === 'number') logged.keys.add(requestKey(cookie, startSeq));
  else if (typeof kernelNs === 'string') logged.keys.add(requestKeyOfOlderLine(cookie, kernelNs));
  if (typeof resumeSeq !== 'number' || typeof index !== 'number' || !/^\d+$/.test(cookie)) return;
  const id = BigInt(cookie);
  const known = logged.resumePoints.get(id);
  if (!known || index + 1 > known.nextIndex) logged.resumePoints.set(id, { seq: resumeSeq, nextIndex: index + 1 });
}
