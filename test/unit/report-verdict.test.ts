// The verdict over committed fixtures (test/fixtures/report/verdict, written by
// test/helpers/report-fixtures.ts through the daemon's log sink): YES only on complete
// evidence, one fixture per missing condition (UNKNOWN, exit 2, named with what to do), a fleet of three hosts answered per host (plain log, CloudWatch Logs export
// object, rotated gzip), and the per-host CSV a ticket system imports.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { messageOf } from '../../src/model/stored-line.js';
import { REASON_CODES } from '../../src/logic/report/schema.js';
import { reportSchema, runReportCommand } from '../../src/report/index.js';
import { expandInputs } from '../../src/report/read.js';
import { captureOutput } from '../helpers/capture-output.js';

const VERDICT = join(import.meta.dirname, '../fixtures/report/verdict');
const FLEET = join(VERDICT, 'fleet');
const EXPORT_OBJECT = join(FLEET, 'export/0f1e2d3c-task/i-0bbbbbbbbbbbbbbb2/000000.gz');
const LOSSY_HOST = join(FLEET, 'ip-10-0-4-11.log.gz');

const run = (args: string[]) => captureOutput(() => runReportCommand(args));

async function json(...args: string[]) {
  const { code, out } = await run(['--format', 'json', ...args]);
  return { code, report: reportSchema.parse(JSON.parse(out)) };
}

/** The table's text with its wrapping undone, so that a reason can be looked for whole. */
async function table(...args: string[]) {
  const { code, out } = await run(args);
  return { code, text: out.replace(/\n {2}/g, ' ') };
}

