// The real BPF object in this kernel, the real daemon, real clients
// (curl, python, node) in a test network namespace talking to the test IMDS, and the
// real log files read back.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BPF_PROGRAMS } from '../helpers/programs.js';
import { logLineSchema, statusDocumentSchema } from '../../src/model/log-line.js';
import {
  type Client,
  type Testbed,
  allBasicClients,
  createTestbed,
  curlGcpPath,
  curlV1,
  curlV1Ipv6,
  curlV1TokenNameInPath,
  curlV2,
  loadV1,
  nodeHttpV1,
  nodeKeepAliveV2ThenV1,
  nodeSplitTokenV2,
  pythonUrllibV1,
} from '../rig/index.js';
import { type RequestLine, type RunningDaemon, loadedPrograms, startAnalyzer } from '../rig/analyzer-process.js';
import { readHostIdentity } from '../../src/enrich/index.js';
import { createLogSink } from '../../src/logging/index.js';
import { INSIGHTS_FIELD_LIMIT, flattenedFields, queryFieldNames } from '../helpers/insights.js';

const isRoot = process.getuid?.() === 0;
const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** The CloudWatch agent's regex for `%Y-%m-%dT%H:%M:%S.%fZ` (test/unit/fleet-files.test.ts). */
const AGENT_ISO = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{1,9}Z/;

