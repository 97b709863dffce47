// The verdict line: written by the daemon's VerdictWriter from the same ReportBuilder as
// `report`, strict to the log contract, a valid EMF document when the host has an instance
// id, and read back by `report` as the host's answer when nothing else of the host is there.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { logLineSchema } from '../../src/model/log-line.js';
import { buildReport } from '../../src/report/read.js';
import { emfViolations } from '../helpers/emf.js';
import { hostAnswer } from '../helpers/lifecycle.js';
import { type RunHost, daemonRun } from '../helpers/daemon-run.js';

const root = mkdtempSync(join(tmpdir(), 'verdict-line-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Host = RunHost;

function host(name: string, instanceId: string | null): Host {
  const dir = join(root, name);
  return { dir, hostname: name, instanceId, bootId: `0f3c2b1a-9e8d-4c7b-a6f5-${name.padEnd(12, '0').slice(0, 12)}` };
}

function linesOf(dir: string): Array<{ text: string; line: Record<string, unknown> }> {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.log'))
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean))
    .map((text) => ({ text, line: JSON.parse(text) as Record<string, unknown> }));
}

const verdictsOf = (dir: string) => linesOf(dir).filter(({ line }) => line.event === 'verdict');

describe('the verdict line', () => {
  const a = host('host-a', 'i-0123456789abcdef0');
  const b = host('host-b', null);

  it('is written at stop, strict to the contract, and says what `report` says over the same directory', async () => {
    await daemonRun(a, 101, [
      { version: 'v1', status: 200 },
      { version: 'v1', status: 200 },
      { version: 'v2', status: 200 },
    ]);
    const verdicts = verdictsOf(a.dir);
    expect(verdicts).toHaveLength(1);
    const line: Record<string, unknown> = verdicts[0]?.line ?? {};
    expect(logLineSchema.safeParse(line).error?.issues ?? []).toEqual([]);
    const report = await buildReport([a.dir], {});
    const [full] = report.hosts;
    expect(report.hosts).toHaveLength(1);
    expect(line).toMatchObject({
      answer: full?.verdict,
      reasons: full?.reasons,
      imdsv1_programs: full?.imdsv1_programs,
      imdsv1_requests: full?.imdsv1_requests,
      programs: full?.imdsv1_programs.length,
      tokenless_ok: 2,
      pid: process.pid,
    });
    expect(line.answer).toBe('NO');
    const window = line.window as { from: string; to: string; boots: number };
    expect(window.boots).toBe(full?.boots);
    expect(window.from).toBe(full?.first_seen);
    expect(window.to).toBe(full?.last_seen);
  });

  it('a restarted daemon reads what the earlier one wrote: its verdict covers both runs', async () => {
    await daemonRun(a, 102, []);
    const verdicts = verdictsOf(a.dir);
    expect(verdicts).toHaveLength(2);
    const second = verdicts[1]?.line ?? {};
    const report = await buildReport([a.dir], {});
    expect(second).toMatchObject({
      answer: 'NO',
      imdsv1_requests: 2,
      reasons: report.hosts[0]?.reasons,
    });
    const first = verdicts[0]?.line ?? {};
    expect((second.window as { from: string }).from).toBe((first.window as { from: string }).from);
  });

  it('is a valid EMF document with the instance id as its only dimension', () => {
    const { text, line } = verdictsOf(a.dir)[0] ?? { text: '', line: {} as Record<string, unknown> };
    expect(emfViolations(text)).toEqual([]);
    expect(line).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: 'IMDSAnalyzer',
            Dimensions: [['InstanceId']],
            Metrics: [
              { Name: 'Verdict', Unit: 'None' },
              { Name: 'IMDSv1Requests', Unit: 'Count' },
              { Name: 'EvidenceGaps', Unit: 'Count' },
            ],
          },
        ],
      },
      InstanceId: a.instanceId,
      Verdict: 1,
      IMDSv1Requests: 2,
      EvidenceGaps: (line.reasons as Array<{ code: string }>).filter((r) => r.code !== 'imdsv1_callers').length,
    });
    expect(Math.abs((line._aws as { Timestamp: number }).Timestamp - (line.time as number))).toBeLessThan(50);
  });

  it('the EMF rules are not vacuous: each broken rule is found', () => {
    const line: Record<string, unknown> = verdictsOf(a.dir)[0]?.line ?? {};
    const broken = (change: (doc: Record<string, unknown>) => void) => {
      const doc = structuredClone(line) as Record<string, unknown>;
      change(doc);
      return emfViolations(JSON.stringify(doc));
    };
    type Directive = { Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> };
    const directive = (doc: Record<string, unknown>) =>
      (doc._aws as { CloudWatchMetrics: Directive[] }).CloudWatchMetrics[0] as Directive;
    expect(broken((d) => delete d.InstanceId)).toEqual([expect.stringContaining('InstanceId names no string member')]);
    expect(broken((d) => (d.Verdict = 'NO'))).toEqual([expect.stringContaining('Verdict is not a number')]);
    expect(broken((d) => (directive(d).Metrics[0] = { Name: 'Verdict', Unit: 'Answers' }))).toEqual([
      expect.stringContaining('Answers is no CloudWatch unit'),
    ]);
    expect(broken((d) => (directive(d).Namespace = 'AWS/EC2'))).toEqual([expect.stringContaining('Namespace')]);
    expect(broken((d) => ((d._aws as { Timestamp: unknown }).Timestamp = 'now'))).toEqual([
      expect.stringContaining('Timestamp'),
    ]);
    expect(emfViolations(`${JSON.stringify(line)} trailing`)).toEqual(['not one JSON value']);
  });

  it('without an instance id (Xen, off EC2) carries no metrics', async () => {
    await daemonRun(b, 201, [{ version: 'v2', status: 200 }]);
    const line = verdictsOf(b.dir)[0]?.line ?? {};
    expect(logLineSchema.safeParse(line).success).toBe(true);
    expect(line._aws).toBeUndefined();
    expect(line.InstanceId).toBeUndefined();
    expect(line.tokenless_ok).toBe(0);
  });

  it('report over verdict lines alone gives each host the answer its full report gives', async () => {
    const fleet = join(root, 'fleet');
    const collected = join(fleet, 'verdicts.log');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(fleet);
    writeFileSync(collected, [...verdictsOf(a.dir), ...verdictsOf(b.dir)].map(({ text }) => `${text}\n`).join(''));
    const fromVerdicts = await buildReport([collected], {});
    const full = await buildReport([a.dir, b.dir], {});
    expect(fromVerdicts.hosts.map(hostAnswer)).toEqual(full.hosts.map(hostAnswer));
    expect(fromVerdicts.verdict.answer).toBe(full.verdict.answer);
    expect(fromVerdicts.verdict.imdsv1_requests).toBe(full.verdict.imdsv1_requests);
  });
});
