// Rotation that really deletes evidence, with the real daemon and its real log files. Real
// clients in the testbed's namespace: an early IMDSv1 caller (curl), then thousands of
// requests that fill 1 MB log files. With room for 2 files the oldest are deleted, the curl
// lines among them: the report over the window must say so (evidence_rotated_out), never a
// clean answer, and count exactly what the files that remain hold. The same run with room
// for every file counts every request made. Every file ends within a line of its size, the
// final drain at stop included, and the daemon stops cleanly (exit 0) after deleting.
//   - summaries off (every request a line): an IMDSv2 load pushes the IMDSv1 caller out; the
//     report, seeing no IMDSv1 request left, says UNKNOWN, not YES;
//   - summaries on (the product's way): a chatty IMDSv1 poller written in full pushes the curl
//     caller out while an IMDSv2 poller is summarised; the report says NO (the poller) and
//     still names what rotation deleted: the curl program is missing from the list.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, type LogLine } from '../rig/analyzer-process.js';
import { type Client, curlV1, loadV1, loadV2 } from '../rig/index.js';
import { useTestbed } from '../rig/test-host.js';
import { type Report, reportSchema } from '../../src/report/index.js';

const isRoot = process.getuid?.() === 0;
const CURL_CALLS = 3;
/** Requests that fill more than 2 files of 1 MB (a request line is over 1 KB). */
const LOAD = 3000;
const TIGHT = { maxSizeMB: 1, frequency: 'daily', maxFiles: 2 };
const ROOM = { maxSizeMB: 1, frequency: 'daily', maxFiles: 100 };
/** A file ends with the line that took it past the size. */
const FILE_BYTES_AT_MOST = 1024 * 1024 + 64 * 1024;

type Rotation = typeof TIGHT;

interface Outcome {
  /** The log files left, oldest first: pino-roll's number and size. */
  files: Array<{ number: number; bytes: number }>;
  lines: LogLine[];
  report: Report;
  exit: number | null;
  /** What the daemon saw, from its stopping line. */
  seen: { v1: number; v2: number; unknown: number };
  /** Requests each load client made (a v2 client's token PUT included). */
  made: Map<Client, number>;
}

const isCurl = (argv: readonly string[]) => argv[0] === 'curl';
const isLoad = (client: Client) => (argv: readonly string[]) => argv.includes(client.argv[2] ?? '');

