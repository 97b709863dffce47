// Volume benchmark (`npm run bench:volume`): how many bytes of log a day of a busy host takes,
// and whether the report still counts every request. 24 simulated hours (`--hours N`) of an
// IMDSv2 poller at 10 requests/s, an IMDSv1 cron job each minute and an AWS CLI call every
// 5 minutes go as kernel records (process, cgroup, payload, response, close) through the
// daemon's own pipeline and log sink (pino, pino-roll, the default config) on a simulated
// clock, with stats lines each minute as the daemon writes them, a ready line at the start
// and a stopping line at the end. Prints bytes per day and the 30-day projection against
// 500 MB, then runs `imds-analyzer report` over the files and prints its counts beside the
// requests made: PASS only when both hold. (The daemon's hourly verdict lines, 24 a day of about 2 KB, are not written here.)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LongestTurn } from '../src/capture/longest-turn.js';
import { DEFAULT_CONFIG } from '../src/config/index.js';
import { Pipeline, type PipelineClock } from '../src/daemon/pipeline.js';
import { createLogSink } from '../src/logging/index.js';
import type { CallerGroup, Report } from '../src/logic/report/schema.js';
import type { DaemonDescription } from '../src/model/log-line.js';
import type { Flow, KernelRecord } from '../src/model/records.js';
import { CLI } from '../test/rig/analyzer-process.js';

const TARGET_30_DAYS_BYTES = 500 * 1_000_000;
const START = Date.parse('2026-12-01T00:00:00Z');
/** Pids above this machine class's pid_max: no real process is read for them. */
const PID_BASE = 4_200_000;
const IMDS = '169.254.169.254'; // data for the records, never dialled
const TOKEN = 'AQAEAFbench0000000000000000000000000000000000000000000000=='; // a made-up token shape

const { values: args } = parseArgs({
  options: { hours: { type: 'string', default: '24' }, keep: { type: 'boolean' } },
});
const hours = Number(args.hours);

let now = START;
const monoAt = (ms: number) => BigInt(ms - START + 3_600_000) * 1_000_000n;
const clock: PipelineClock = { wallMs: () => now, monoNs: () => monoAt(now) };

const dir = mkdtempSync(join(tmpdir(), 'imds-volume-'));
const config = { ...DEFAULT_CONFIG, logDir: dir };
const sink = await createLogSink({
  dir,
  rotation: config.rotation,
  console: false,
  level: config.logLevel,
  hostname: 'ip-10-0-9-9',
  identity: { instance_id: 'i-0b0b0b0b0b0b0b0b0', region: 'us-east-1', boot_id: 'b-volume' },
  now: () => now,
});
const pipeline = new Pipeline(config, sink, '/sys/fs/cgroup', null, null, clock);

const description: DaemonDescription = {
  kernel_release: '6.1.0',
  libbpf_version: '1.1',
  buffer: 'ringbuf',
  cgroup_root: '/sys/fs/cgroup',
  programs: ['imds_connect4', 'imds_connect6', 'imds_sendmsg', 'imds_skb_egress', 'imds_skb_ingress'],
  program_ids: { imds_connect4: 41, imds_connect6: 42, imds_sendmsg: 43, imds_skb_egress: 44, imds_skb_ingress: 45 },
  version: '0.1.0',
  pid: process.pid,
  log_dir: dir,
};
const counters = () =>
  pipeline.counters({} as never, 0n, sink.counters(), {
    drainErrors: 0,
    statusWriteErrors: 0,
    longestDrainTurn: new LongestTurn(),
  });

// --- the callers: processes (with their parents and units) and their HTTP exchanges ---

let cookie = 1n;
let nextPid = PID_BASE + 10;
const made = { v1: 0, v2: 0 };

function processRecords(
  pid: number,
  ppid: number,
  comm: string,
  filename: string,
  argv: string[],
  unit: string,
): KernelRecord[] {
  const at = monoAt(now) - 1_000_000n;
  return [
    {
      kind: 'process',
      tsNs: at,
      pid,
      ppid,
      uid: 0,
      gid: 0,
      startNs: at,
      parentStartNs: at,
      exitedNs: null,
      nsPid: pid,
      nsLevel: 0,
      comm,
      execed: true,
      filename,
      argv,
      argvTruncated: false,
      argvUnreadable: false,
    },
    { kind: 'cgroup', tsNs: at, pid, startNs: at, path: `/system.slice/${unit}`, truncated: false },
  ];
}

interface Connection {
  flow: Flow;
  owner: { pid: number; comm: string };
  seq: number;
  responseSeq: number;
}