/** An error lifecycle line as the real sink writes it. */
async function errorLine(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'imds-error-line-'));
  try {
    const sink = await createLogSink({
      dir,
      rotation: { maxSizeMB: 1, frequency: 'daily', maxFiles: 1 },
      console: false,
      level: 'info',
      identity: readHostIdentity(),
    });
    sink.lifecycle('error', { source: 'libbpf', message: 'failed to load' });
    await sink.close();
    const file = readdirSync(dir).find((name) => name.endsWith('.log')) ?? '';
    return JSON.parse(readFileSync(join(dir, file), 'utf8').trim()) as Record<string, unknown>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sameArgv = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** The daemon's lines for one client: matched by the argv of the process that sent each request. */
function linesOf(client: Client, lines: RequestLine[]): RequestLine[] {
  const argvs = [client.argv, ...client.expects.flatMap((e) => (e.senderArgv ? [e.senderArgv] : []))];
  return lines.filter((l) => argvs.some((argv) => sameArgv(l.process.argv, argv)));
}

async function runAndCheck(bed: Testbed, daemon: RunningDaemon, client: Client): Promise<RequestLine[]> {
  const result = await bed.run(client.argv);
  expect({ client: client.name, code: result.code, stderr: result.stderr }).toMatchObject({ code: 0 });
  const lines = await daemon.waitForRequests((all) => linesOf(client, all).length >= client.expected.total);
  const mine = linesOf(client, lines);
  // Exactly one line per request, each with the version IMDS itself would assign.
  expect(mine.map((l) => `${l.request.method} ${l.request.path} ${l.imds_version}`).sort()).toEqual(
    client.expects.map((e) => `${e.method} ${e.path} ${e.version}`).sort(),
  );
  for (const line of mine) {
    if (sameArgv(line.process.argv, client.argv)) expect(line.process.pid).toBe(result.pid);
    expect(line.destination.port).toBe(80);
    expect(line.destination.address).toBe(client.family === 'ipv6' ? 'fd00:ec2::254' : '169.254.169.254'); // as logged; the client ran in the test netns
  }
  return mine;
}

describe.skipIf(!isRoot)('capture end to end (ring buffer)', () => {
  let bed: Testbed;
  let daemon: RunningDaemon;
  const secret = `tok-${Math.random().toString(36).slice(2)}-never-logged`;

  beforeAll(async () => {
    bed = await createTestbed({ prefix: 'cap' });
    daemon = await startAnalyzer({ args: ['--console'] });
  });
  afterAll(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await bed?.teardown();
  });

  it('reports the programs it attached and bpftool sees them', async () => {
    expect(daemon.ready).toMatchObject({ event: 'ready', buffer: 'ringbuf' });
    const loaded = await loadedPrograms();
    for (const name of BPF_PROGRAMS) {
      expect(loaded.programs).toContain(name);
    }
    const ids = Object.values(daemon.ready.program_ids as Record<string, number>);
    expect(ids).toHaveLength(BPF_PROGRAMS.length);
    for (const id of ids) expect(loaded.links).toContain(id);
  });

  it.each([
    ['curl v1', curlV1()],
    ['curl v2 (token PUT piped into the GET)', curlV2()],
    ['python3 urllib v1', pythonUrllibV1()],
    ['node http v1', nodeHttpV1()],
    ['curl v1 over IPv6', curlV1Ipv6()],
  ])('%s: one line per request with version, pid and argv', async (_name, client) => {
    const lines = await runAndCheck(bed, daemon, client);
    for (const line of lines) expect(line.process.argv.length).toBeGreaterThan(1);
  });

  it('one keep-alive connection carrying a v2 GET then a v1 GET gives one v2 and one v1 line', async () => {
    const lines = await runAndCheck(bed, daemon, nodeKeepAliveV2ThenV1());
    const gets = lines
      .filter((l) => l.request.method === 'GET')
      .sort((a, b) => a.connection.request_index - b.connection.request_index);
    expect(gets.map((l) => l.imds_version)).toEqual(['v2', 'v1']);
    expect(gets[0]!.connection.cookie).toBe(gets[1]!.connection.cookie);
    expect(gets.map((l) => l.connection.request_index)).toEqual([0, 1]);
  });

  it('a v2 GET whose token header arrives in the third of three segments is v2', async () => {
    const lines = await runAndCheck(bed, daemon, nodeSplitTokenV2({ pauseMs: 150 }));
    expect(lines.find((l) => l.request.method === 'GET')?.imds_version).toBe('v2');
  });

  it('a v1 GET whose path contains the token header name is v1', async () => {
    const [line] = await runAndCheck(bed, daemon, curlV1TokenNameInPath());
    expect(line).toMatchObject({ imds_version: 'v1', aws_api: true });
    expect(line!.request.path).toContain('X-aws-ec2-metadata-token');
  });

  it('a GCP-style path is flagged aws_api: false', async () => {
    const [line] = await runAndCheck(bed, daemon, curlGcpPath());
    expect(line!.aws_api).toBe(false);
  });

  it("IMDSv1 lines are warnings; IMDSv2 and other clouds' paths info", async () => {
    const lines = daemon.requests();
    expect(lines.filter((l) => l.imds_version === 'v1' && l.aws_api).every((l) => l.level === 40)).toBe(true);
    expect(lines.filter((l) => !l.aws_api).every((l) => l.level === 30)).toBe(true);
    expect(lines.filter((l) => l.imds_version === 'v2').every((l) => l.level === 30)).toBe(true);
  });

  it('2,000 IMDSv1 requests from 8 parallel clients give exactly 2,000 v1 lines and no lost event', async () => {
    const load = loadV1({ workers: 8, requests: 250 });
    const result = await bed.run(load.argv, { timeoutMs: 120_000 });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ completed: 2000, failed: 0 });
    const lines = await daemon.waitForRequests((all) => linesOf(load, all).length >= 2000, 60_000);
    const mine = linesOf(load, lines);
    expect(mine).toHaveLength(2000);
    expect(mine.every((l) => l.imds_version === 'v1' && l.process.pid === result.pid)).toBe(true);
    await daemon.waitForRequests(() => true, 1);
    const stats = await waitForStats(daemon);
    expect(stats.kernel).toMatchObject({ events_lost: 0 });
  });

  it('a token sent in a request appears in no log file and no console output', async () => {
    // Run with bed.run, inside the test netns.
    const argv = [
      'curl',
      '-sS',
      '--max-time',
      '10',
      '-H',
      `X-aws-ec2-metadata-token: ${secret}`,
      'http://169.254.169.254/latest/meta-data/ami-id', // run by bed.run: netns only
    ];
    const result = await bed.run(argv);
    expect(result.code).toBe(0);
    const [line] = (await daemon.waitForRequests((all) => all.some((l) => l.process?.pid === result.pid))).filter(
      (l) => l.process.pid === result.pid,
    );
    expect(line!.imds_version).toBe('v2');
    // The token is in the request header AND in curl's argv (as in real scripts that
    // pass "-H X-aws-ec2-metadata-token: $TOKEN"): neither may reach a file or the console.
    expect(line!.process.argv.join(' ')).toContain('X-aws-ec2-metadata-token');
    const files = readdirSync(daemon.logDir).map((name) => readFileSync(join(daemon.logDir, name), 'utf8'));
    expect(files.length).toBeGreaterThan(0);
    for (const text of [...files, daemon.stdout(), daemon.stderr()]) expect(text).not.toContain(secret);
  });

  it('every basic client is seen, then stopping detaches every program', async () => {
    expect(allBasicClients().length).toBeGreaterThan(5);
    const ids = Object.values(daemon.ready.program_ids as Record<string, number>);
    expect(await daemon.stop()).toBe(0);
    const loaded = await loadedPrograms();
    for (const id of ids) expect(loaded.links).not.toContain(id);
    expect(daemon.lines().some((l) => l.event === 'stopping')).toBe(true);
  });

  it('every line names its instance and boot, puts the ISO timestamp first and fits Logs Insights; the queries read only real fields', async () => {
    const host = readHostIdentity();
    // null here: this machine is not a Nitro instance (the sysfs sources are unit-tested).
    expect(host.instance_id).toBeNull();
    const raw = readdirSync(daemon.logDir)
      .filter((name) => name.endsWith('.log'))
      .flatMap((name) => readFileSync(join(daemon.logDir, name), 'utf8').split('\n'))
      .filter((text) => text !== '');
    const lines = raw.map((text) => JSON.parse(text) as Record<string, unknown>);
    expect([...new Set(lines.map((l) => l.event))]).toEqual(
      expect.arrayContaining(['ready', 'imds_request', 'stopping']),
    );
    const fields = new Set<string>();
    raw.forEach((text, i) => {
      const line = lines[i] ?? {};
      expect(line).toMatchObject({
        instance_id: host.instance_id,
        boot_id: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
      });
      expect(AGENT_ISO.exec(text)?.[0]).toBe(line.timestamp);
      expect(Date.parse(line.timestamp as string)).toBe(line.time);
      const flat = flattenedFields(line);
      expect(flat.length).toBeLessThanOrEqual(INSIGHTS_FIELD_LIMIT);
      for (const field of flat) fields.add(field);
    });
    const curl = daemon.requests().find((l) => sameArgv(l.process.argv, curlV1().argv));
    expect(curl?.process).toMatchObject({ cmdline: curlV1().argv.join(' ') });
    // The request lines hold an ISO start time the agent would otherwise have taken.
    expect(JSON.stringify(curl)).toMatch(/"start_time":"\d{4}-/);

    // Error lines: written by the same sink when a daemon fails to start.
    for (const field of flattenedFields(await errorLine())) fields.add(field);
    const queries = join(REPO, 'packaging/fleet/insights-queries');
    for (const name of readdirSync(queries)) {
      const unknown = queryFieldNames(readFileSync(join(queries, name), 'utf8')).filter((f) => !fields.has(f));
      expect(unknown, name).toEqual([]);
    }
  });

  it('every line the daemon wrote, and its status.json, follow the log contract', () => {
    const lines = daemon.lines();
    expect(lines.length).toBeGreaterThan(2000);
    for (const line of lines)
      expect(logLineSchema.safeParse(line).error?.issues ?? [], JSON.stringify(line).slice(0, 300)).toEqual([]);
    const status = JSON.parse(readFileSync(join(daemon.stateDir, 'status.json'), 'utf8')) as unknown;
    expect(statusDocumentSchema.safeParse(status).error?.issues ?? []).toEqual([]);
  });
});

