// Bounded evidence with the real daemon: a fast IMDSv2 poller and a few IMDSv1 curl calls to
// the test IMDS (in the testbed's namespace); the daemon writes summary lines for what it
// counted instead of writing, and the report over its files counts exactly the requests the
// clients made (as the test IMDS served them).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, type RunningDaemon, startAnalyzer } from '../rig/analyzer-process.js';
import { IMDS_IPV4, type Testbed, createTestbed, curlV1 } from '../rig/index.js';
import { reportSchema } from '../../src/report/index.js';

const isRoot = process.getuid?.() === 0;
const POLL_MS = 4000;
const V1_CALLS = 5;

/** A token, then GETs with it on one keep-alive connection for `ms`; prints how many requests it made. */
const POLLER = `
import http from 'node:http';
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const call = (method, path, headers) => new Promise((resolve, reject) => {
  const req = http.request({ host: process.argv[2], path, method, headers, agent }, (res) => {
    let body = '';
    res.on('data', (d) => (body += d));
    res.on('end', () => resolve({ status: res.statusCode, body }));
  });
  req.on('error', reject);
  req.end();
});
let made = 0;
const put = await call('PUT', '/latest/api/token', { 'X-aws-ec2-metadata-token-ttl-seconds': '300' });
made++;
if (put.status !== 200) throw new Error('token: ' + put.status);
const end = Date.now() + Number(process.argv[3]);
while (Date.now() < end) {
  const got = await call('GET', '/latest/meta-data/instance-id', { 'X-aws-ec2-metadata-token': put.body });
  made++;
  if (got.status !== 200) throw new Error('get: ' + got.status);
  await new Promise((r) => setTimeout(r, 2));
}
agent.destroy();
console.log(JSON.stringify({ made }));
`;

describe.skipIf(!isRoot)('bounded evidence over the real daemon', () => {
  let bed: Testbed;
  let daemon: RunningDaemon;
  const dir = mkdtempSync(join(tmpdir(), 'imds-bounded-'));
  let made = 0;

  beforeAll(async () => {
    bed = await createTestbed({ prefix: 'bnd' });
    daemon = await startAnalyzer({
      config: { summary: { enabled: true, intervalSeconds: 1, fullLinesPerInterval: 2 } },
    });
    const script = join(dir, 'poller.mjs');
    writeFileSync(script, POLLER);
    const poller = await bed.run([process.execPath, script, IMDS_IPV4, String(POLL_MS)]);
    expect(poller.code).toBe(0);
    made = (JSON.parse(poller.stdout) as { made: number }).made;
    for (let i = 0; i < V1_CALLS; i++) expect((await bed.run(curlV1().argv)).code).toBe(0);
    // The stop writes every summary held, then the stopping line.
    expect(await daemon.stop()).toBe(0);
  }, 90_000);
  afterAll(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await bed?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the poller in summary lines, not a line per request', () => {
    const lines = daemon.lines();
    const summaries = lines.filter((l) => l.event === 'summary');
    const polled = summaries.filter(
      (s) => s.imds_version === 'v2' && s.process.argv.some((a) => a.endsWith('poller.mjs')),
    );
    const fullV2 = lines.filter(
      (l) =>
        l.event === 'imds_request' && l.imds_version === 'v2' && l.process.argv.some((a) => a.endsWith('poller.mjs')),
    );
    expect(made).toBeGreaterThan(200);
    expect(polled.length).toBeGreaterThan(0);
    // One full line per interval of a second (and the token's, another status or path: at most a few more).
    expect(fullV2.length).toBeLessThanOrEqual(Math.ceil(POLL_MS / 1000) + 3);
    expect(fullV2.length + polled.reduce((n, s) => n + s.requests, 0)).toBe(made);
    const stopping = lines.findIndex((l) => l.event === 'stopping');
    expect(lines.findLastIndex((l) => l.event === 'summary')).toBeLessThan(stopping);
  });

  it('counts in the report exactly the requests the clients made and the test IMDS served', () => {
    const run = spawnSync(process.execPath, [CLI, 'report', '--format', 'json', '--include-v2', daemon.logDir], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(1);
    const report = reportSchema.parse(JSON.parse(run.stdout));
    const served = bed.serverRequests();
    const poller = report.groups.filter(
      (g) => g.kind === 'imdsv2' && g.example.argv.some((a) => a.endsWith('poller.mjs')),
    );
    const curl = report.groups.filter((g) => g.kind === 'imdsv1' && g.exe === '/usr/bin/curl');
    expect(poller.reduce((n, g) => n + g.count, 0)).toBe(made);
    expect(curl.reduce((n, g) => n + g.count, 0)).toBe(V1_CALLS);
    expect(served.length).toBe(made + V1_CALLS);
    expect(report.verdict.imdsv1_requests).toBe(V1_CALLS);
    expect(poller[0]?.responses.ok).toBe(made);
  });
});
