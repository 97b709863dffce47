// Fleet report benchmark: 10,000 hosts' verdict lines for 30 days (one an hour: 720 each,
// 7.2 M lines), as collected from the fleet (100 files of 100 hosts each, in time order),
// read by `imds-analyzer report --verdicts`. Target: at most 5 s. One in ten hosts is NO, one
// in ten UNKNOWN. The lines are the real sink's verdict lines (one per kind, written by the
// daemon's code) with each host's identity and times. `--input DIR` keeps the input in DIR
// and reuses it (generating it takes about a minute).
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogSink } from '../src/logging/index.js';
import { ReportBuilder } from '../src/logic/report/aggregate.js';
import { TokenlessCounts } from '../src/logic/report/tokenless.js';
import { verdictFields } from '../src/logic/report/verdict-line.js';
import { CLI } from '../test/rig/analyzer-process.js';

const HOSTS = 10_000;
const HOURS = 30 * 24;
const HOSTS_PER_FILE = 100;
const T0 = Date.parse('2026-11-01T00:00:00Z');
const TARGET_S = 5;

type Kind = 'YES' | 'NO' | 'UNKNOWN';
const kindOf = (h: number): Kind => (h % 10 === 0 ? 'NO' : h % 10 === 1 ? 'UNKNOWN' : 'YES');

/** One verdict line per kind, as the daemon's sink writes it, parsed back. */
async function templates(dir: string): Promise<Record<Kind, Record<string, unknown>>> {
  const out = {} as Record<Kind, Record<string, unknown>>;
  for (const kind of ['YES', 'NO', 'UNKNOWN'] as const) {
    const builder = new ReportBuilder({ minObservedMs: kind === 'UNKNOWN' ? 365 * 86400_000 : 0 });
    const base = { hostname: 'h', instance_id: 'i-0123456789abcdef0', boot_id: 'b', pid: 7 };
    builder.add({ ...base, time: T0, event: 'ready', uptime_ms: 5000 });
    if (kind === 'NO')
      builder.add({
        ...base,
        time: T0 + 1000,
        event: 'imds_request',
        imds_version: 'v1',
        aws_api: true,
        process: { argv: ['/usr/bin/python3', '/opt/app/legacy.py'], exe: '/usr/bin/python3' },
        response: { status: 200 },
      });
    builder.add({ ...base, time: T0 + HOURS * 3600_000, event: 'stats' });
    const tokenless = new TokenlessCounts();
    if (kind === 'NO') tokenless.add(T0 + 1000);
    const fields = verdictFields(builder.result(), tokenless, {
      version: '0.1.0',
      pid: 7,
      instanceId: base.instance_id,
      timeMs: T0,
    });
    const sinkDir = join(dir, kind);
    const sink = await createLogSink({
      dir: sinkDir,
      rotation: { maxSizeMB: 1, frequency: 'daily', maxFiles: 2 },
      console: false,
      level: 'info',
      hostname: 'h',
      identity: { instance_id: base.instance_id, region: 'us-east-1', boot_id: base.boot_id },
    });
    const { event: _, ...body } = fields;
    sink.lifecycle('verdict', body);
    await sink.close();
    const [file] = readdirSync(sinkDir);
    out[kind] = JSON.parse(readFileSync(join(sinkDir, file ?? ''), 'utf8')) as Record<string, unknown>;
  }
  return out;
}

function line(template: Record<string, unknown>, h: number, hour: number): string {
  const t = T0 + hour * 3600_000 + (h % 3600) * 1000;
  const instanceId = `i-0${h.toString(16).padStart(16, '0')}`;
  const window = template.window as { seconds: number };
  return JSON.stringify({
    ...template,
    time: t,
    timestamp: new Date(t).toISOString(),
    hostname: `ip-10-1-${h >> 8}-${h & 255}`,
    instance_id: instanceId,
    window: { ...window, from: new Date(T0).toISOString(), to: new Date(t).toISOString(), seconds: (t - T0) / 1000 },
    _aws: { ...(template._aws as object), Timestamp: t },
    InstanceId: instanceId,
  });
}

async function generate(dir: string): Promise<number> {
  const kinds = await templates(mkdtempSync(join(tmpdir(), 'bench-fleet-templates-')));
  let bytes = 0;
  for (let f = 0; f < HOSTS / HOSTS_PER_FILE; f++) {
    const fd = openSync(join(dir, `verdicts-${String(f).padStart(3, '0')}.log`), 'w');
    for (let hour = 0; hour < HOURS; hour++) {
      const chunk: string[] = [];
      for (let h = f * HOSTS_PER_FILE; h < (f + 1) * HOSTS_PER_FILE; h++) chunk.push(line(kinds[kindOf(h)], h, hour));
      bytes += writeSync(fd, `${chunk.join('\n')}\n`);
    }
    closeSync(fd);
  }
  return bytes;
}

function measure(dir: string): void {
  const started = process.hrtime.bigint();
  const run = spawnSync(
    '/usr/bin/time',
    ['-f', '%U %S %M', process.execPath, CLI, 'report', '--verdicts', '--format', 'json', dir],
    { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const [user, system, peakKb] = (run.stderr.trim().split('\n').at(-1) ?? '').split(' ').map(Number) as [
    number,
    number,
    number,
  ];
  const report = JSON.parse(run.stdout) as { verdict: { answer: string }; hosts: Array<{ verdict: string }> };
  const tally = (v: string) => report.hosts.filter((h) => h.verdict === v).length;
  const expected = (v: Kind) => Array.from({ length: HOSTS }, (_, h) => kindOf(h)).filter((k) => k === v).length;
  const right = (['YES', 'NO', 'UNKNOWN'] as const).every((v) => tally(v) === expected(v));
  process.stdout.write(
    `fleet report over ${HOSTS * HOURS} verdict lines (${HOSTS} hosts x ${HOURS}): ${seconds.toFixed(2)} s ` +
      `(CPU ${(user + system).toFixed(1)} s), peak RSS ${(peakKb / 1024).toFixed(0)} MB; ` +
      `${report.hosts.length} hosts: NO ${tally('NO')}, UNKNOWN ${tally('UNKNOWN')}, YES ${tally('YES')} ` +
      `(${right ? 'as generated' : 'NOT as generated'}); target <= ${TARGET_S} s: ${seconds <= TARGET_S && right ? 'PASS' : 'MISS'}\n`,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { input: { type: 'string' } } });
  const dir = values.input ?? mkdtempSync(join(tmpdir(), 'bench-fleet-'));
  const logs = join(dir, 'verdicts');
  const complete = join(dir, 'complete');
  try {
    if (!existsSync(complete)) {
      const started = Date.now();
      rmSync(logs, { recursive: true, force: true });
      mkdirSync(logs, { recursive: true });
      const bytes = await generate(logs);
      closeSync(openSync(complete, 'w'));
      process.stdout.write(
        `generated ${(bytes / 1e9).toFixed(2)} GB in ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
      );
    }
    measure(logs);
  } finally {
    if (!values.input) rmSync(dir, { recursive: true, force: true });
  }
}

void main();
