// Trustworthy streams end to end: the real object in this kernel, the real daemon,
// real clients in the test netns (every IMDS address below is dialled only from there).
// - TCP Fast Open: the GET rides in the SYN;
// - a connection opened before the daemon started, its token header sent after: no token
//   anywhere, the next request on it logged as v1;
// - every response sent twice (a sidecar in the IMDS namespace resends each response segment,
//   same sequence numbers): statuses do not shift;
// - a header block longer than one captured segment: the next request on the connection is logged;
// - SIGHUP reopens the log file instead of ending the daemon.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSync } from '../rig/exec.js';
import { type Testbed, createTestbed, curlV1 } from '../rig/index.js';
import { type LineOf, type RunningDaemon, startAnalyzer } from '../rig/analyzer-process.js';
import type { Counters } from '../../src/model/log-line.js';

const isRoot = process.getuid?.() === 0;
const RESENDER = fileURLToPath(new URL('../helpers/resend-responses.py', import.meta.url));

/** One keep-alive connection (python http.client) making GETs to `paths`, in order. */
function keepAliveGets(paths: string[], extraHeader?: [string, string]): string[] {
  const headers = extraHeader ? `{${JSON.stringify(extraHeader[0])}: ${JSON.stringify(extraHeader[1])}}` : '{}';
  const script = [
    'import http.client, sys',
    "c = http.client.HTTPConnection('169.254.169.254', 80, timeout=5)", // test netns only
    `for p in ${JSON.stringify(paths)}:`,
    `    c.request('GET', p, headers=${headers})`,
    '    r = c.getresponse(); r.read()',
    '    print(r.status, flush=True)',
  ].join('\n');
  return ['python3', '-c', script];
}

const allLogText = (dir: string) =>
  readdirSync(dir)
    .map((name) => readFileSync(join(dir, name), 'utf8'))
    .join('');

