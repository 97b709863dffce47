// Report benchmark: 1,000,000 realistic log lines (rotated files, several hosts and
// programs) written to a temp directory, then `imds-analyzer report` over them in a
// child process; prints wall seconds and the child's peak RSS (target < 10 s, < 200 MB).
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../test/rig/analyzer-process.js';

const LINES = 1_000_000;
const FILES = 10;
const T0 = Date.parse('2026-11-01T00:00:00Z');

function line(i: number): string {
  const host = `ip-10-0-${i % 7}-${i % 13}`;
  const v1 = i % 5 !== 0;
  const program = i % 3;
  const argv = [
    ['curl', '-s', `http://169.254.169.254/latest/meta-data/tags/instance/${i % 97}`],
    ['python3', '/opt/app/worker.py', '--job', String(100000 + i)],
    ['/usr/bin/amazon-ssm-agent'],
  ][program] as string[];
  return JSON.stringify({
    level: v1 ? 40 : 30,
    time: T0 + i * 1000,
    hostname: host,
    event: 'imds_request',
    imds_version: v1 ? 'v1' : 'v2',
    aws_api: true,
    request: { method: 'GET', path: '/latest/meta-data/instance-id', token_request: false, user_agent: program === 1 ? 'Botocore/1.12.0' : null },
    destination: { address: '169.254.169.254', port: 80 },
    process: { pid: 1000 + (i % 30000), tid: 1000 + (i % 30000), comm: argv[0], exe: `/usr/bin/${argv[0]}`, argv, uid: 0, user: 'root', gid: 0 },
    ancestors: [{ pid: 1, comm: 'systemd', exe: '/usr/lib/systemd/systemd', argv: ['/sbin/init'], uid: 0 }],
    unit: program === 2 ? 'amazon-ssm-agent.service' : 'app.service',
    container: null,
    sdk: program === 1 ? { name: 'botocore', version: '1.12.0', min_imdsv2_version: '1.13.25', supports_imdsv2: false } : null,
    response: { status: 200 },
    fallback: null,
    advice: v1 ? 'upgrade' : null,
    connection: { cookie: String(i), request_index: 0 },
    request_time: new Date(T0 + i * 1000).toISOString(),
    truncated: [],
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-report-'));
  try {
    for (let f = 0; f < FILES; f++) {
      const out = createWriteStream(join(dir, `imds-analyzer.2026-11-${String(f + 1).padStart(2, '0')}.1.log`));
      for (let i = f * (LINES / FILES); i < (f + 1) * (LINES / FILES); i++) {
        if (!out.write(`${line(i)}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
      }
      await new Promise<void>((r) => out.end(() => r()));
    }
    const started = process.hrtime.bigint();
    const run = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, CLI, 'report', '--format', 'json', dir], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const peakMb = Number(run.stderr.trim().split('\n').at(-1)) / 1024;
    const report = JSON.parse(run.stdout) as { input: { lines: number }; groups: unknown[] };
    process.stdout.write(
      `report over ${report.input.lines} lines in ${FILES} files: ${seconds.toFixed(2)} s, peak RSS ${peakMb.toFixed(0)} MB, ` +
        `${report.groups.length} groups (targets: < 10 s, < 200 MB) ${seconds < 10 && peakMb < 200 ? 'PASS' : 'MISS'}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