function connect(pid: number, comm: string): Connection {
  return {
    flow: { cookie: cookie++, family: 'ipv4', address: IMDS, port: 80 },
    owner: { pid, comm },
    seq: 1,
    responseSeq: 1,
  };
}

const encoder = new TextEncoder();
function exchange(conn: Connection, http: string, status: number, atMs: number): KernelRecord[] {
  const bytes = encoder.encode(http);
  const at = monoAt(atMs);
  const { pid, comm } = conn.owner;
  const payload: KernelRecord = {
    kind: 'payload',
    tsNs: at,
    flow: conn.flow,
    owner: { pid, tid: pid, uid: 0, gid: 0, comm, cgroupId: 0n, connectNs: at - 1000n },
    socketUid: 0,
    socketCgroupId: 0n,
    seq: conn.seq,
    streamStart: 1,
    wireLength: bytes.length,
    bytes,
  };
  conn.seq += bytes.length;
  const response: KernelRecord = {
    kind: 'response',
    tsNs: at + 500_000n,
    flow: conn.flow,
    seq: conn.responseSeq,
    ack: conn.seq,
    status,
  };
  conn.responseSeq += 400;
  return [payload, response];
}

const close = (conn: Connection, atMs: number): KernelRecord => ({
  kind: 'close',
  tsNs: monoAt(atMs) + 900_000n,
  flow: conn.flow,
  reset: false,
});

const tokenPut = (agent: string) =>
  `PUT /latest/api/token HTTP/1.1\r\nHost: ${IMDS}\r\nUser-Agent: ${agent}\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n`;
const tokenGet = (path: string, agent: string) =>
  `GET ${path} HTTP/1.1\r\nHost: ${IMDS}\r\nUser-Agent: ${agent}\r\nX-aws-ec2-metadata-token: ${TOKEN}\r\n\r\n`;
const plainGet = (path: string, agent: string) =>
  `GET ${path} HTTP/1.1\r\nHost: ${IMDS}\r\nUser-Agent: ${agent}\r\nAccept: */*\r\n\r\n`;

// The poller: one long-running python process under monitor.service, a token per connection of 600 requests.
const POLLER = PID_BASE + 1;
const POLLER_AGENT = 'Botocore/1.34.0 Python/3.11.6 Linux/6.1.0';
let poller: Connection | null = null;
let pollerRequests = 0;

function pollerRequest(atMs: number): KernelRecord[] {
  const records: KernelRecord[] = [];
  if (!poller || pollerRequests % 600 === 0) {
    if (poller) records.push(close(poller, atMs - 1));
    poller = connect(POLLER, 'python3');
    records.push(...exchange(poller, tokenPut(POLLER_AGENT), 200, atMs));
    made.v2++;
  }
  const paths = [
    '/latest/meta-data/instance-id',
    '/latest/meta-data/placement/region',
    '/latest/meta-data/events/maintenance/scheduled',
  ];
  records.push(...exchange(poller, tokenGet(paths[pollerRequests % 3] as string, POLLER_AGENT), 200, atMs));
  pollerRequests++;
  made.v2++;
  return records;
}

/** A cron job each minute: crond, sh -c, curl without a token. */
function cronJob(atMs: number): KernelRecord[] {
  const sh = nextPid++;
  const curl = nextPid++;
  const records = [
    ...processRecords(
      sh,
      PID_BASE + 2,
      'sh',
      '/bin/sh',
      ['/bin/sh', '-c', '/opt/ops/report-id.sh >> /var/log/ops.log 2>&1'],
      'crond.service',
    ),
    ...processRecords(sh + 100_000, sh, 'bash', '/bin/bash', ['/bin/bash', '/opt/ops/report-id.sh'], 'crond.service'),
    ...processRecords(
      curl,
      sh + 100_000,
      'curl',
      '/usr/bin/curl',
      ['curl', '-s', `http://${IMDS}/latest/meta-data/instance-id`],
      'crond.service',
    ),
  ];
  const conn = connect(curl, 'curl');
  records.push(
    ...exchange(conn, plainGet('/latest/meta-data/instance-id', 'curl/8.5.0'), 200, atMs),
    close(conn, atMs),
  );
  made.v1++;
  return records;
}