async function waitForStats(daemon: RunningDaemon): Promise<{ kernel: Record<string, number> }> {
  const before = daemon.lines().filter((l) => l.event === 'stats').length;
  for (let i = 0; i < 100; i++) {
    const stats = daemon.lines().filter((l) => l.event === 'stats');
    if (stats.length > before) return stats.at(-1) as unknown as { kernel: Record<string, number> };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no stats line within 10 s');
}

describe.skipIf(!isRoot)('capture end to end (perf buffer)', () => {
  let bed: Testbed;
  let daemon: RunningDaemon;

  beforeAll(async () => {
    bed = await createTestbed({ prefix: 'perf' });
    daemon = await startAnalyzer({ buffer: 'perfbuf' });
  });
  afterAll(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await bed?.teardown();
  });

  it('runs on the perf buffer when asked', () => {
    expect(daemon.ready).toMatchObject({ buffer: 'perfbuf' });
  });

  it.each([
    ['curl v1', curlV1()],
    ['curl v2', curlV2()],
    ['curl v1 over IPv6', curlV1Ipv6()],
    ['keep-alive v2 then v1', nodeKeepAliveV2ThenV1()],
    ['token in the third segment', nodeSplitTokenV2()],
    ['GCP path', curlGcpPath()],
  ])('%s', async (_name, client) => {
    await runAndCheck(bed, daemon, client);
  });

  it('500 IMDSv1 requests from 4 parallel clients, no lost event', async () => {
    const load = loadV1({ workers: 4, requests: 125 });
    const result = await bed.run(load.argv, { timeoutMs: 120_000 });
    expect(result.code).toBe(0);
    const lines = await daemon.waitForRequests((all) => linesOf(load, all).length >= 500, 60_000);
    expect(linesOf(load, lines)).toHaveLength(500);
    const stats = await waitForStats(daemon);
    expect(stats.kernel).toMatchObject({ events_lost: 0, perf_buffer_lost: 0 });
  });
});
