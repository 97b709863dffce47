// The migration report over hand-made logs (lines with only some of the contract's fields, as
// older daemons wrote them, typed as the reader takes them back, so a field the contract lacks
// does not compile): rotated and gzip files, corrupt lines, two
// hosts, two boots, filters, formats and exit codes, asserted exactly.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseDuration } from '../../src/logic/report/duration.js';
import { normalizeArgv } from '../../src/logic/report/normalize.js';
import { sdkFromUserAgent } from '../../src/logic/sdk.js';
import type { StoredLineOf, StoredLogLine } from '../../src/model/stored-line.js';
import { parseTime, reportSchema, runReportCommand } from '../../src/report/index.js';

const T0 = Date.parse('2026-11-20T00:00:00Z');
const H = 3600_000;

const ready = (host: string, boot: string, at: number): StoredLineOf<'ready'> => ({
  level: 30,
  time: at,
  hostname: host,
  event: 'ready',
  boot_id: boot,
  pid: 100,
  kernel_release: '6.18.44',
  buffer: 'ringbuf',
  uptime_ms: 7000,
});
const stats = (host: string, boot: string, at: number, lost: number): StoredLineOf<'stats'> => ({
  level: 30,
  time: at,
  hostname: host,
  event: 'stats',
  boot_id: boot,
  pid: 100,
  kernel: { events_lost: lost },
  lines_not_written: 0,
});
/** A caller's process as the writer records it: comm is the command's first word here. */
const caller = (pid: number, exe: string, argv: string[], user: string): StoredLineOf<'imds_request'>['process'] => ({
  pid,
  comm: argv[0],
  exe,
  argv,
  user,
});
const request = (
  host: string,
  at: number,
  over: Partial<StoredLineOf<'imds_request'>>,
): StoredLineOf<'imds_request'> => ({
  level: 40,
  time: at,
  hostname: host,
  event: 'imds_request',
  imds_version: 'v1',
  aws_api: true,
  request: { method: 'GET', path: '/latest/meta-data/instance-id', token_request: false, user_agent: 'curl/8.0' },
  process: caller(4242, '/usr/bin/curl', ['curl', '-s', 'http://169.254.169.254/latest/meta-data/instance-id'], 'root'),
  ancestors: [{ pid: 4200, comm: 'sh', argv: ['sh', '/tmp/tmp.AbC123/run.sh'] }],
  unit: 'backup.service',
  container: null,
  sdk: { name: 'curl', version: '8.0', min_imdsv2_version: null, supports_imdsv2: null },
  response: { status: 200 },
  fallback: null,
  advice: 'curl calls IMDS without a token; fetch one first',
  ...over,
});
const jsonl = (lines: StoredLogLine[]) => `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`;