describe.skipIf(!isRoot)('evidence that rotation really deleted', () => {
  const host = useTestbed({ prefix: 'rot' });

  async function run(rotation: Rotation, summary: object, loads: Client[]): Promise<Outcome> {
    const since = new Date().toISOString();
    const daemon = await host.start({ config: { rotation, summary } });
    for (let i = 0; i < CURL_CALLS; i++) expect((await host.bed.run(curlV1().argv)).code).toBe(0);
    // The curl lines are written before the load's: the oldest lines of the first file.
    await daemon.waitForRequests((lines) => lines.filter((l) => isCurl(l.process.argv)).length === CURL_CALLS);
    const results = await Promise.all(loads.map((load) => host.bed.run(load.argv, { timeoutMs: 60_000 })));
    const made = new Map<Client, number>();
    loads.forEach((load, i) => {
      const result = results[i];
      expect(result?.code).toBe(0);
      // Every GET completed: the client made every request it was built for (its token PUT too).
      const { completed } = JSON.parse(result?.stdout ?? '{}') as { completed: number };
      expect(completed).toBe(load.expects.filter((r) => !r.tokenRequest).length);
      made.set(load, load.expected.total);
    });
    const code = await daemon.stop();
    expect({ code, stderr: daemon.stderr() }).toEqual({ code: 0, stderr: '' });
    const lines = daemon.lines();
    const stopping = lines.find((l) => l.event === 'stopping');
    if (stopping?.event !== 'stopping') throw new Error('no stopping line');
    const report = spawnSync(
      process.execPath,
      [CLI, 'report', '--format', 'json', '--include-v2', '--since', since, daemon.logDir],
      { encoding: 'utf8' },
    );
    return {
      files: readdirSync(daemon.logDir)
        .map((name) => ({ number: Number(name.split('.').at(-2)), bytes: statSync(join(daemon.logDir, name)).size }))
        .sort((a, b) => a.number - b.number),
      lines,
      report: reportSchema.parse(JSON.parse(report.stdout)),
      exit: report.status,
      seen: stopping.requests,
      made,
    };
  }

  /** A program's requests in the files: its full lines and its summary lines' counts. */
  function onDisk(lines: LogLine[], whose: (argv: readonly string[]) => boolean): number {
    return lines.reduce((n, l) => {
      if (l.event === 'imds_request' && whose(l.process.argv)) return n + 1;
      if (l.event === 'summary' && whose(l.process.argv)) return n + l.requests;
      return n;
    }, 0);
  }

  const counted = (report: Report, whose: (argv: readonly string[]) => boolean) =>
    report.groups.filter((g) => whose(g.example.argv)).reduce((n, g) => n + g.count, 0);
  const codes = (report: Report) => report.verdict.reasons.map((r) => r.code);
  const listed = (o: Outcome) => o.files.map((f) => `#${f.number} ${f.bytes} B`).join(', ');

  /** Rotation deleted the oldest files, the first among them; none grew past the size. */
  function expectDeleted(o: Outcome): void {
    expect(o.files.length).toBeLessThanOrEqual(TIGHT.maxFiles);
    expect(o.files[0]?.number).toBeGreaterThan(1);
    for (const f of o.files) expect(f.bytes).toBeLessThanOrEqual(FILE_BYTES_AT_MOST);
  }

  /** Every file rotation made is there, from the first; none grew past the size. */
  function expectAllKept(o: Outcome): void {
    expect(o.files.length).toBeGreaterThan(TIGHT.maxFiles + 1);
    expect(o.files.map((f) => f.number)).toEqual(o.files.map((_, i) => i + 1));
    for (const f of o.files) expect(f.bytes).toBeLessThanOrEqual(FILE_BYTES_AT_MOST);
  }

  describe('summaries off: an IMDSv2 load pushes the IMDSv1 caller out', () => {
    const SUMMARY = { enabled: false };

    it('rotated out: UNKNOWN with evidence_rotated_out, the counts of the files that remain', async () => {
      const load = loadV2({ workers: 1, requests: LOAD, keepAlive: true });
      const o = await run(TIGHT, SUMMARY, [load]);
      const made = o.made.get(load) ?? 0;
      const kept = onDisk(o.lines, isLoad(load));
      console.log(
        `rotated out (summaries off): files ${listed(o)}; curl ${CURL_CALLS} + load ${made} made, daemon saw v1 ${o.seen.v1} v2 ${o.seen.v2}; on disk curl ${onDisk(o.lines, isCurl)} load ${kept}; report ${o.report.verdict.answer} ${codes(o.report).join(',')}, load ${counted(o.report, isLoad(load))}`,
      );
      expectDeleted(o);
      // The daemon saw every request; the curl lines went with the oldest file.
      expect(o.seen).toEqual({ v1: CURL_CALLS, v2: made, unknown: 0 });
      expect(onDisk(o.lines, isCurl)).toBe(0);
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThan(made);
      // The report: exact over what remains, and UNKNOWN naming the deletion, never YES.
      expect(counted(o.report, isLoad(load))).toBe(kept);
      expect(o.report.groups.filter((g) => isCurl(g.example.argv))).toEqual([]);
      expect(o.report.verdict).toMatchObject({ answer: 'UNKNOWN', imdsv1_requests: 0 });
      expect(o.exit).toBe(2);
      expect(codes(o.report)).toContain('evidence_rotated_out');
    }, 60_000);

    it('with room for every file: NO, every request counted', async () => {
      const load = loadV2({ workers: 1, requests: LOAD, keepAlive: true });
      const o = await run(ROOM, SUMMARY, [load]);
      const made = o.made.get(load) ?? 0;
      console.log(
        `room (summaries off): files ${listed(o)}; report ${o.report.verdict.answer} ${codes(o.report).join(',')}, curl ${counted(o.report, isCurl)} load ${counted(o.report, isLoad(load))} of ${made}`,
      );
      expectAllKept(o);
      expect(counted(o.report, isLoad(load))).toBe(made);
      expect(counted(o.report, isCurl)).toBe(CURL_CALLS);
      expect(o.report.verdict).toMatchObject({ answer: 'NO', imdsv1_requests: CURL_CALLS });
      expect(codes(o.report)).not.toContain('evidence_rotated_out');
    }, 60_000);
  });

  describe('summaries on: a chatty IMDSv1 poller pushes an older IMDSv1 caller out', () => {
    // Every IMDSv1 request in full (the poller's rate is below the bound); IMDSv2 summarised each second.
    const SUMMARY = { enabled: true, intervalSeconds: 1, fullLinesPerInterval: 100_000 };
    const loads = () => [
      loadV1({ workers: 1, requests: LOAD, keepAlive: true }),
      loadV2({ workers: 1, requests: LOAD / 3, keepAlive: true }),
    ];

    it('rotated out: NO still names evidence_rotated_out; the counts of the files that remain', async () => {
      const [v1, v2] = loads() as [Client, Client];
      const o = await run(TIGHT, SUMMARY, [v1, v2]);
      const keptV1 = onDisk(o.lines, isLoad(v1));
      const keptV2 = onDisk(o.lines, isLoad(v2));
      console.log(
        `rotated out (summaries on): files ${listed(o)}; made curl ${CURL_CALLS} v1 ${o.made.get(v1)} v2 ${o.made.get(v2)}, daemon saw v1 ${o.seen.v1} v2 ${o.seen.v2}; on disk v1 ${keptV1} v2 ${keptV2}; report ${o.report.verdict.answer} ${codes(o.report).join(',')}, v1 ${counted(o.report, isLoad(v1))} v2 ${counted(o.report, isLoad(v2))}`,
      );
      expectDeleted(o);
      expect(o.seen).toEqual({ v1: CURL_CALLS + LOAD, v2: o.made.get(v2), unknown: 0 });
      expect(onDisk(o.lines, isCurl)).toBe(0);
      expect(keptV1).toBeLessThan(LOAD);
      expect(counted(o.report, isLoad(v1))).toBe(keptV1);
      expect(counted(o.report, isLoad(v2))).toBe(keptV2);
      expect(o.report.verdict).toMatchObject({ answer: 'NO', imdsv1_requests: keptV1 });
      // The curl program is not listed: the deletion is what says the list may be short.
      expect(o.report.groups.filter((g) => isCurl(g.example.argv))).toEqual([]);
      expect(codes(o.report)).toContain('evidence_rotated_out');
    }, 60_000);

    it('with room for every file: every request counted, in full lines and summaries', async () => {
      const [v1, v2] = loads() as [Client, Client];
      const o = await run(ROOM, SUMMARY, [v1, v2]);
      const summaries = o.lines.filter((l) => l.event === 'summary' && isLoad(v2)(l.process.argv)).length;
      console.log(
        `room (summaries on): files ${listed(o)}; v2 summary lines ${summaries}; report ${o.report.verdict.answer} ${codes(o.report).join(',')}, curl ${counted(o.report, isCurl)} v1 ${counted(o.report, isLoad(v1))} v2 ${counted(o.report, isLoad(v2))} of ${o.made.get(v2)}`,
      );
      expectAllKept(o);
      expect(summaries).toBeGreaterThan(0);
      expect(counted(o.report, isCurl)).toBe(CURL_CALLS);
      expect(counted(o.report, isLoad(v1))).toBe(LOAD);
      expect(counted(o.report, isLoad(v2))).toBe(o.made.get(v2));
      expect(o.report.verdict).toMatchObject({ answer: 'NO', imdsv1_requests: CURL_CALLS + LOAD });
      expect(codes(o.report)).not.toContain('evidence_rotated_out');
    }, 60_000);
  });
});
