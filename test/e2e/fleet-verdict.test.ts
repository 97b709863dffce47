// Two real daemon sessions as two hosts (the second in a UTS namespace of its own, so with a
// host name of its own): each writes verdict lines (periodically and at stop) from what it
// captured; `report` over nothing but those lines gives each host the answer the full report
// over both log directories gives.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Report, reportSchema } from '../../src/report/index.js';
import { CLI, type LogLine, type RunningDaemon, startAnalyzer } from '../rig/analyzer-process.js';
import { type Testbed, createTestbed, curlV1, curlV2 } from '../rig/index.js';
import { hostAnswer } from '../helpers/lifecycle.js';

const isRoot = process.getuid?.() === 0;
const SECOND_HOST = 'fleet-host-b';

function report(args: string[]): { status: number | null; report: Report } {
  const run = spawnSync(process.execPath, [CLI, 'report', '--format', 'json', ...args], { encoding: 'utf8' });
  return { status: run.status, report: reportSchema.parse(JSON.parse(run.stdout)) };
}

describe.skipIf(!isRoot)('verdict lines of two daemon sessions as two hosts', () => {
  let bed: Testbed;
  const sessions: RunningDaemon[] = [];
  const verdicts: LogLine[][] = [];
  const dir = mkdtempSync(join(tmpdir(), 'fleet-verdict-'));

  /** One session: a daemon, the clients, a stop; its verdict lines. */
  async function session(clients: Array<{ argv: string[] }>, launcher?: string[]): Promise<void> {
    const daemon = await startAnalyzer({ config: { verdictIntervalSeconds: 1 }, launcher, dieWithParent: true });
    sessions.push(daemon);
    for (const client of clients) expect((await bed.run(client.argv)).code).toBe(0);
    await daemon.waitForRequests((lines) => lines.length >= clients.length);
    // At least one periodic verdict line before the stop writes the last.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await daemon.stop()).toBe(0);
    verdicts.push(daemon.lines().filter((l) => l.event === 'verdict'));
  }

  beforeAll(async () => {
    bed = await createTestbed({ prefix: 'flv' });
    await session([curlV1(), curlV2()]);
    await session([curlV2()], ['unshare', '--uts', '--', 'sh', '-c', `hostname ${SECOND_HOST} && exec "$@"`, 'sh']);
  }, 120_000);
  afterAll(async () => {
    for (const daemon of sessions) daemon.cleanup();
    await bed?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('each session wrote periodic verdict lines and one at stop, as its host', () => {
    const [first = [], second = []] = verdicts;
    expect(first.length).toBeGreaterThanOrEqual(2);
    expect(second.length).toBeGreaterThanOrEqual(2);
    expect(new Set(second.map((l) => l.hostname))).toEqual(new Set([SECOND_HOST]));
    expect(first.some((l) => l.hostname === SECOND_HOST)).toBe(false);
    expect(first.at(-1)).toMatchObject({ answer: 'NO' });
    // The second host saw only IMDSv2 (and the first session's lines are not its own).
    expect(second.at(-1)).toMatchObject({ answer: 'UNKNOWN', imdsv1_requests: 0 });
  });

  it("the fleet answer from the verdict lines equals the full report's per-host answers", () => {
    const collected = join(dir, 'verdicts.log');
    writeFileSync(
      collected,
      verdicts
        .flat()
        .map((l) => `${JSON.stringify(l)}\n`)
        .join(''),
    );
    const full = report(sessions.map((d) => d.logDir));
    for (const args of [[collected], ['--verdicts', collected], ['--verdicts', ...sessions.map((d) => d.logDir)]]) {
      const fleet = report(args);
      expect(fleet.report.hosts.map(hostAnswer), args.join(' ')).toEqual(full.report.hosts.map(hostAnswer));
      expect(fleet.report.verdict.answer).toBe(full.report.verdict.answer);
      expect(fleet.status).toBe(full.status);
    }
    expect(full.report.hosts).toHaveLength(2);
    expect(full.report.verdict.answer).toBe('NO');
  });
});