let dir: string;
let out: string;
async function report(args: string[]): Promise<{ code: number; out: string }> {
  out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  try {
    return { code: await runReportCommand(args), out };
  } finally {
    spy.mockRestore();
    err.mockRestore();
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'report-'));
  const a = join(dir, 'fleet');
  const safe = join(dir, 'safe');
  mkdirSync(a);
  mkdirSync(safe);
  // Host A, boot 1: rotated gzip file with the start and a curl v1 call from a script.
  writeFileSync(
    join(a, 'imds-analyzer.1.log.gz'),
    gzipSync(
      jsonl([
        ready('host-a', 'boot-1', T0),
        request('host-a', T0 + H, {}),
        request('host-a', T0 + 2 * H, {
          process: caller(
            5555,
            '/usr/bin/curl',
            ['curl', '-s', 'http://169.254.169.254/latest/meta-data/instance-id'],
            'root',
          ),
        }),
      ]),
    ),
  );
  // Host A, boot 2: current file, an old botocore rejected by IMDS, a v2 call, a corrupt line.
  writeFileSync(
    join(a, 'imds-analyzer.2.log'),
    `${jsonl([
      ready('host-a', 'boot-2', T0 + 30 * H),
      request('host-a', T0 + 31 * H, {
        process: caller(77, '/usr/bin/python3.11', ['python3', '/opt/app/sync.py', '--id', '123456'], 'app'),
        unit: 'sync.service',
        sdk: sdkFromUserAgent('Botocore/1.12.0'),
        response: { status: 401 },
        advice: 'botocore 1.12.0 predates IMDSv2 support (1.13.25): upgrade it.',
      }),
      request('host-a', T0 + 32 * H, { imds_version: 'v2', level: 30 }),
    ])}{"truncated": tru\n`,
  );
  // Host B: the same curl script, a GCP probe, and lost events.
  writeFileSync(
    join(a, 'host-b.log'),
    jsonl([
      ready('host-b', 'boot-9', T0 + 10 * H),
      stats('host-b', 'boot-9', T0 + 11 * H, 1),
      stats('host-b', 'boot-9', T0 + 12 * H, 3),
      request('host-b', T0 + 40 * H, {}),
      request('host-b', T0 + 41 * H, {
        aws_api: false,
        request: { method: 'GET', path: '/computeMetadata/v1/', token_request: false, user_agent: null },
      }),
    ]),
  );
  writeFileSync(
    join(safe, 'imds-analyzer.log'),
    jsonl([
      ready('host-c', 'boot-1', T0),
      request('host-c', T0 + 50 * H, { imds_version: 'v2' }),
      stats('host-c', 'boot-1', T0 + 99 * H, 0),
    ]),
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('report', () => {
  it('groups IMDSv1 callers and gives the verdict first (exit 1)', async () => {
    const { code, out } = await report(['--format', 'json', join(dir, 'fleet')]);
    expect(code).toBe(1);
    const r = reportSchema.parse(JSON.parse(out));
    expect(r.verdict).toMatchObject({
      answer: 'NO',
      safe: false,
      observed: true,
      text: 'HttpTokens=required is safe on these 2 hosts: NO — 2 programs still use IMDSv1 (4 requests), on 2 of 2 hosts',
      imdsv1_programs: 2,
      imdsv1_requests: 4,
    });
    // A NO needs no minimum, but what else is missing is said, per host and over both: the
    // daemons ran minutes (host A's first boot ends unseen), and the torn line names no host.
    expect(r.verdict.reasons.map((x) => x.message)).toEqual([
      '2 of 2 hosts: 2 programs still use IMDSv1 (4 requests) (see hosts)',
      '1 of 2 hosts: the end of a boot not seen (see hosts)',
      '2 of 2 hosts: window too short (see hosts)',
      '2 of 2 hosts: unreadable lines that may be requests (see hosts)',
      '1 of 2 hosts: records lost (ring buffer) (see hosts)',
    ]);
    expect(
      r.hosts.map((h) => [h.host, h.verdict, h.imdsv1_programs, h.imdsv1_requests, h.reasons.map((x) => x.code)]),
    ).toEqual([
      [
        'host-a',
        'NO',
        ['curl -s http://169.254.169.254/<path>', 'python3 /opt/app/sync.py --id <n>'],
        3,
        ['imdsv1_callers', 'boot_end_unseen', 'short_window', 'unreadable_lines'],
      ],
      [
        'host-b',
        'NO',
        ['curl -s http://169.254.169.254/<path>'],
        1,
        ['imdsv1_callers', 'short_window', 'events_lost', 'unreadable_lines'],
      ],
    ]);
    const v1 = r.groups.filter((g) => g.kind === 'imdsv1');
    expect(v1.map((g) => [g.command, g.count, g.hosts])).toEqual([
      ['curl -s http://169.254.169.254/<path>', 3, ['host-a', 'host-b']],
      ['python3 /opt/app/sync.py --id <n>', 1, ['host-a']],
    ]);
    expect(v1[1]).toMatchObject({
      unit: 'sync.service',
      sdk: { name: 'botocore', version: '1.12.0', min_imdsv2_version: '1.13.25', supports_imdsv2: false },
      responses: { rejected: 1, ok: 0 },
    });
    expect(v1[0]!.example.ancestors[0]).toMatchObject({ comm: 'sh' });
    expect(r.groups.find((g) => g.kind === 'not_aws_api')?.count).toBe(1);
    expect(r.groups.some((g) => g.kind === 'imdsv2')).toBe(false);
    expect(r.observation).toMatchObject({ hosts: ['host-a', 'host-b'], boots: 3 });
    expect(r.input).toEqual({ files: 3, lines: 12, corrupt_lines: 1, unreadable_files: 0 });
    expect(r.warnings).toEqual(['1 corrupt or truncated line(s) skipped']);
  });

  it('says YES with the window and boots when nothing uses IMDSv1 (exit 0)', async () => {
    const { code, out } = await report([join(dir, 'safe')]);
    expect(code).toBe(0);
    expect(out.split('\n').slice(0, 2).join('\n').replace('\n  ', ' ')).toBe(
      'HttpTokens=required is safe on this host: YES — no IMDSv1 request in 4d 3h of observation, covering 1 boot',
    );
  });

  it('filters by host and time, and lists v2 callers on request', async () => {
    const host = reportSchema.parse(
      JSON.parse((await report(['--format', 'json', '--host', 'host-b', join(dir, 'fleet')])).out),
    );
    expect(host.groups.filter((g) => g.kind === 'imdsv1').map((g) => g.count)).toEqual([1]);
    const late = reportSchema.parse(
      JSON.parse(
        (await report(['--format', 'json', '--since', new Date(T0 + 35 * H).toISOString(), join(dir, 'fleet')])).out,
      ),
    );
    expect(late.verdict.imdsv1_requests).toBe(1);
    const v2 = reportSchema.parse(
      JSON.parse((await report(['--format', 'json', '--include-v2', join(dir, 'fleet')])).out),
    );
    expect(v2.groups.find((g) => g.kind === 'imdsv2')?.count).toBe(1);
  });

  it('renders a table within 100 columns, CSV and Markdown', async () => {
    const table = (await report([join(dir, 'fleet')])).out;
    expect(table.startsWith('HttpTokens=required is safe on these 2 hosts: NO')).toBe(true);
    expect(Math.max(...table.split('\n').map((l) => l.length))).toBeLessThanOrEqual(100);
    expect(table).not.toContain('\u001b[');
    const csv = (await report(['--format', 'csv', join(dir, 'fleet')])).out.trim().split('\n');
    expect(csv[0]).toBe(
      'kind,count,command,exe,unit,container,sdk,sdk_min_imdsv2_version,sdk_supports_imdsv2,hosts,first_seen,last_seen,ok,rejected,fallbacks,paths,advice,script',
    );
    expect(csv.find((l) => l.startsWith('imdsv1,1,python3'))).toContain(
      ',sync.service,,botocore 1.12.0,1.13.25,false,host-a,',
    );
    expect(csv).toHaveLength(4);
    expect((await report(['--format', 'markdown', join(dir, 'fleet')])).out).toContain('| imdsv1 | 3 |');
  });

  it('exits with the error codes on errors, never a verdict (66 no input, 64 usage)', async () => {
    expect((await report([join(dir, 'missing')])).code).toBe(66);
    expect((await report(['--format', 'xml', join(dir, 'fleet')])).code).toBe(64);
    const bad = await report(['--min-observed', 'a day', join(dir, 'safe')]);
    expect([bad.code, bad.out]).toEqual([
      64,
      'imds-analyzer report: --min-observed: not a duration: "a day" (use 0, 90s, 30m, 24h, 7d)\n',
    ]);
  });

  it('normalises volatile argv parts and parses relative times', () => {
    expect(
      normalizeArgv(['sh', '/tmp/tmp.x1/run.sh', '--req', '0f8fad5b-d9cb-469f-a165-70867728950e', '--pid', '12345']),
    ).toBe('sh /tmp/<tmp> --req <uuid> --pid <n>');
    expect(parseTime('24h', 100 * H)).toBe(76 * H);
    expect(() => parseTime('yesterday')).toThrow(/not a time/);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('7d')).toBe(7 * 24 * H);
    expect(parseDuration('1w')).toBeNull();
  });
});

describe('report over logs written before redaction', () => {
  it('shows no secret from old lines in any format, and keeps the command shape', async () => {
    const old = join(dir, 'old');
    mkdirSync(old);
    const pw = 'oldLogPassw0rd-91x';
    const key = 'oldLogSecretKey-77y';
    writeFileSync(
      join(old, 'imds-analyzer.log'),
      jsonl([
        ready('host-o', 'boot-1', T0),
        request('host-o', T0 + H, {
          process: caller(
            9,
            '/usr/bin/curl',
            ['curl', '-u', `admin:${pw}`, 'http://169.254.169.254/latest/meta-data/'],
            'root',
          ),
          ancestors: [
            { pid: 8, comm: 'sh', argv: ['sh', '-c', `AWS_SECRET_ACCESS_KEY=${key} curl -u admin:${pw} http://x/`] },
          ],
          request: { method: 'GET', path: `/latest/meta-data/?password=${pw}`, token_request: false, user_agent: null },
        }),
      ]),
    );
    for (const format of ['json', 'table', 'csv', 'markdown']) {
      const { out } = await report(['--format', format, old]);
      expect(out).not.toContain(pw);
      expect(out).not.toContain(key);
      expect(out).toContain('curl -u admin:[REDACTED]');
    }
  });
});
