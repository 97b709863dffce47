// Report benchmark. Default: 1,000,000 realistic log lines (rotated files, several hosts and
// programs) in a temp directory, target <= 3 s and <= 250 MB. `--fleet`: 1,000 hosts x 10,000
// lines (10 M) as CloudWatch Logs export objects (`<ISO time> <JSON>` lines), target <= 30 s
// and <= 250 MB. `--compress gzip|plain` (default: plain for the million, gzip for the fleet).
// Each runs `imds-analyzer report` in a child process and prints wall seconds, CPU seconds, the
// child's peak RSS and the machine's load average (the machine may be shared: wall time
// measures the neighbours too). `--input DIR` keeps the generated input in DIR and reuses it
// on the next run (generating 10 M lines takes minutes; `--generate-only` stops there).
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import { CLI } from '../test/rig/analyzer-process.js';

const LINES = 1_000_000;
const FILES = 10;
const FLEET_HOSTS = 1000;
const LINES_PER_HOST = 10_000;
const T0 = Date.parse('2026-11-01T00:00:00Z');

function request(i: number, host: string, instanceId: string | null, t: number, v1: boolean): Record<string, unknown> {
  const program = i % 3;
  const argv = [
    ['curl', '-s', `http://169.254.169.254/latest/meta-data/tags/instance/${i % 97}`],
    ['python3', '/opt/app/worker.py', '--job', String(100000 + i)],
    ['/usr/bin/amazon-ssm-agent'],
  ][program] as string[];
  return {
    level: v1 ? 40 : 30,
    time: t,
    pid: 321,
    hostname: host,
    instance_id: instanceId,
    boot_id: 'b-1',
    event: 'imds_request',
    imds_version: v1 ? 'v1' : 'v2',
    aws_api: true,
    request: {
      method: 'GET',
      path: '/latest/meta-data/instance-id',
      token_request: false,
      user_agent: program === 1 ? 'Botocore/1.12.0' : null,
    },
    destination: { address: '169.254.169.254', port: 80 },
    process: {
      pid: 1000 + (i % 30000),
      tid: 1000 + (i % 30000),
      comm: argv[0],
      exe: `/usr/bin/${argv[0]}`,
      argv,
      uid: 0,
      user: 'root',
      gid: 0,
    },
    ancestors: [{ pid: 1, comm: 'systemd', exe: '/usr/lib/systemd/systemd', argv: ['/sbin/init'], uid: 0 }],
    unit: program === 2 ? 'amazon-ssm-agent.service' : 'app.service',
    container: null,
    sdk:
      program === 1
        ? { name: 'botocore', version: '1.12.0', min_imdsv2_version: '1.13.25', supports_imdsv2: false }
        : null,
    response: { status: 200 },
    fallback: null,
    advice: v1 ? 'upgrade' : null,
    connection: { cookie: String(i), request_index: 0 },
    request_time: new Date(t).toISOString(),
    truncated: [],
  };
}

/** The single-host-style benchmark: one request per second over 7 x 13 host names, 4 in 5 of them IMDSv1. */
function* rotatedLines(file: number): Generator<string> {
  for (let i = file * (LINES / FILES); i < (file + 1) * (LINES / FILES); i++) {
    yield JSON.stringify(request(i, `ip-10-0-${i % 7}-${i % 13}`, null, T0 + i * 1000, i % 5 !== 0));
  }
}

/**
 * One host of the fleet, as its CloudWatch Logs stream exports it: started at boot, a stats
 * line every 100 lines, a request a minute (a week in all); every 10th host has an IMDSv1
 * caller, every 17th lost records.
 */
function* hostExportLines(h: number): Generator<string> {
  const instanceId = `i-0${h.toString(16).padStart(16, '0')}`;
  const host = `ip-10-1-${h >> 8}-${h & 255}`;
  const base = { pid: 321, hostname: host, instance_id: instanceId, boot_id: 'b-1' };
  const lost = h % 17 === 0 ? 1 : 0;
  for (let i = 0; i < LINES_PER_HOST; i++) {
    const t = T0 + i * 60_000;
    const line =
      i === 0
        ? { level: 30, time: t, ...base, event: 'ready', uptime_ms: 5400, buffer: 'ringbuf' }
        : i % 100 === 0
          ? {
              level: 30,
              time: t,
              ...base,
              event: 'stats',
              kernel: { events_lost: lost, process_events_lost: 0 },
              lines_not_written: 0,
              decode_errors: 0,
            }
          : request(h * LINES_PER_HOST + i, host, instanceId, t, h % 10 === 0 && i % 50 === 1);
    yield `${new Date(t).toISOString()} ${JSON.stringify(line)}`;
  }
}