/** The AWS CLI every 5 minutes: a token, two calls. */
function awsCli(atMs: number): KernelRecord[] {
  const pid = nextPid++;
  const agent = 'aws-cli/2.15.0 md/awscrt#0.19.19 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.6';
  const records = processRecords(
    pid,
    PID_BASE + 3,
    'aws',
    '/usr/local/bin/aws',
    ['aws', 'ec2', 'describe-tags', '--region', 'eu-west-1'],
    'tag-sync.service',
  );
  const conn = connect(pid, 'aws');
  records.push(
    ...exchange(conn, tokenPut(agent), 200, atMs),
    ...exchange(conn, tokenGet('/latest/meta-data/instance-id', agent), 200, atMs + 5),
    ...exchange(conn, tokenGet('/latest/meta-data/placement/region', agent), 200, atMs + 10),
    close(conn, atMs + 10),
  );
  made.v2 += 3;
  return records;
}

// --- the simulated day ---

const started = process.hrtime.bigint();
pipeline.handle(
  processRecords(
    POLLER,
    1,
    'python3',
    '/usr/bin/python3',
    ['/usr/bin/python3', '/opt/monitor/poll.py', '--interval', '0.1'],
    'monitor.service',
  ),
);
pipeline.endOfTurn();
sink.lifecycle('ready', {
  ...description,
  ...counters(),
  uptime_ms: 6400,
  startup_ms: { modules: 40, config: 60, bpf_attached: 120, ready: 125, log_sink: 130 },
  capture_continued: false,
  capture_gap: 'fresh_start',
});
const endMs = START + hours * 3_600_000;
for (let second = START; second < endMs; second += 1000) {
  const records: KernelRecord[] = [];
  for (let tenth = 0; tenth < 10; tenth++) records.push(...pollerRequest(second + tenth * 100));
  if ((second - START) % 60_000 === 30_000) records.push(...cronJob(second + 7));
  if ((second - START) % 300_000 === 120_000) records.push(...awsCli(second + 3));
  now = second + 999;
  pipeline.handle(records);
  pipeline.endOfTurn(); // as a drain turn ends
  if ((second - START) % 10_000 === 9000) pipeline.evidence.writeDue();
  if ((second - START) % 60_000 === 59_000) sink.lifecycle('stats', { ...description, ...counters(), interval_s: 60 });
}
now = endMs;
if (poller) pipeline.handle([close(poller, endMs - 1)]);
pipeline.endOfTurn();
pipeline.flushAll(false);
sink.lifecycle('stopping', { ...description, ...counters(), signal: 'SIGTERM', system_shutdown: true });
await sink.close();
const writeSeconds = Number(process.hrtime.bigint() - started) / 1e9;

const files = readdirSync(dir).map((name) => join(dir, name));
const bytes = files.reduce((n, f) => n + statSync(f).size, 0);
const perDay = (bytes / hours) * 24;
const projected = perDay * 30;
const mb = (n: number) => `${(n / 1_000_000).toFixed(1)} MB`;

const run = spawnSync(process.execPath, [CLI, 'report', '--format', 'json', '--include-v2', '--workers', '0', dir], {
  encoding: 'utf8',
  maxBuffer: 64 * 1024 * 1024,
});
const report = JSON.parse(run.stdout) as Report;
const sum = (kind: CallerGroup['kind']) =>
  report.groups.filter((g) => g.kind === kind).reduce((n, g) => n + g.count, 0);
const counted = { v1: sum('imdsv1'), v2: sum('imdsv2') };
const sizeOk = projected <= TARGET_30_DAYS_BYTES;
const countsOk = counted.v1 === made.v1 && counted.v2 === made.v2 && report.verdict.imdsv1_requests === made.v1;

console.log(`volume bench: ${hours} simulated hours through the daemon's pipeline and log sink (default config)`);
console.log(`  requests made: IMDSv2 ${made.v2}, IMDSv1 ${made.v1} (written in ${writeSeconds.toFixed(1)} s)`);
console.log(
  `  log: ${files.length} file(s), ${bytes} bytes; ${mb(perDay)} per day; 30 days: ${mb(projected)} (target ≤ ${mb(TARGET_30_DAYS_BYTES)}) ${sizeOk ? 'PASS' : 'MISS'}`,
);
console.log(
  `  report: IMDSv2 ${counted.v2}, IMDSv1 ${counted.v1} (verdict ${report.verdict.answer}, ${report.verdict.imdsv1_requests} IMDSv1 requests, ${report.input.lines} lines) ${countsOk ? 'PASS' : 'MISS'}`,
);
if (args.keep) console.log(`  kept: ${dir}`);
else rmSync(dir, { recursive: true, force: true });
process.exitCode = sizeOk && countsOk ? 0 : 1;