describe('YES only on complete evidence', () => {
  it('says YES (exit 0) for a clean day: started at boot, 25 h, nothing lost, stopped at shutdown', async () => {
    const { code, report } = await json(join(VERDICT, 'clean'));
    expect(code).toBe(0);
    expect(report.verdict).toMatchObject({ answer: 'YES', safe: true, reasons: [] });
    expect(report.verdict.text).toBe(
      'HttpTokens=required is safe on this host: YES — no IMDSv1 request in 1d 1h of observation, covering 1 boot',
    );
    expect(report.hosts).toEqual([
      {
        host: 'i-0123456789abcdef0',
        instance_id: 'i-0123456789abcdef0',
        hostname: 'ip-10-0-1-5',
        verdict: 'YES',
        reasons: [],
        imdsv1_programs: [],
        imdsv1_requests: 0,
        boots: 1,
        first_seen: '2026-11-20T00:00:00.000Z',
        last_seen: '2026-11-21T01:00:01.000Z',
        // The boot from its start (6.4 s before the early ready) to the stopping line.
        seconds: 25 * 3600 + 1 + 6.4,
        coverage: [
          {
            boot_id: 'b-1',
            from: '2026-11-19T23:59:53.600Z',
            to: '2026-11-21T01:00:01.000Z',
            seconds: 25 * 3600 + 1 + 6.4,
            from_start: true,
            runs: 1,
            uncovered_gaps: 0,
          },
        ],
      },
    ]);
  });

  it.each([
    ['restart-continued', 'a restart whose ready line says capture continued'],
    ['two-boots', 'two boots, each seen from its start, the first ended at shutdown'],
  ])('says YES across %s (%s)', async (fixture) => {
    const { code, report } = await json(join(VERDICT, fixture));
    expect([code, report.verdict.reasons]).toEqual([0, []]);
  });

  it('says YES over logs that end with the daemon stopped, and warns that nothing since is seen', async () => {
    const { code, report } = await json(join(VERDICT, 'stopped-at-end'));
    expect([code, report.verdict.reasons]).toEqual([0, []]);
    expect(report.warnings).toEqual([
      'i-0123456789abcdef0: its last daemon was stopped at 2026-11-21T01:00:01.000Z (not for a shutdown) and none started after: nothing since is observed',
    ]);
    expect((await json(join(VERDICT, 'clean'))).report.warnings).toEqual([]);
  });

  // Each fixture is the clean day with one thing wrong; the reason names it and what to do.
  const cases: Array<[string, string, RegExp]> = [
    [
      'events-lost',
      'events_lost',
      /^2 request records did not fit in the ring buffer \(kernel\.events_lost\): IMDSv1 requests may be among them; enlarge the buffer/,
    ],
    ['lost-in-stopping', 'events_lost', /^1 request record did not fit in the ring buffer/],
    [
      'perf-buffer-lost',
      'perf_buffer_lost',
      /^2 records lost by the perf buffer \(kernel\.perf_buffer_lost\): .*buffer\.perfPagesPerCpu/,
    ],
    ['decode-errors', 'decode_errors', /^2 records could not be decoded \(decode_errors\): .*reinstall the package/],
    ['record-errors', 'record_errors', /^handling failed for 2 records \(record_errors\): .*error lines/],
    ['drain-errors', 'drain_errors', /^2 buffer drains failed \(drain_errors\)/],
    [
      'parse-errors',
      'parse_errors',
      /^the kernel could not read the headers of 2 packets to IMDS \(kernel\.parse_errors\)/,
    ],
    [
      'responses-unmatched',
      'responses_unmatched',
      /^IMDS answered 2 requests the daemon did not see \(streams\.responses_unmatched\)/,
    ],
    [
      'holes-skipped',
      'stream_holes',
      /^parts of request streams were not seen \(streams\.holes_skipped, hole_bytes, bytes_skipped add up to 2\)/,
    ],
    ['hole-bytes', 'stream_holes', /add up to 2/],
    ['bytes-skipped', 'stream_holes', /add up to 2/],
    [
      'lines-not-written',
      'lines_not_written',
      /^the daemon could not write 2 log lines \(lines_not_written: disk full or write errors\): free space in the log directory/,
    ],
    [
      'no-daemon-start',
      'no_daemon_start',
      /^no daemon start \(ready line\) in the input: include the logs since the service started/,
    ],
    [
      'late-start',
      'late_start',
      /^no daemon was capturing from the start of a boot: 2026-11-19T21:55:00\.000Z \.\. 2026-11-20T00:00:00\.000Z \(boot b-1: its daemon started 125 min after the boot \(later than 30 s\)\); .*or pass --allow-no-boot$/,
    ],
    [
      'late-start-later-boot',
      'late_start',
      /^no daemon was capturing from the start of a boot: 2026-11-20T14:00:00\.000Z \.\. 2026-11-20T14:20:00\.000Z \(boot b-2: its daemon started 20 min after the boot/,
    ],
    [
      'short-window',
      'short_window',
      /^observed for only 11h 0m, less than the 1d 0h minimum: .* keep observing, or pass --min-observed/,
    ],
    [
      'restart-gap',
      'uncovered_restart',
      /^no daemon was capturing between two daemon runs on the same boot: 2026-11-20T10:00:00\.000Z \.\. 2026-11-20T10:05:00\.000Z \(boot b-1: its daemon was stopped; the next daemon did not continue its capture \(maps_not_reused\)\); requests then were not seen; report over a later boot, observed from its start \(--since after 2026-11-20T10:05:00\.000Z\)$/,
    ],
    [
      'crash-gap',
      'uncovered_restart',
      /^no daemon was capturing between two daemon runs on the same boot: 2026-11-20T10:00:00\.000Z \.\. 2026-11-20T10:00:02\.000Z \(boot b-1: its daemon ended without a stopping line \(crash or kill\)/,
    ],
    [
      'pid-reused',
      'uncovered_restart',
      /^no daemon was capturing between two daemon runs on the same boot: 2026-11-20T00:00:00\.000Z \.\. 2026-11-20T12:00:00\.000Z \(boot b-1: its daemon ended without a stopping line \(crash or kill\); the next daemon did not continue its capture \(fresh_start\)\)/,
    ],
    [
      'stop-then-later-boot',
      'boot_end_unseen',
      /^no daemon was capturing at the end of a boot \(its last daemon did not stop for a shutdown\): 2026-11-20T12:00:00\.000Z \.\. 2026-11-20T14:00:00\.000Z \(boot b-1: its daemon was stopped and no daemon started again before the next boot \(b-2\)\)/,
    ],
    [
      'crash-without-restart',
      'boot_end_unseen',
      /^no daemon was capturing at the end of a boot .*: 2026-11-20T11:00:00\.000Z \.\. 2026-11-20T14:00:00\.000Z \(boot b-1: its daemon ended without a stopping line \(crash or kill\)/,
    ],
    [
      'rotated-out',
      'evidence_rotated_out',
      /^log lines are missing: before 2026-11-20T10:00:00\.000Z \(boot b-1: a daemon continued the capture of one whose lines are missing\); rotation or someone deleted them/,
    ],
    [
      'deleted-middle',
      'evidence_rotated_out',
      /^log lines are missing: 2026-11-20T08:00:30\.000Z \.\. 2026-11-20T13:59:30\.000Z \(boot b-1: no line of a daemon that writes a stats line every 1h 0m\); rotation or someone deleted them/,
    ],
    [
      'summaries-lost',
      'summaries_lost',
      /^1 daemon that counted requests into summary lines ended without a stopping line \(crash or kill\) after 2026-11-20T10:00:00\.000Z \(boot b-1\): the counts held since their last summary line \(at most one summary interval\) were not written/,
    ],
    [
      'unclassified',
      'unclassified_requests',
      /^1 AWS-path request could not be classified as IMDSv1 or IMDSv2 .* find the program in the "unknown" group/,
    ],
    ['get-lat-prefix', 'unclassified_requests', /^1 AWS-path request could not be classified/],
    ['legacy-get-lat-prefix', 'unclassified_requests', /^1 AWS-path request could not be classified/],
    [
      'corrupt-torn-v1-line',
      'unreadable_lines',
      /^1 line of this host \(or naming none\) could not be read \(torn or not of the log contract\) and may have been requests: any of them may be IMDSv1/,
    ],
  ];
  it.each(cases)('%s: UNKNOWN with exit 2, naming %s', async (fixture, code, message) => {
    const dir = join(VERDICT, fixture);
    const { code: exit, report } = await json(dir);
    expect(exit).toBe(2);
    expect(report.verdict.answer).toBe('UNKNOWN');
    // Without any ready line the logs also begin while a daemon ran, and the window is short;
    // with the pid reused, only the second daemon's 13 h are known to be seen.
    const also: Record<string, string[]> = {
      'no-daemon-start': ['evidence_rotated_out', 'late_start', 'short_window'],
      'rotated-out': ['late_start'],
      'pid-reused': ['short_window'],
    };
    const expected = [code, ...(also[fixture] ?? [])];
    expect(report.verdict.reasons.map((r) => r.code)).toEqual(expected);
    expect(report.verdict.reasons[0]?.message).toMatch(message);
    const shown = await table(dir);
    expect(shown.code).toBe(2);
    expect(shown.text.split('\n')[0]).toMatch(
      /^HttpTokens=required is safe on this host: UNKNOWN — no IMDSv1 request seen, but the evidence is incomplete: /,
    );
    expect(shown.text).toContain(`- ${report.verdict.reasons[0]?.message}`);
  });

  it('counts the requests of a summary line as its request lines: NO with every one of them', async () => {
    const { code, report } = await json(join(VERDICT, 'summarised-v1'));
    expect([code, report.verdict.answer, report.verdict.imdsv1_requests, report.verdict.imdsv1_programs]).toEqual([
      1,
      'NO',
      41,
      1,
    ]);
    const v1 = report.groups.filter((g) => g.kind === 'imdsv1');
    expect(v1.map((g) => [g.count, g.responses.ok, g.paths, g.timeline.map((t) => t.count)])).toEqual([
      [41, 41, ['/latest/meta-data/iam/security-credentials/'], [41]],
    ]);
  });

  it('counts a loss reported after --until when it may have happened inside the window', async () => {
    const dir = join(VERDICT, 'lost-inside-until');
    // Lines at 24 h (0 lost) and 26 h (1 lost): the loss lies somewhere in between.
    const inside = await json('--until', '2026-11-21T01:00:00Z', dir);
    expect([inside.code, inside.report.verdict.reasons.map((r) => r.code)]).toEqual([2, ['events_lost']]);
    // A window that ends before the 24 h line holds none of it (and is too short without --min-observed 0).
    const before = await json('--until', '2026-11-20T23:00:00Z', '--min-observed', '0', dir);
    expect([before.code, before.report.verdict.reasons]).toEqual([0, []]);
    // Nor does one that starts after the 26 h line (only the stopping line, 1 s later, is in it).
    const after = await json('--since', '2026-11-21T02:00:00.500Z', '--min-observed', '0', '--allow-no-boot', dir);
    expect([after.code, after.report.verdict.reasons]).toEqual([0, []]);
  });

  it('drops the window and boot conditions only when asked, never the others', async () => {
    expect((await json('--min-observed', '0', join(VERDICT, 'short-window'))).code).toBe(0);
    expect((await json('--min-observed', '11h', join(VERDICT, 'short-window'))).code).toBe(0);
    expect((await json('--min-observed', '12h', join(VERDICT, 'short-window'))).code).toBe(2);
    expect((await json('--allow-no-boot', join(VERDICT, 'late-start'))).code).toBe(0);
    expect((await json('--allow-no-boot', join(VERDICT, 'late-start-later-boot'))).code).toBe(0);
    const noStart = await json('--allow-no-boot', join(VERDICT, 'no-daemon-start'));
    expect([noStart.code, noStart.report.verdict.reasons.map((r) => r.code)]).toEqual([
      2,
      ['no_daemon_start', 'evidence_rotated_out', 'short_window'],
    ]);
    // Deleted lines stay a reason whatever is dropped; a window that starts after them has none.
    const rotated = await json('--allow-no-boot', '--min-observed', '0', join(VERDICT, 'rotated-out'));
    expect([rotated.code, rotated.report.verdict.reasons.map((r) => r.code)]).toEqual([2, ['evidence_rotated_out']]);
    const after = await json('--allow-no-boot', '--since', '2026-11-20T11:00:00Z', join(VERDICT, 'rotated-out'));
    expect([after.code, after.report.verdict.reasons]).toEqual([0, []]);
    for (const fixture of ['restart-gap', 'stop-then-later-boot', 'crash-without-restart', 'events-lost']) {
      const lossy = await json('--min-observed', '0', '--allow-no-boot', join(VERDICT, fixture));
      expect([
        fixture,
        lossy.code,
        lossy.report.observation.min_observed_seconds,
        lossy.report.observation.boot_from_start_required,
      ]).toEqual([fixture, 2, 0, false]);
    }
  });
});

describe('the report over a fleet', () => {
  it('answers per host and NO overall (exit 1) for one NO, one UNKNOWN through lost events, one YES', async () => {
    const { code, report } = await json(FLEET);
    expect(code).toBe(1);
    expect(report.verdict.answer).toBe('NO');
    expect(report.verdict.text).toBe(
      'HttpTokens=required is safe on these 3 hosts: NO — 1 program still uses IMDSv1 (1 request), on 1 of 3 hosts',
    );
    expect(
      report.hosts.map((h) => [
        h.host,
        h.instance_id,
        h.hostname,
        h.verdict,
        h.reasons.map((r) => r.code),
        h.imdsv1_programs,
      ]),
    ).toEqual([
      [
        'i-0aaaaaaaaaaaaaaa1',
        'i-0aaaaaaaaaaaaaaa1',
        'ip-10-0-2-7',
        'NO',
        ['imdsv1_callers'],
        ['python3 /opt/app/sync.py --batch <n>'],
      ],
      // Its lines carry "instance_id": null: it is known by its hostname.
      ['ip-10-0-4-11', null, 'ip-10-0-4-11', 'UNKNOWN', ['events_lost'], []],
      ['i-0bbbbbbbbbbbbbbb2', 'i-0bbbbbbbbbbbbbbb2', 'ip-10-0-3-9', 'YES', [], []],
    ]);
    expect(report.hosts[1]?.reasons[0]?.message).toMatch(/^7 request records did not fit in the ring buffer/);
    expect(report.verdict.reasons.map((r) => r.message)).toEqual([
      '1 of 3 hosts: 1 program still uses IMDSv1 (1 request) (see hosts)',
      '1 of 3 hosts: records lost (ring buffer) (see hosts)',
    ]);
    // The export's permission-check object is not read; its one log object is.
    expect(report.input).toEqual({ files: 3, lines: 19, corrupt_lines: 0, unreadable_files: 0 });
  });

  it('keeps the SDK a group needs to be fixed, derives its advice, and counts only 2xx as ok', async () => {
    const { report } = await json(FLEET);
    expect(report.groups).toEqual([
      expect.objectContaining({
        kind: 'imdsv1',
        hosts: ['i-0aaaaaaaaaaaaaaa1'],
        sdk: { name: 'botocore', version: '1.12.0', min_imdsv2_version: '1.13.25', supports_imdsv2: false },
        // The line has "advice": null; the daemon's own words for this SDK are used.
        advice: 'botocore 1.12.0 predates IMDSv2 support (1.13.25): upgrade it.',
        responses: { ok: 0, rejected: 0, other: 1, none: 0 },
      }),
    ]);
  });

  it('is UNKNOWN (exit 2) when no host is NO but one is UNKNOWN, YES (exit 0) when all are YES', async () => {
    const mixed = await json(EXPORT_OBJECT, LOSSY_HOST);
    expect([mixed.code, mixed.report.verdict.text]).toEqual([
      2,
      'HttpTokens=required is safe on these 2 hosts: UNKNOWN — no IMDSv1 request seen, but the evidence is incomplete, on 1 of 2 hosts: records lost (ring buffer)',
    ]);
    const yes = await json(EXPORT_OBJECT, join(VERDICT, 'clean'));
    expect([yes.code, yes.report.hosts.map((h) => h.verdict)]).toEqual([0, ['YES', 'YES']]);
    const one = await json('--host', 'ip-10-0-3-9', FLEET);
    expect([one.code, one.report.hosts.map((h) => h.host)]).toEqual([0, ['i-0bbbbbbbbbbbbbbb2']]);
    expect((await json('--host', 'i-0aaaaaaaaaaaaaaa1', FLEET)).code).toBe(1);
  });

  it('lists the hosts in the table, NO first, within 100 columns', async () => {
    const { code, out } = await run([FLEET]);
    expect(code).toBe(1);
    const lines = out.split('\n');
    const start = lines.indexOf('Hosts (NO, then UNKNOWN, then YES)');
    expect(lines.slice(start + 1, start + 4)).toEqual([
      'NO      i-0aaaaaaaaaaaaaaa1 (ip-10-0-2-7)  1 IMDSv1 request(s) by python3 /opt/app/sync.py --batch …',
      'UNKNOWN ip-10-0-4-11  missing: events_lost',
      'YES     i-0bbbbbbbbbbbbbbb2 (ip-10-0-3-9)  1d 1h observed, 1 boot(s)',
    ]);
    expect(Math.max(...lines.map((l) => [...l].length))).toBeLessThanOrEqual(100);
  });

  describe('per-host CSV', () => {
    const dir = mkdtempSync(join(tmpdir(), 'report-hosts-csv-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('writes one row per host, NO first, beside the callers CSV', async () => {
      const file = join(dir, 'hosts.csv');
      const { code, out } = await run(['--format', 'csv', '--hosts-csv', file, FLEET]);
      expect(code).toBe(1);
      expect(out.split('\n')[0]).toMatch(/^kind,count,command,/);
      const rows = readFileSync(file, 'utf8').split('\n');
      expect(rows[0]).toBe(
        'host,instance_id,hostname,verdict,imdsv1_programs,imdsv1_requests,reasons,details,boots,first_seen,last_seen,observed_hours',
      );
      expect(rows[1]).toBe(
        'i-0aaaaaaaaaaaaaaa1,i-0aaaaaaaaaaaaaaa1,ip-10-0-2-7,NO,python3 /opt/app/sync.py --batch <n>,1,imdsv1_callers,1 program still uses IMDSv1 (1 request),1,2026-11-20T00:00:00.000Z,2026-11-21T01:00:01.000Z,25',
      );
      expect(rows[2]).toMatch(
        /^ip-10-0-4-11,,ip-10-0-4-11,UNKNOWN,,0,events_lost,"7 request records did not fit in the ring buffer \(kernel\.events_lost\): IMDSv1 requests may be among them; enlarge the buffer \(buffer\.ringSizeKB\), then observe a window without loss",1,/,
      );
      expect(rows[3]).toMatch(/^i-0bbbbbbbbbbbbbbb2,i-0bbbbbbbbbbbbbbb2,ip-10-0-3-9,YES,,0,,,1,/);
      expect(rows.slice(4)).toEqual(['']);
    });
  });
});

describe('CloudWatch Logs export objects', () => {
  it('takes our JSON out of `<ISO timestamp> <message>` lines and leaves our own lines as they are', () => {
    const json = '{"time":1,"event":"ready"}';
    expect(messageOf(`2026-11-20T00:00:00.000Z ${json}`)).toBe(json);
    expect(messageOf(`2026-11-20T00:00:00Z ${json}`)).toBe(json);
    expect(messageOf(`2026-11-20T00:00:00.000+01:00 ${json}`)).toBe(json);
    expect(messageOf(json)).toBe(json);
    // Anything else is handed on unchanged, to be counted as a corrupt line.
    expect(messageOf('Permission Check Successful')).toBe('Permission Check Successful');
    expect(messageOf(`2026-11-20 ${json}`)).toBe(`2026-11-20 ${json}`);
  });

  it('reads an export object (gzip, no .log in its name) as one host, and walks the export tree', async () => {
    const { code, report } = await json('--format', 'json', EXPORT_OBJECT);
    expect(code).toBe(0);
    expect(report.input).toEqual({ files: 1, lines: 6, corrupt_lines: 0, unreadable_files: 0 });
    expect(report.hosts.map((h) => [h.host, h.verdict])).toEqual([['i-0bbbbbbbbbbbbbbb2', 'YES']]);
    expect(expandInputs([join(FLEET, 'export')])).toEqual([EXPORT_OBJECT]);
  });

  it('counts an export line whose message is not JSON as corrupt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'report-export-'));
    try {
      const { writeFileSync } = await import('node:fs');
      const { gzipSync } = await import('node:zlib');
      writeFileSync(
        join(dir, '000000.gz'),
        gzipSync('2026-11-20T00:00:00.000Z not json\n2026-11-20T00:00:01.000Z {"time":1,"hostname":"h"}\n'),
      );
      const { report } = await json(dir);
      expect(report.input).toMatchObject({ lines: 2, corrupt_lines: 1 });
      expect(report.hosts.map((h) => h.host)).toEqual(['h']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('docs/report.md', () => {
  it('has every reason code in its one table of evidence rules', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../docs/report.md'), 'utf8');
    const rows = doc.split('\n').filter((l) => /^\| `[a-z_0-9]+` \|/.test(l));
    const documented = rows.map((l) => /^\| `([a-z_0-9]+)`/.exec(l)?.[1]);
    // imdsv1_callers is the NO, no_lines the empty input: both above the table.
    expect(documented.sort()).toEqual(REASON_CODES.filter((c) => c !== 'imdsv1_callers' && c !== 'no_lines').sort());
  });
});
