// Lines as the daemon's log sink writes them (pino, its key order and escaping), for tests
// of what reads them back.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogSink } from '../../src/logging/index.js';
import { openTestSink } from './test-sink.js';

/** What `write` hands the sink, as the lines the sink wrote into `dir` (a fresh directory). */
export async function sinkLines(dir: string, write: (sink: LogSink) => void): Promise<string[]> {
  const identity = { instance_id: 'i-0123456789abcdef0', region: 'eu-west-1', boot_id: 'b-1' };
  const rotation = { maxSizeMB: 10, frequency: 'daily', maxFiles: 2 } as const;
  const sink = await openTestSink(dir, { rotation, identity });
  write(sink);
  await sink.close();
  return readdirSync(dir)
    .filter((name) => name.endsWith('.log'))
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n'))
    .filter((line) => line !== '');
}
