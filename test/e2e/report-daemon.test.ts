// The report on logs written by the real daemon: the report's verdict, groups and counts,
// asserted exactly, and `status` reading the running daemon's state.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../rig/analyzer-process.js';
import { curlV1, curlV2, pythonUrllibV1 } from '../rig/index.js';
import { useTestHost } from '../rig/test-host.js';
import { reportSchema } from '../../src/report/index.js';

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)("report over the daemon's own logs", () => {
  const host = useTestHost({ prefix: 'rep' });
  beforeAll(async () => {
    for (const client of [curlV1(), curlV1(), curlV2(), pythonUrllibV1()]) {
      expect((await host.bed.run(client.argv)).code).toBe(0);
    }
    // Lines of this test's clients only: others' traffic on the host is filtered by pid below.
    await host.daemon.waitForRequests((lines) => lines.length >= 5);
  });

  it('writes the time since boot on its ready line', () => {
    const ready = host.daemon.ready as { uptime_ms?: unknown };
    const uptimeNowMs = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;
    expect(ready.uptime_ms).toEqual(expect.any(Number));
    expect(ready.uptime_ms as number).toBeGreaterThan(0);
    expect(ready.uptime_ms as number).toBeLessThanOrEqual(uptimeNowMs);
  });

  it('status reports the running daemon', () => {
    const run = spawnSync(process.execPath, [CLI, 'status', '--state', `${host.daemon.stateDir}/status.json`], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^imds-analyzer: running \(pid \d+\)/);
    expect(run.stdout).toMatch(/programs: imds_connect4#\d+/);
    expect(run.stdout).toMatch(/lost events: 0/);
  });

  it('groups the two curl runs and the python run as the IMDSv1 callers, exit 1', async () => {
    await host.daemon.stop();
    const run = spawnSync(process.execPath, [CLI, 'report', '--format', 'json', host.daemon.logDir], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(1);
    const report = reportSchema.parse(JSON.parse(run.stdout));
    const curl = report.groups.find((g) => g.kind === 'imdsv1' && g.exe === '/usr/bin/curl');
    const python = report.groups.find((g) => g.kind === 'imdsv1' && g.exe?.includes('python3'));
    expect(curl).toMatchObject({
      count: 2,
      sdk: { name: 'curl', supports_imdsv2: null },
      responses: { ok: 2, rejected: 0 },
    });
    // The program's argv shape: numbers normalised, the URL keeps its host, its path goes to `paths`.
    expect(curl!.command).toBe('curl -sS --max-time <n> http://169.254.169.254/<path>'); // test data, never dialled
    expect(curl!.paths).toEqual(['/latest/meta-data/instance-id']);
    expect(python).toMatchObject({ count: 1, sdk: { name: 'python-urllib' } });
    expect(report.verdict).toMatchObject({ answer: 'NO', safe: false });
    // A NO needs no minimum; the evidence a YES would need is still named: this run lasted
    // seconds and its daemon started long after boot.
    expect(report.verdict.reasons.map((r) => r.code)).toEqual(['imdsv1_callers', 'late_start', 'short_window']);
    expect(report.hosts).toHaveLength(1);
    expect(report.verdict.text).toMatch(
      /^HttpTokens=required is safe on this host: NO — \d+ programs? still uses? IMDSv1/,
    );
    expect(report.observation.boots).toBe(1);
    expect(report.input.corrupt_lines).toBe(0);
    // The IMDSv2 client is not a caller to fix.
    expect(report.groups.some((g) => g.command.includes('-X PUT'))).toBe(false);
  });
});