async function writeLines(path: string, lines: Iterable<string>, gzip: boolean): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const file = createWriteStream(path);
  const zip = gzip ? createGzip({ level: 1 }) : null;
  const out = zip ?? file;
  zip?.pipe(file);
  for (const line of lines) {
    if (!out.write(`${line}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => {
    file.once('close', () => r());
    out.end();
  });
}

async function generate(dir: string, fleet: boolean, gzip: boolean): Promise<void> {
  if (fleet) {
    for (let h = 0; h < FLEET_HOSTS; h++) {
      await writeLines(
        join(dir, 'export-task', `i-0${h.toString(16).padStart(16, '0')}`, gzip ? '000000.gz' : '000000'),
        hostExportLines(h),
        gzip,
      );
    }
  } else {
    for (let f = 0; f < FILES; f++) {
      await writeLines(
        join(dir, `imds-analyzer.2026-11-${String(f + 1).padStart(2, '0')}.1.log${gzip ? '.gz' : ''}`),
        rotatedLines(f),
        gzip,
      );
    }
  }
}

/** The targets: a million lines in 3 s, ten million in 30 s, each within 250 MB. */
const TARGET = { lines: { seconds: 3, mb: 250 }, fleet: { seconds: 30, mb: 250 } };

interface Summary {
  verdict: { answer: string };
  hosts: Array<{ verdict: string }>;
  input: { lines: number; files: number };
  groups: unknown[];
}

function measure(dir: string, fleet: boolean, compress: string): void {
  const load = loadavg()[0]?.toFixed(1);
  const started = process.hrtime.bigint();
  // CPU seconds beside wall seconds: on a shared machine the wall time measures the neighbours too.
  const run = spawnSync('/usr/bin/time', ['-f', '%U %S %M', process.execPath, CLI, 'report', '--format', 'json', dir], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const [user, system, peakKb] = (run.stderr.trim().split('\n').at(-1) ?? '').split(' ').map(Number) as [
    number,
    number,
    number,
  ];
  const peakMb = peakKb / 1024;
  const report = JSON.parse(run.stdout) as Summary;
  const tally = (v: string) => report.hosts.filter((h) => h.verdict === v).length;
  const what = fleet
    ? `${report.hosts.length} hosts (NO ${tally('NO')}, UNKNOWN ${tally('UNKNOWN')}, YES ${tally('YES')}), verdict ${report.verdict.answer}`
    : `${report.groups.length} groups`;
  const target = fleet ? TARGET.fleet : TARGET.lines;
  const pass = seconds <= target.seconds && peakMb <= target.mb;
  process.stdout.write(
    `report over ${report.input.lines} lines in ${report.input.files} ${compress} files: ${seconds.toFixed(2)} s (CPU ${(user + system).toFixed(1)} s), ` +
      `peak RSS ${peakMb.toFixed(0)} MB, ${what}; load average ${load} before the run; ` +
      `target <= ${target.seconds} s, <= ${target.mb} MB: ${pass ? 'PASS' : 'MISS'}\n`,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      fleet: { type: 'boolean', default: false },
      input: { type: 'string' },
      compress: { type: 'string' },
      'generate-only': { type: 'boolean', default: false },
    },
  });
  const fleet = values.fleet;
  const compress = values.compress ?? (fleet ? 'gzip' : 'plain');
  if (compress !== 'gzip' && compress !== 'plain') throw new Error('--compress gzip|plain');
  const dir = values.input ?? mkdtempSync(join(tmpdir(), 'bench-report-'));
  // The marker sits beside the logs, not among them: the report reads every file it is given.
  const logs = join(dir, `logs-${compress}`);
  const complete = join(dir, `complete-${compress}`);
  try {
    if (!existsSync(complete)) {
      const started = Date.now();
      rmSync(logs, { recursive: true, force: true });
      await generate(logs, fleet, compress === 'gzip');
      await writeLines(complete, [], false);
      process.stdout.write(`generated the input in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    }
    // Generating is heavy and needs no lock; the measurement runs alone (under the e2e lock).
    if (!values['generate-only']) measure(logs, fleet, compress);
  } finally {
    if (!values.input) rmSync(dir, { recursive: true, force: true });
  }
}

void main();
