// SIGTERM in the middle of a burst of 5,000 IMDSv1 requests.
// The daemon detaches, drains the buffer and writes everything before exiting, so the
// number of request lines equals the number of request segments the kernel put in the
// buffer (segments seen minus segments lost), read from the daemon's own last counters.
import { describe, expect, it } from 'vitest';
import { loadV1 } from '../rig/index.js';
import { useTestHost } from '../rig/test-host.js';

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('shutdown during a burst', () => {
  const host = useTestHost({ prefix: 'stop' });

  it('writes every request that reached the buffer before SIGTERM', async () => {
    const load = loadV1({ workers: 8, requests: 625 });
    const client = host.bed.spawn(load.argv);
    // Let the burst get going, then stop the daemon in the middle of it.
    await host.daemon.waitForRequests((lines) => lines.length >= 500, 60_000);
    const started = Date.now();
    expect(await host.daemon.stop('SIGTERM')).toBe(0);
    const stopMs = Date.now() - started;
    await client.result;

    const stopping = host.daemon.lines().find((l) => l.event === 'stopping') as
      | { kernel: { segments: number; events_lost: number } }
      | undefined;
    expect(stopping).toBeDefined();
    const inBuffer = stopping!.kernel.segments - stopping!.kernel.events_lost;
    const lines = host.daemon.requests().length;
    process.stdout.write(
      `shutdown: ${lines} request lines, ${stopping!.kernel.segments} segments seen, ` +
        `${stopping!.kernel.events_lost} lost in the kernel, stopped in ${stopMs} ms\n`,
    );
    expect(lines).toBeGreaterThanOrEqual(500);
    expect(lines).toBeLessThan(5000);
    expect(lines).toBe(inBuffer);
    expect(stopMs).toBeLessThan(5000);
  });
});