describe.skipIf(!isRoot)('trustworthy streams end to end', () => {
  let bed: Testbed;
  let daemon: RunningDaemon;

  beforeAll(async () => {
    bed = await createTestbed({ prefix: 'trs' });
  });
  afterAll(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await bed?.teardown();
  });

  it('a connection opened before the daemon started: no token anywhere, the next request is v1', async () => {
    const secret = `AQAE-${Math.random().toString(36).slice(2)}-never-logged`;
    const go = join(bed.workDir, 'go');
    const script = [
      'import socket, os, time',
      "s = socket.create_connection(('169.254.169.254', 80), timeout=5)", // test netns only
      "s.sendall(b'GET /latest/meta-data/ HTTP/1.1\\r\\nHost: 169.254.169.254\\r\\n')", // run in the test netns
      `while not os.path.exists(${JSON.stringify(go)}): time.sleep(0.05)`,
      `s.sendall(b'X-aws-ec2-metadata-token: ${secret}\\r\\n\\r\\n')`,
      'def response():',
      "    head = b''",
      "    while b'\\r\\n\\r\\n' not in head: head += s.recv(1)",
      "    n = int([l for l in head.split(b'\\r\\n') if l.lower().startswith(b'content-length:')][0].split(b':')[1])",
      '    body = b""',
      '    while len(body) < n: body += s.recv(n - len(body))',
      "    print(head.split(b' ')[1].decode(), flush=True)",
      'response()',
      "s.sendall(b'GET /latest/meta-data/ami-id HTTP/1.1\\r\\nHost: 169.254.169.254\\r\\n\\r\\n')", // run in the test netns
      'response()',
    ].join('\n');
    const client = bed.spawn(['python3', '-c', script]);
    // The request line is on the wire before anything is attached.
    await new Promise((r) => setTimeout(r, 300));
    daemon = await startAnalyzer();
    writeFileSync(go, '');
    const result = await client.result;
    expect(result.code).toBe(0);
    const lines = await daemon.waitForRequests((all) => all.some((l) => l.request.path === '/latest/meta-data/ami-id'));
    const mine = lines.filter((l) => l.process?.pid === client.pid || l.request.path.startsWith('/latest/meta-data/'));
    expect(mine.map((l) => [l.request.method, l.request.path, l.imds_version])).toEqual([
      ['GET', '/latest/meta-data/ami-id', 'v1'],
    ]);
    // The stats line counts the join and the bytes passed over.
    const stats = await waitForStats(daemon, (s) => s.joined_mid_stream >= 1);
    expect(stats.bytes_skipped).toBeGreaterThanOrEqual(`X-aws-ec2-metadata-token: ${secret}\r\n\r\n`.length);
    report('mid-stream join', 2, mine.length, 'the half-seen first request is counted in stats.streams, not logged');
    expect(allLogText(daemon.logDir)).not.toContain(secret);
    expect(daemon.stdout() + daemon.stderr()).not.toContain(secret);
  });

  it('TCP Fast Open: a request that starts in the SYN and goes on after the handshake is logged', async () => {
    runSync(['ip', 'netns', 'exec', bed.imdsNs, 'sysctl', '-qw', 'net.ipv4.tcp_fastopen=0x602']);
    runSync(['ip', 'netns', 'exec', bed.clientNs, 'sysctl', '-qw', 'net.ipv4.tcp_fastopen=0x5']);
    // Listeners take up Fast Open when they listen(): start the test IMDS again.
    await bed.restartServer();
    const activeBefore = fastOpenActive(bed.clientNs);
    const path = '/latest/meta-data/instance-id';
    // 3 KiB of headers: the SYN carries the first MSS, the rest follows at ISN + 1 + MSS.
    const padding = `X-Padding: ${'p'.repeat(3000)}`;
    const result = await bed.run([
      'curl',
      '-sS',
      '--tcp-fastopen',
      '-H',
      padding,
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      `http://169.254.169.254${path}`, // run in the test netns
    ]); // test netns only
    expect(result.stdout).toBe('200');
    // The data really went in the SYN.
    expect(fastOpenActive(bed.clientNs)).toBeGreaterThan(activeBefore);
    const lines = await daemon.waitForRequests((all) => all.some((l) => l.process?.pid === result.pid));
    const mine = lines.filter((l) => l.process?.pid === result.pid);
    expect(mine.map((l) => [l.request.method, l.request.path, l.imds_version, l.response?.status])).toEqual([
      ['GET', path, 'v1', 200],
    ]);
    report('TCP Fast Open', 1, mine.length);
  });

  it('a header block longer than one captured segment: the next request on the connection is still logged', async () => {
    const client = keepAliveGets(['/latest/meta-data/', '/latest/meta-data/ami-id'], ['X-Padding', 'p'.repeat(6000)]);
    const result = await bed.run(client);
    expect(result.stdout.trim().split('\n')).toEqual(['200', '200']);
    const lines = await daemon.waitForRequests((all) => all.filter((l) => l.process?.pid === result.pid).length >= 2);
    const mine = lines.filter((l) => l.process?.pid === result.pid);
    // Each request's 6 KiB header block is cut at the 4 KiB capture: unknown, never lost.
    expect(mine.map((l) => [l.request.path, l.imds_version])).toEqual([
      ['/latest/meta-data/', 'unknown'],
      ['/latest/meta-data/ami-id', 'unknown'],
    ]);
    report('header blocks over one capture', 2, mine.length);
  });

  it('every response sent twice (a retransmission): statuses are matched by sequence number', async () => {
    const resender = spawn('ip', ['netns', 'exec', bed.imdsNs, 'python3', RESENDER, `${bed.name}i0`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        resender.stdout.once('data', () => resolve());
        resender.once('exit', (code) => reject(new Error(`resender exited ${code}`)));
      });
      const paths = [
        '/latest/meta-data/',
        '/latest/meta-data/no-such-key',
        '/latest/meta-data/ami-id',
        '/latest/meta-data/nope-again',
        '/latest/meta-data/instance-id',
      ];
      const statuses = [200, 404, 200, 404, 200];
      const result = await bed.run(keepAliveGets(paths));
      expect(result.stdout.trim().split('\n')).toEqual(statuses.map(String));
      const lines = await daemon.waitForRequests(
        (all) => all.filter((l) => l.process?.pid === result.pid).length >= paths.length,
      );
      const mine = lines
        .filter((l) => l.process?.pid === result.pid)
        .sort((a, b) => a.connection.request_index - b.connection.request_index);
      expect(mine.map((l) => [l.request.path, l.response?.status])).toEqual(paths.map((p, i) => [p, statuses[i]]));
      const stats = await waitForStats(daemon, (s) => s.responses_retransmitted >= paths.length);
      report(
        'every response retransmitted',
        paths.length,
        mine.length,
        `${stats.responses_retransmitted} repeated responses dropped, statuses all right`,
      );
    } finally {
      resender.kill();
    }
  });

  it('SIGHUP reopens the log file and the daemon goes on', async () => {
    const [current] = readdirSync(daemon.logDir).filter((n) => n.endsWith('.log'));
    expect(current).toBeDefined();
    const rotated = join(daemon.dir, 'rotated.log');
    renameSync(join(daemon.logDir, current!), rotated);
    daemon.process.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 300));
    expect(daemon.process.exitCode).toBeNull();
    expect(daemon.stderr()).toContain('SIGHUP: log files reopened');
    const result = await bed.run(curlV1({ path: '/latest/meta-data/hostname' }).argv); // test netns only
    expect(result.code).toBe(0);
    const lines = await daemon.waitForRequests((all) => all.some((l) => l.process?.pid === result.pid));
    expect(lines.filter((l) => l.process?.pid === result.pid)).toHaveLength(1);
    expect(existsSync(join(daemon.logDir, current!))).toBe(true);
    report('SIGHUP', 1, 1);
  });
});

function fastOpenActive(ns: string): number {
  const out = runSync(['ip', 'netns', 'exec', ns, 'nstat', '-az', 'TcpExtTCPFastOpenActive']);
  return Number(/TcpExtTCPFastOpenActive\s+(\d+)/.exec(out)?.[1] ?? 0);
}

type Streams = Counters['streams'];

async function waitForStats(daemon: RunningDaemon, done: (s: Streams) => boolean): Promise<Streams> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const last = daemon
      .lines()
      .filter((l): l is LineOf<'stats'> => l.event === 'stats')
      .at(-1);
    if (last && done(last.streams)) return last.streams;
    if (Date.now() > deadline)
      throw new Error(`stats.streams never satisfied the test: ${JSON.stringify(last?.streams)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function report(fault: string, sent: number, logged: number, note = ''): void {
  process.stdout.write(`${fault}: ${sent} requests sent, ${logged} logged${note ? ` (${note})` : ''}\n`);
}
