// One daemon run written as the daemon writes it: its sink observed by a VerdictWriter, a
// ready line, the requests, a stopping line, the verdict written at stop.
import { VerdictWriter } from '../../src/daemon/verdict-writer.js';
import { createLogSink } from '../../src/logging/index.js';
import { daemonDescription } from './lifecycle.js';
import { counters } from './report-fixtures.js';
import { requestLine } from './request-line.js';

export interface RunHost {
  dir: string;
  hostname: string;
  instanceId: string | null;
  /** The region the host's identity carries (cloud-init's); null when none. */
  region?: string | null;
  bootId: string;
}

export async function daemonRun(
  h: RunHost,
  pid: number,
  requests: Array<{ version: 'v1' | 'v2'; status: number }>,
  systemShutdown = false,
): Promise<void> {
  const zero = counters();
  const identity = { instance_id: h.instanceId, region: h.region ?? null, boot_id: h.bootId };
  const writer = new VerdictWriter({ logDir: h.dir, identity, hostname: h.hostname, version: '0.1.0' });
  const sink = await createLogSink({
    dir: h.dir,
    rotation: { maxSizeMB: 10, frequency: 'daily', maxFiles: 5 },
    console: false,
    level: 'info',
    hostname: h.hostname,
    identity,
    onLine: (text) => writer.see(text),
  });
  const description = daemonDescription(pid, h.dir);
  sink.lifecycle('ready', {
    ...description,
    ...zero,
    uptime_ms: 6400,
    startup_ms: {},
    capture_continued: false,
    capture_gap: 'fresh_start',
  });
  writer.start(sink, 3600);
  await writer.seeded;
  for (const { version, status } of requests) {
    sink.request({
      ...requestLine(),
      imds_version: version,
      response: { status },
      request_time: new Date().toISOString(),
    });
  }
  sink.lifecycle('stopping', { ...description, ...zero, signal: 'SIGTERM', system_shutdown: systemShutdown });
  await writer.stop();
  await sink.close();
}
