// A real crash while the daemon holds summary counts. An IMDSv2 load client in the testbed's
// namespace makes requests the real daemon counts into its program's summary line (the
// interval is 5 minutes, so none is written yet, and a stats line is due only each minute);
// the daemon is killed with SIGKILL and started again on the same config, log and state
// directories, as the service restarts after a crash. The design does not keep counts
// through a crash: the report must then say UNKNOWN naming summaries_lost, and count exactly
// what the log holds. The same run stopped with SIGTERM counts every request made.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI, type LogLine } from '../rig/analyzer-process.js';
import { curlV2, loadV2 } from '../rig/index.js';
import { useTestbed } from '../rig/test-host.js';
import { type Report, reportSchema } from '../../src/report/index.js';

const isRoot = process.getuid?.() === 0;
const GETS = 300;
const CONFIG = {
  summary: { enabled: true, intervalSeconds: 300, fullLinesPerInterval: 2 },
  statsIntervalSeconds: 60,
};

interface Outcome {
  /** Requests the load client made: its token PUT and its GETs. */
  made: number;
  served: number;
  /** The first daemon's pid and its lines. */
  pid: number;
  lines: LogLine[];
  report: Report;
  exit: number | null;
}

const isLoad = (argv: readonly string[]) => argv.includes('load-v2');

describe.skipIf(!isRoot)('summary counts through a real crash and restart', () => {
  const host = useTestbed({ prefix: 'scr' });

  /** The load, a marker client whose line says the load was handed over, the daemon ended by `signal`, a restart, a clean stop, the report. */
  async function runEndedBy(signal: 'SIGKILL' | 'SIGTERM'): Promise<Outcome> {
    const first = await host.start({ config: CONFIG });
    const load = await host.bed.run(loadV2({ workers: 1, requests: GETS, keepAlive: true }).argv);
    expect(load.code).toBe(0);
    expect(JSON.parse(load.stdout)).toMatchObject({ completed: GETS, failed: 0 });
    // A later connection's line: the load's requests were all handed over (written or counted) before it.
    expect((await host.bed.run(curlV2().argv)).code).toBe(0);
    await first.waitForRequests((lines) => lines.some((l) => l.process.argv.includes('@-')));
    await first.stop(signal);
    const second = await host.start({ restartIn: first.dir });
    expect(await second.stop()).toBe(0);
    const run = spawnSync(
      process.execPath,
      [CLI, 'report', '--format', 'json', '--include-v2', '--min-observed', '1s', '--allow-no-boot', first.logDir],
      { encoding: 'utf8' },
    );
    return {
      made: GETS + 1,
      served: host.bed.serverRequests().length,
      pid: first.ready.pid,
      lines: second.lines(),
      report: reportSchema.parse(JSON.parse(run.stdout)),
      exit: run.status,
    };
  }

  /** The load client's requests in the log: its full lines and its summary lines' counts. */
  function loggedLoad(lines: LogLine[]): { full: number; summarised: number } {
    const full = lines.filter((l) => l.event === 'imds_request' && isLoad(l.process.argv)).length;
    const summarised = lines
      .filter((l) => l.event === 'summary' && isLoad(l.process.argv))
      .reduce((n, l) => n + (l.event === 'summary' ? l.requests : 0), 0);
    return { full, summarised };
  }

  const loadCount = (report: Report) =>
    report.groups.filter((g) => g.kind === 'imdsv2' && isLoad(g.example.argv)).reduce((n, g) => n + g.count, 0);
  const codes = (report: Report) => report.verdict.reasons.map((r) => r.code);

  it('kill -9 with counts held: UNKNOWN naming summaries_lost, the counts the log holds and no more', async () => {
    const served0 = host.bed.serverRequests().length;
    const o = await runEndedBy('SIGKILL');
    // The test IMDS served every request (the load's and the marker's PUT and GET).
    expect(o.served - served0).toBe(o.made + 2);
    const mine = o.lines.filter((l) => 'pid' in l && l.pid === o.pid);
    // Killed: no summary, no stopping line; the stats line written at its first count says it held some.
    expect(mine.some((l) => l.event === 'stopping' || l.event === 'summary')).toBe(false);
    const stats = mine.filter((l) => l.event === 'stats');
    expect(stats.length).toBeGreaterThan(0);
    expect(stats.some((l) => l.event === 'stats' && (l.requests_summarised ?? 0) > 0)).toBe(true);
    const logged = loggedLoad(o.lines);
    const counted = loadCount(o.report);
    console.log(
      `crash: load made ${o.made}, log holds ${logged.full} full lines + ${logged.summarised} in summaries, report counts ${counted}; verdict ${o.report.verdict.answer} ${codes(o.report).join(',')}`,
    );
    // The counts held were lost with the process: the report counts what the log holds, exactly.
    expect(logged.summarised).toBe(0);
    expect(counted).toBe(logged.full);
    expect(counted).toBeLessThan(o.made);
    // ... and says so.
    expect(o.report.verdict.answer).toBe('UNKNOWN');
    expect(o.exit).toBe(2);
    expect(codes(o.report)).toContain('summaries_lost');
    expect(o.report.verdict.imdsv1_requests).toBe(0);
  }, 60_000);

  it('the same run stopped with SIGTERM: every request counted, no summaries_lost', async () => {
    const o = await runEndedBy('SIGTERM');
    const logged = loggedLoad(o.lines);
    const counted = loadCount(o.report);
    console.log(
      `clean stop: load made ${o.made}, log holds ${logged.full} full lines + ${logged.summarised} in summaries, report counts ${counted}; verdict ${o.report.verdict.answer} ${codes(o.report).join(',')}`,
    );
    expect(logged.summarised).toBeGreaterThan(0);
    expect(logged.full + logged.summarised).toBe(o.made);
    expect(counted).toBe(o.made);
    // The restart leaves a gap in capture (uncovered_restart) here too: only summaries_lost tells the crash.
    expect(codes(o.report)).not.toContain('summaries_lost');
  }, 60_000);
});
