// The report and status over committed fixture files: a rotated gzip cut short, a second boot,
// an unclassified request, a container falling back to IMDSv1, loss counters, corrupt lines;
// state files for `status`. reportOf() takes any directory, so fixtures written by the real
// daemon can be pointed at the same way.
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReport, reportSchema, runReportCommand, runStatusCommand } from '../../src/report/index.js';
import { MAX_LINE_CHARS } from '../../src/report/read.js';
import { processStartTicks } from '../../src/state/instance-lock.js';
import { captureOutput } from '../helpers/capture-output.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/report');
const EDGE = join(FIXTURES, 'legacy-corrupt');
const ROTATED_GZ = join(EDGE, 'imds-analyzer.2026-11-20.1.log.gz');
const CURRENT = join(EDGE, 'imds-analyzer.2026-11-20.2.log');

const capture = captureOutput;

/** The JSON report over any files or directories, validated against the exported schema. */
async function reportOf(...args: string[]) {
  const run = await capture(() => runReportCommand(['--format', 'json', ...args]));
  return { code: run.code, report: reportSchema.parse(JSON.parse(run.out)) };
}

describe('report over legacy and corrupt fixtures', () => {
  it('without inputs, reads the logDir of the config (not a fixed directory)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'report-config-'));
    try {
      const config = join(dir, 'config.json');
      writeFileSync(config, JSON.stringify({ logDir: EDGE }));
      const { code, report } = await reportOf('--config', config);
      expect(code).toBe(1);
      expect(report.input.files).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps what a cut-short gzip held, names it, and groups by what to fix (exit 1)', async () => {
    const { code, report } = await reportOf(EDGE);
    expect(code).toBe(1);
    expect(report.verdict).toMatchObject({
      answer: 'NO',
      safe: false,
      observed: true,
      text: 'HttpTokens=required is safe on this host: NO — 2 programs still use IMDSv1 (3 requests)',
      imdsv1_programs: 2,
      imdsv1_requests: 3,
    });
    // The NO stands on its own; every other gap in the evidence is still named.
    expect(report.verdict.reasons.map((r) => r.code)).toEqual([
      'imdsv1_callers',
      // Its stats lines say one a minute, yet hours lie between them: the lines between are missing.
      'evidence_rotated_out',
      // Ready lines of an older daemon carry no uptime_ms; the first boot's daemon left no stopping line.
      'late_start',
      'boot_end_unseen',
      'short_window',
      'events_lost',
      'lines_not_written',
      // The torn last line of the current file, and the array that is no line of ours (see below).
      'unreadable_lines',
      'unclassified_requests',
      'input_incomplete',
    ]);
    expect(report.hosts).toEqual([
      expect.objectContaining({ host: 'edge-host', instance_id: null, verdict: 'NO', imdsv1_requests: 3, boots: 2 }),
    ]);
    const sdk = (g: (typeof report.groups)[number]) => (g.sdk ? `${g.sdk.name} ${g.sdk.version}` : null);
    expect(report.groups.map((g) => [g.kind, g.command, g.count, g.unit, g.container, sdk(g), g.fallbacks])).toEqual([
      [
        'imdsv1',
        '/usr/bin/python3 /usr/bin/aws s3 cp /var/tmp/<tmp> s3://bucket/',
        2,
        'cron.service',
        null,
        'aws-cli 1.16.0',
        0,
      ],
      ['imdsv1', '/usr/local/bin/agent -config <path>', 1, null, 'docker:4f1c2b3a9d8e', 'aws-sdk-go 1.25.0', 1],
      ['unknown', '/opt/collector/bin/collector --run-id <hex>', 1, 'collector.service', null, null, 0],
    ]);
    const aws = report.groups[0]!;
    expect([aws.first_seen, aws.last_seen]).toEqual(['2026-11-20T06:01:00.000Z', '2026-11-20T06:02:00.000Z']);
    expect(aws.paths).toEqual(['/latest/meta-data/iam/security-credentials/']);
    expect(aws.responses).toEqual({ ok: 2, rejected: 0, other: 0, none: 0 });
    expect(aws.sdk).toEqual({
      name: 'aws-cli',
      version: '1.16.0',
      min_imdsv2_version: '1.16.287',
      supports_imdsv2: false,
    });
    expect(aws.example.ancestors.map((a) => a.comm)).toEqual(['bash', 'systemd']);
    expect(aws.advice).toBe('aws-cli 1.16.0 predates IMDSv2 support: upgrade it to at least 1.16.287.');
    expect(report.observation).toEqual({
      hosts: ['edge-host'],
      boots: 2,
      from: '2026-11-20T06:00:00.000Z',
      to: '2026-11-20T11:01:00.000Z',
      // What the runs cover: 06:00 to the first boot's last line (06:03:00.189), 09:00 to 11:00.
      seconds: 3 * 60 + 0.189 + 2 * 3600,
      min_observed_seconds: 24 * 3600,
      boot_from_start_required: true,
    });
    expect(report.warnings).toEqual([
      'the kernel lost 5 process record(s): some callers may be attributed incompletely',
      `file not read to its end, later lines missing: ${ROTATED_GZ}: unexpected end of file`,
      '2 corrupt or truncated line(s) skipped',
    ]);
    expect(report.input).toMatchObject({ files: 2, corrupt_lines: 2, unreadable_files: 1 });
  });

  it('counts the lines of the current file exactly: CRLF, non-object and torn lines', async () => {
    const { report } = await reportOf(CURRENT);
    // ready, unknown request, container request (CRLF), [1,2,3], two stats, torn last line
    expect(report.input).toEqual({ files: 1, lines: 7, corrupt_lines: 2, unreadable_files: 0 });
    expect(report.observation.boots).toBe(1);
  });

  it('filters the window by --since/--until, keeping the verdict honest about it', async () => {
    const { code, report } = await reportOf('--since', '2026-11-20T08:00:00Z', '--until', '2026-11-20T10:00:00Z', EDGE);
    expect(code).toBe(1);
    expect(report.groups.map((g) => [g.kind, g.count])).toEqual([
      ['imdsv1', 1],
      ['unknown', 1],
    ]);
    // Only the start of the first boot: no IMDSv1 request, but far too little to say YES.
    const before = await reportOf('--until', '2026-11-20T06:00:30Z', EDGE);
    expect(before.code).toBe(2);
    expect(before.report.verdict.text).toBe(
      'HttpTokens=required is safe on this host: UNKNOWN — no IMDSv1 request seen, but the evidence is incomplete: a boot not seen from its start, window too short, files not read to their end',
    );
    // Waiving the window and the boot (a demo) leaves the cut-short file: still not YES.
    const waived = await reportOf('--min-observed', '0', '--allow-no-boot', '--until', '2026-11-20T06:00:30Z', EDGE);
    expect([waived.code, waived.report.verdict.reasons.map((r) => r.code)]).toEqual([2, ['input_incomplete']]);
    // A complete file up to just before its IMDSv1 call.
    const complete = await reportOf(
      '--min-observed',
      '0',
      '--allow-no-boot',
      '--until',
      '2026-11-20T09:01:30Z',
      CURRENT,
    );
    // The stats lines after --until report losses that may have happened before it: they count.
    expect([complete.code, complete.report.verdict.reasons.map((r) => r.code)]).toEqual([
      2,
      ['evidence_rotated_out', 'events_lost', 'lines_not_written', 'unclassified_requests'],
    ]);
  });

  it('skips long and oversized lines as one corrupt line each, ignores a dangling link, names a .gz that is not gzip', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'report-long-'));
    try {
      const current = readFileSync(CURRENT, 'utf8');
      // Valid JSON, so only the length cap makes it corrupt (its host would show otherwise).
      const oversized = JSON.stringify({ time: 1, hostname: 'oversized', pad: 'y'.repeat(MAX_LINE_CHARS + 5 * 65536) });
      writeFileSync(
        join(dir, 'a.log'),
        `{"event":"imds_request","x":"${'y'.repeat(5 * 1048576)}\n${oversized}\r\n${current}`,
      );
      writeFileSync(join(dir, 'b.log.gz'), current);
      symlinkSync(join(dir, 'gone.log'), join(dir, 'c.log'));
      const { report } = await reportOf(dir);
      expect(report.input).toEqual({ files: 2, lines: 9, corrupt_lines: 4, unreadable_files: 1 });
      expect(report.observation.hosts).toEqual(['edge-host']);
      expect(report.warnings).toContain(
        `file not read to its end, later lines missing: ${join(dir, 'b.log.gz')}: incorrect header check`,
      );
      expect(report.groups.map((g) => [g.kind, g.count])).toEqual([
        ['imdsv1', 1],
        ['unknown', 1],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('renders a table within 100 columns whose warnings wrap instead of losing the file name', async () => {
    // Read from a directory name longer than a line, as a clone in a deep directory gives, so that
    // the check does not depend on where the clone lives.
    const deep = join(mkdtempSync(join(tmpdir(), 'report-width-')), 'x'.repeat(120), 'legacy-corrupt');
    cpSync(EDGE, deep, { recursive: true });
    try {
      const { code, out } = await capture(() => runReportCommand([deep]));
      expect(code).toBe(1);
      const lines = out.split('\n');
      expect(lines[0]).toBe('HttpTokens=required is safe on this host: NO — 2 programs still use IMDSv1 (3 requests)');
      expect(Math.max(...lines.map((l) => [...l].length))).toBeLessThanOrEqual(100);
      expect(out.replace(/\n {2}/g, ' ')).toContain('file not read to its end, later lines missing: ');
      // The file name is all there, broken across lines (a continuation line starts with two spaces).
      expect(out.replace(/\n {2}/g, '')).toContain(join(deep, 'imds-analyzer.2026-11-20.1.log.gz'));
      expect(lines).toContain('   started by bash(880) < systemd(1)');
    } finally {
      rmSync(join(deep, '../..'), { recursive: true, force: true });
    }
  });

  it('colours the table only on a terminal without NO_COLOR', async () => {
    const wasTty = process.stdout.isTTY;
    const noColor = process.env.NO_COLOR;
    try {
      process.stdout.isTTY = true;
      delete process.env.NO_COLOR;
      const coloured = (await capture(() => runReportCommand([EDGE]))).out;
      expect(coloured.startsWith('\u001b[31mHttpTokens=required is safe on this host: NO')).toBe(true);
      process.env.NO_COLOR = '1';
      expect((await capture(() => runReportCommand([EDGE]))).out).not.toContain('\u001b[');
    } finally {
      process.stdout.isTTY = wasTty;
      if (noColor === undefined) delete process.env.NO_COLOR;
      else process.env.NO_COLOR = noColor;
    }
  });

  it('answers UNKNOWN with exit 2 when nothing was observed, never YES', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'report-empty-'));
    try {
      // A log file without a line yet (a directory without any file is an error: exit 66).
      writeFileSync(join(dir, 'imds-analyzer.log'), '');
      const empty = await reportOf(dir);
      expect(empty.code).toBe(2);
      expect(empty.report.verdict).toEqual({
        answer: 'UNKNOWN',
        safe: false,
        observed: false,
        text: 'HttpTokens=required is safe on this host: UNKNOWN — no log line in the input',
        reasons: [
          {
            code: 'no_lines',
            message: "no log line in the input: point the report at the daemon's log directory or collected logs",
          },
        ],
        imdsv1_programs: 0,
        imdsv1_requests: 0,
      });
      const filtered = await reportOf('--host', 'elsewhere', EDGE);
      expect(filtered.code).toBe(2);
      expect(filtered.report.verdict.text).toBe(
        'HttpTokens=required is safe on this host: UNKNOWN — no log line in the input matches the filters',
      );
      const reversed = await capture(() => runReportCommand(['--since', '1d', '--until', '2d', EDGE]));
      expect([reversed.code, reversed.err]).toEqual([64, 'imds-analyzer report: --since is after --until\n']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('counts a line without a time as corrupt and defuses spreadsheet formulas in CSV', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'report-hostile-'));
    try {
      const line = JSON.parse(readFileSync(CURRENT, 'utf8').split('\n')[2]!) as Record<string, unknown>;
      const hostile = {
        ...line,
        process: { ...(line.process as object), argv: ['=HYPERLINK("http://x","y")', '-c', 'x'] },
      };
      const { time: _dropped, ...timeless } = line;
      writeFileSync(join(dir, 'a.log'), `${JSON.stringify(hostile)}\n${JSON.stringify(timeless)}\n`);
      const { report } = await reportOf(dir);
      expect(report.input).toMatchObject({ lines: 2, corrupt_lines: 1 });
      expect(report.groups.map((g) => g.command)).toEqual(['=HYPERLINK("http://x","y") -c x']);
      const csv = (await capture(() => runReportCommand(['--format', 'csv', dir]))).out.split('\n');
      expect(csv[1]).toMatch(/^imdsv1,1,"'=HYPERLINK\(""http:\/\/x"",""y""\) -c x",/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('renders Markdown with the verdict, window and warnings first and placeholders as text, not HTML', async () => {
    const lines = (await capture(() => runReportCommand(['--format', 'markdown', EDGE]))).out.split('\n');
    expect(lines.slice(0, 5)).toEqual([
      '**HttpTokens=required is safe on this host: NO — 2 programs still use IMDSv1 (3 requests)**',
      '',
      'Observed 2026-11-20T06:00:00.000Z .. 2026-11-20T11:01:00.000Z on 1 host(s), 2 boot(s)',
      '',
      expect.stringMatching(
        /^- log lines are missing: 2026-11-20T09:01:30\.000Z \.\. 2026-11-20T09:58:30\.000Z \(boot b-2: no line of a daemon that writes a stats line every 1m 0s\), .* or raise rotation\.maxFiles \/ rotation\.maxSizeMB$/,
      ),
    ]);
    expect(lines.filter((l) => l.startsWith('| imdsv1 | 2 |'))).toEqual([
      expect.stringContaining('| /usr/bin/python3 /usr/bin/aws s3 cp /var/tmp/&lt;tmp&gt; s3://bucket/ |'),
    ]);
  });

  it('reads the same aggregate through buildReport() as through the command', async () => {
    const direct = await buildReport([EDGE]);
    expect(direct).toEqual((await reportOf(EDGE)).report);
  });
});

describe('status', () => {
  const logDir = mkdtempSync(join(tmpdir(), 'status-logs-'));
  writeFileSync(join(logDir, 'imds-analyzer.2026-11-20.1.log'), Buffer.alloc(3 * 1048576));
  afterAll(() => rmSync(logDir, { recursive: true, force: true }));

  function stateFile(pid: number, startTicks: number): string {
    const text = readFileSync(join(FIXTURES, 'status/state.json'), 'utf8').replace('LOG_DIR', logDir);
    const path = join(logDir, `state-${pid}.json`);
    writeFileSync(
      path,
      text.replace('"pid": 0', `"pid": ${pid}`).replace('"pid_start_ticks": 0', `"pid_start_ticks": ${startTicks}`),
    );
    return path;
  }

  it('is running (exit 0) while the process that wrote the state file runs', async () => {
    const ownTicks = processStartTicks(process.pid) as number;
    const { code, out } = await capture(() => runStatusCommand(['--state', stateFile(process.pid, ownTicks)]));
    expect(code).toBe(0);
    expect(out).toBe(
      [
        `imds-analyzer: running (pid ${process.pid}) since 2026-11-20T06:00:00.000Z`,
        'buffer: ringbuf',
        'programs: imds_connect4#41 imds_sendmsg#42',
        'requests: v1=3 v2=10 unknown=1',
        'lost events: 4 (process records lost 5, not stored 0); log lines not written: 1',
        `log directory: ${logDir} (3.0 MiB)`,
        'canaries: 1 running',
        '  unit:app-sync.service  required  since 2026-11-20T10:00:00.000Z  until 2026-11-20T12:00:00.000Z  (cgroup /system.slice/app-sync.service)',
        'state updated: 2026-11-20T11:00:00.000Z',
        '',
      ].join('\n'),
    );
  });

  it('is not running (exit 3) when its pid is gone or now another process, or no state file', async () => {
    // pid 1 runs, but started at another time than the state file says: the pid was reused.
    const reused = await capture(() => runStatusCommand(['--state', stateFile(1, 123_456_789)]));
    expect(reused.code).toBe(3);
    expect(reused.out.split('\n')[0]).toBe(
      'imds-analyzer: NOT running (last state from pid 1, 2026-11-20T11:00:00.000Z)',
    );
    const gone = await capture(() => runStatusCommand(['--state', stateFile(2 ** 22 + 1, 0)]));
    expect(gone.code).toBe(3);
    const none = await capture(() => runStatusCommand(['--state', join(logDir, 'missing.json')]));
    expect([none.code, none.out]).toEqual([3, `imds-analyzer is not running (no ${join(logDir, 'missing.json')})\n`]);
  });

  it('says what is wrong with a corrupt or foreign state file (exit 66)', async () => {
    const corrupt = await capture(() => runStatusCommand(['--state', join(FIXTURES, 'status/corrupt.json')]));
    expect(corrupt.code).toBe(66);
    expect(corrupt.err).toMatch(/^imds-analyzer status: .*corrupt\.json is not valid JSON \(/);
    const foreign = await capture(() => runStatusCommand(['--state', join(FIXTURES, 'status/not-state.json')]));
    expect(foreign.code).toBe(66);
    expect(foreign.err).toMatch(/not-state\.json is not an imds-analyzer state file: \w+: /);
  });
});
