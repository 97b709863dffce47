// The report's canary section over committed fixtures written by the daemon's own sink
// (test/helpers/report-fixtures.ts: canary-refused, canary-safe, canary-escaped): refused requests by program,
// the target's tokenless requests the canary did not refuse (escaped),
// what IMDS answered, the unit's fate from its canary_target lines, advice, and how the
// refused requests count for the verdict (as IMDSv1 callers). Then the pure judgement for each
// outcome, the parts of a split read adding up to the whole, every format, and `status`.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ReportBuilder } from '../../src/logic/report/aggregate.js';
import { CanaryEvidence, judge } from '../../src/logic/report/canary-section.js';
import type { StoredLogLine } from '../../src/model/stored-line.js';
import type { CanarySection } from '../../src/logic/report/canary-schema.js';
import { parseSystemdShow } from '../../src/logic/canary.js';
import { cgroupState } from '../../src/daemon/canary-target.js';
import { reportSchema, runReportCommand, runStatusCommand } from '../../src/report/index.js';
import { processStartTicks } from '../../src/state/instance-lock.js';
import { captureOutput } from '../helpers/capture-output.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/report');
const REFUSED = join(FIXTURES, 'verdict/canary-refused');
const SAFE = join(FIXTURES, 'verdict/canary-safe');
const ESCAPED = join(FIXTURES, 'verdict/canary-escaped');

async function json(...args: string[]) {
  const { code, out } = await captureOutput(() => runReportCommand(['--format', 'json', ...args]));
  return { code, report: reportSchema.parse(JSON.parse(out)) };
}

describe('the canary section', () => {
  it('lists a canary on a unit: refused requests by program, what IMDS answered, the restart, advice', async () => {
    const { code, report } = await json(REFUSED);
    // The refused requests were sent without a token: IMDSv1 callers, NO.
    expect(code).toBe(1);
    expect(report.verdict).toMatchObject({ answer: 'NO', imdsv1_requests: 3, imdsv1_programs: 2 });
    expect(report.groups.map((g) => [g.command, g.count, g.canary_refused, g.responses.rejected])).toEqual([
      ['python3 /opt/app/sync.py', 2, 2, 2],
      ['aws ec2 describe-tags', 1, 1, 0],
    ]);
    expect(report.canaries).toHaveLength(1);
    const [section] = report.canaries as [CanarySection];
    expect(section).toMatchObject({
      host: 'i-0123456789abcdef0',
      target: 'unit:app-sync.service',
      cgroup: '/system.slice/app-sync.service',
      started_at: '2026-11-20T02:00:00.000Z',
      until: '2026-11-20T04:00:00.000Z',
      ended_at: '2026-11-20T04:00:00.000Z',
      end_reason: 'expired',
      seconds: 7200,
      refused: 3,
      answered: { '401': 2, none: 1 },
      programs_unlisted: 0,
      escaped: 0,
      escaped_programs: [],
      escapes_unchecked: 0,
      kernel: { sockets: 3, refused: 3, passed_token: 0, left_alone_long: 0 },
      unit: {
        evidence: 'systemd',
        restarts: 1,
        failed: false,
        results: ['exit-code'],
        stopped: true,
        final_state: 'active',
      },
      outcome: 'refused',
    });
    expect(section.programs.map((p) => [p.command, p.sdk?.version, p.count, p.answered, p.paths])).toEqual([
      ['python3 /opt/app/sync.py', '1.12.0', 2, { '401': 2 }, ['/latest/meta-data/iam/security-credentials/']],
      ['aws ec2 describe-tags', '2.15.0', 1, { none: 1 }, ['/latest/meta-data/placement/region']],
    ]);
    expect(section.advice[0]).toMatch(
      /^python3 \/opt\/app\/sync\.py \(botocore 1\.12\.0\): 2 tokenless requests refused .*upgrade it\. A canary made IMDS refuse it/,
    );
    // Not "IMDS already rejects it": the instance does not require IMDSv2, the canary refused it.
    expect(JSON.stringify(report)).not.toMatch(/already rejects/);
    expect(section.advice.at(-1)).toBe(
      'unit:app-sync.service restarted 1 time and had the result exit-code while refused: it breaks under HttpTokens=required until the programs above are fixed.',
    );
  });

  it('finds a canary on a container that refused nothing safe for it, and leaves the verdict YES', async () => {
    const { code, report } = await json(SAFE);
    expect([code, report.verdict.answer]).toEqual([0, 'YES']);
    expect(report.canaries).toEqual([
      expect.objectContaining({
        target: 'container:c0ffeec0ffee',
        refused: 0,
        programs: [],
        end_reason: 'stopped',
        unit: { evidence: 'cgroup', restarts: 0, failed: null, results: [], stopped: false, final_state: 'populated' },
        outcome: 'safe',
        advice: [
          'no tokenless request refused in 30m 0s (4 requests with a token passed): HttpTokens=required is safe for this workload, as far as it called IMDS in this window.',
        ],
      }),
    ]);
  });

  it("counts a restarted unit's tokenless requests the canary did not refuse as escaped: never safe", async () => {
    const { code, report } = await json(ESCAPED);
    // The escaped request is an IMDSv1 request like any other: NO.
    expect([code, report.verdict.answer, report.verdict.imdsv1_requests]).toEqual([1, 'NO', 1]);
    const [section] = report.canaries as [CanarySection];
    expect(section).toMatchObject({
      target: 'unit:app-sync.service',
      refused: 0,
      programs: [],
      escaped: 1,
      escapes_unchecked: 0,
      kernel: { sockets: 2, passed_token: 2, refused: 0 },
      unit: { evidence: 'systemd', restarts: 1 },
      outcome: 'escaped',
    });
    expect(section.escaped_programs).toEqual([
      {
        command: 'python3 /opt/app/sync.py',
        script: '/opt/app/sync.py',
        exe: '/usr/bin/python3.6',
        unit: 'app-sync.service',
        sdk: { name: 'botocore', version: '1.12.0', min_imdsv2_version: '1.13.25', supports_imdsv2: false },
        count: 1,
        first_seen: '2026-11-20T02:10:00.300Z',
        last_seen: '2026-11-20T02:10:00.300Z',
      },
    ]);
    expect(section.advice).toEqual([
      'python3 /opt/app/sync.py (botocore 1.12.0): 1 tokenless request escaped the canary (not refused, IMDS answered as without it); HttpTokens=required will refuse them.',
      'unit:app-sync.service: 1 tokenless request escaped the canary, so this window does not prove the workload safe: the unit restarted 1 time and its first requests were made before the canary re-attached to its new cgroup (it attaches when it sees the new cgroup made); or a connection opened before the canary started is not in its map. Rerun the canary over a window in which the target does not restart, or fix the programs above before requiring IMDSv2.',
    ]);
    // Without the escape the same window reads safe: the escape alone decides.
    const builder = new ReportBuilder();
    for (const line of readFileSync(join(ESCAPED, 'imds-analyzer.log'), 'utf8').split('\n').filter(Boolean))
      if (!line.includes('"imds_version":"v1"')) builder.addText(line);
    expect(builder.result().canaries.map((c) => [c.escaped, c.outcome])).toEqual([[0, 'safe']]);
  });

  it('counts as escaped only requests of its subtree, in its window, on its host, without a canary object', () => {
    const lines = readFileSync(join(ESCAPED, 'imds-analyzer.log'), 'utf8').split('\n').filter(Boolean);
    const v1 = lines.find((line) => line.includes('"imds_version":"v1"')) as string;
    const moved = (from: string, to: string) => v1.replace(from, to);
    const variants = [
      // After the canary's end, before its start, in a sibling cgroup, on another host.
      moved('"request_time":"2026-11-20T02:10:00.300Z"', '"request_time":"2026-11-20T03:00:01.000Z"'),
      moved('"request_time":"2026-11-20T02:10:00.300Z"', '"request_time":"2026-11-20T01:59:59.000Z"'),
      moved('"cgroup":"/system.slice/app-sync.service"', '"cgroup":"/system.slice/app-sync.service2"'),
      moved('"instance_id":"i-0123456789abcdef0"', '"instance_id":"i-0fffffffffffffff0"'),
      // Below the unit's cgroup: counted; with a canary object: refused, not escaped.
      moved('"cgroup":"/system.slice/app-sync.service"', '"cgroup":"/system.slice/app-sync.service/worker"'),
      moved('"response":{"status":200}', '"response":{"status":401}').replace(
        '"request_time"',
        '"canary":{"target":"unit:app-sync.service","mode":"required","until":"2026-11-20T03:00:00.000Z"},"request_time"',
      ),
    ];
    expect(variants.every((line) => line !== v1)).toBe(true);
    const builder = new ReportBuilder();
    for (const line of [...lines.filter((l) => l !== v1), ...variants]) builder.addText(line);
    const canaries = builder.result().canaries.filter((c) => c.host === 'i-0123456789abcdef0');
    expect(canaries.map((c) => [c.escaped, c.refused, c.outcome])).toEqual([[1, 1, 'refused']]);
    expect(canaries[0]?.advice.at(-1)).toMatch(/^unit:app-sync\.service: 1 tokenless request escaped the canary/);
  });

  it('beyond its bound on remembered requests counts them: a canary whose window they meet is not safe', () => {
    const T = Date.parse('2026-11-20T00:00:00Z');
    const canaryLine = (action: 'started' | 'ended'): StoredLogLine =>
      ({
        event: 'canary',
        time: action === 'started' ? T : T + 60_000,
        action,
        target: 'unit:a.service',
        mode: 'required',
        cgroup: '/system.slice/a.service',
        started_at: new Date(T).toISOString(),
        until: new Date(T + 60_000).toISOString(),
        kernel: { sockets: 1, refused: 0, passed_token: 1 },
        reattached: 0,
      }) as const;
    const run = (evidence: CanaryEvidence, requests: Array<[string, number]>) => {
      evidence.see(canaryLine('started'), T, 'h', true);
      for (const [cgroup, t] of requests) evidence.seeUnrefused('h', cgroup, 'curl', t);
      evidence.see(canaryLine('ended'), T + 60_000, 'h', true);
      return evidence;
    };
    const unit = '/system.slice/a.service';
    // Two kept (another unit's), the canary's own beyond the bound: not counted, not safe.
    const bounded = run(new CanaryEvidence(2), [
      ['/system.slice/b.service', T + 1],
      ['/system.slice/b.service', T + 2],
      [unit, T + 3],
    ]).result(() => undefined);
    expect(bounded.map((c) => [c.escaped, c.escapes_unchecked, c.outcome])).toEqual([[0, 1, 'incomplete']]);
    // Beyond the bound but outside the window: nothing unchecked, safe.
    const outside = run(new CanaryEvidence(0), [[unit, T + 61_000]]).result(() => undefined);
    expect(outside.map((c) => [c.escaped, c.escapes_unchecked, c.outcome])).toEqual([[0, 0, 'safe']]);
    // A reader's part absorbed past the bound: what fits is counted, the rest unchecked.
    const part = run(new CanaryEvidence(), [
      [unit, T + 1],
      [`${unit}/worker`, T + 2],
      [unit, T + 3],
    ]).takePartial();
    const joined = new CanaryEvidence(2);
    joined.absorb(structuredClone(part));
    const escaped = joined.result(() => ({ command: 'curl', script: null, exe: null, unit: 'a.service', sdk: null }));
    expect(escaped.map((c) => [c.escaped, c.escapes_unchecked, c.outcome])).toEqual([[2, 1, 'escaped']]);
    expect(escaped[0]?.escaped_programs.map((p) => [p.command, p.count])).toEqual([['curl', 2]]);
  });

  it('leaves out a canary with no line in --since/--until, and has none where no canary ran', async () => {
    expect((await json(REFUSED, '--since', '2026-11-20T05:00:00Z')).report.canaries).toEqual([]);
    expect((await json(REFUSED, '--until', '2026-11-20T02:30:00Z')).report.canaries).toHaveLength(1);
    expect((await json(join(FIXTURES, 'verdict/clean'))).report.canaries).toEqual([]);
  });

  it('is incomplete without its end line (still running, or its daemon killed), whatever its start line says', () => {
    const builder = new ReportBuilder();
    for (const line of readFileSync(join(SAFE, 'imds-analyzer.log'), 'utf8').split('\n').filter(Boolean))
      if (!line.includes('"action":"ended"')) builder.addText(line);
    expect(builder.result().canaries).toEqual([
      expect.objectContaining({ ended_at: null, end_reason: null, kernel: null, outcome: 'incomplete' }),
    ]);
  });

  it('adds up parts read apart (workers), in any order and through a structured clone, to the whole', () => {
    const lines = [REFUSED, SAFE, ESCAPED].flatMap((dir) =>
      readFileSync(join(dir, 'imds-analyzer.log'), 'utf8').split('\n').filter(Boolean),
    );
    const whole = new ReportBuilder();
    for (const line of lines) whole.addText(line);
    const joined = new ReportBuilder();
    const reader = new ReportBuilder();
    const parts = [];
    for (let i = lines.length - 1; i >= 0; i -= 5) {
      for (const line of lines.slice(Math.max(0, i - 4), i + 1)) reader.addText(line);
      parts.push(structuredClone(reader.takePartial()));
    }
    for (const part of parts) joined.absorb(part);
    expect(joined.result().canaries).toEqual(whole.result().canaries);
    // The escaped fixture's request falls in the refused fixture's canary too (same host and unit, windows overlap).
    expect(whole.result().canaries.map((c) => [c.until, c.escaped, c.outcome])).toEqual([
      ['2026-11-20T03:00:00.000Z', 1, 'escaped'],
      ['2026-11-20T04:00:00.000Z', 1, 'refused'],
      ['2026-11-20T04:00:00.000Z', 0, 'safe'],
    ]);
  });

  it('shows the section in the table, Markdown and HTML (escaped)', async () => {
    const table = await captureOutput(() => runReportCommand([REFUSED]));
    expect(table.out).toMatch(
      /\nCanaries \(refused as HttpTokens=required would; counted with the IMDSv1 callers above\)\n/,
    );
    expect(table.out).toContain('1. unit:app-sync.service on i-0123456789abcdef0: refused\n');
    expect(table.out).toContain('   refused: 3 request(s) by 2 programs; IMDS answered 401 ×2, none ×1\n');
    expect(table.out).toContain('responses 0 ok, 2 rejected; 2 refused by a canary\n');
    for (const line of table.out.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    const markdown = await captureOutput(() => runReportCommand(['--format', 'markdown', REFUSED]));
    expect(markdown.out).toContain('**Canary unit:app-sync.service on i-0123456789abcdef0: refused**');
    const html = await captureOutput(() => runReportCommand(['--format', 'html', REFUSED]));
    expect(html.out).toContain('<h2>Canaries (1)</h2>');
    expect(html.out).toContain(
      '<tr><td class="mono">python3 /opt/app/sync.py</td><td class="num">2</td><td>401 ×2</td></tr>',
    );
    const escapedTable = await captureOutput(() => runReportCommand([ESCAPED]));
    expect(escapedTable.out).toContain('1. unit:app-sync.service on i-0123456789abcdef0: escaped\n');
    expect(escapedTable.out).toContain('   escaped: 1 tokenless request(s) of its subtree not refused, by 1 program\n');
    expect(escapedTable.out).toContain('   - python3 /opt/app/sync.py: 1 escaped (not refused)\n');
    const escapedMarkdown = await captureOutput(() => runReportCommand(['--format', 'markdown', ESCAPED]));
    expect(escapedMarkdown.out).toContain('- escaped: python3 /opt/app/sync.py ×1 (not refused)');
    const escapedHtml = await captureOutput(() => runReportCommand(['--format', 'html', ESCAPED]));
    expect(escapedHtml.out).toContain(
      '<tr><th>escaped program (not refused)</th><th class="num">requests</th></tr><tr><td class="mono">python3 /opt/app/sync.py</td><td class="num">1</td></tr>',
    );
  });
});

/** A canary's section before judging: a unit's, 2 h, nothing refused, escaped or passed. */
const UNJUDGED: Omit<CanarySection, 'outcome' | 'advice'> = {
  host: 'h',
  target: 'unit:a.service',
  cgroup: '/system.slice/a.service',
  started_at: '2026-11-20T00:00:00.000Z',
  until: '2026-11-20T02:00:00.000Z',
  ended_at: '2026-11-20T02:00:00.000Z',
  end_reason: 'expired',
  seconds: 7200,
  refused: 0,
  answered: {},
  programs: [],
  programs_unlisted: 0,
  escaped: 0,
  escaped_programs: [],
  escapes_unchecked: 0,
  kernel: { sockets: 0, refused: 0, passed_token: 0 },
  unit: { evidence: 'systemd', restarts: 0, failed: false, results: [], stopped: false, final_state: 'active' },
};

describe('judging a canary', () => {
  const base = UNJUDGED;

  it('says a workload that never called IMDS proves nothing', () => {
    expect(judge(base)).toEqual({
      outcome: 'no_imds_requests',
      advice: [
        'the workload made no IMDS connection in 2h 0m: the canary proves nothing about it; run it over a window in which the workload uses IMDS (its start, a credential refresh).',
      ],
    });
  });

  it('is incomplete without the end line, or with requests the canary left alone', () => {
    expect(judge({ ...base, kernel: null }).outcome).toBe('incomplete');
    const leftAlone = judge({ ...base, kernel: { sockets: 2, passed_token: 3, left_alone_body: 1 } });
    expect(leftAlone.outcome).toBe('incomplete');
    expect(leftAlone.advice[0]).toMatch(/1 request the canary could not judge passed unchanged/);
  });

  it('says the canary proves nothing where IMDS answered a refused request 2xx', () => {
    const judged = judge({ ...base, refused: 2, answered: { '200': 2 }, kernel: { sockets: 1, refused: 2 } });
    expect(judged.outcome).toBe('imds_did_not_refuse');
  });

  it('counts refusals the kernel made that no line shows, and a failed unit breaks', () => {
    const judged = judge({
      ...base,
      kernel: { sockets: 4, refused: 2 },
      unit: { ...base.unit, failed: true, results: ['exit-code'], final_state: 'failed' },
    });
    expect(judged.outcome).toBe('refused');
    expect(judged.advice).toEqual([
      "the kernel refused 2 request(s), 0 logged in full: the others were counted in their program's summary lines (bounded evidence) or not captured (see the report's evidence reasons).",
      'unit:a.service entered the failed state (exit-code) while refused: it breaks under HttpTokens=required until the programs above are fixed.',
    ]);
  });

  it('is safe when only token requests passed, and names a failure IMDS did not cause', () => {
    const judged = judge({ ...base, kernel: { sockets: 1, passed_token: 2 }, unit: { ...base.unit, restarts: 2 } });
    expect(judged.outcome).toBe('safe');
    expect(judged.advice[1]).toBe(
      'unit:a.service restarted 2 times meanwhile, though IMDS refused nothing: look for another cause.',
    );
  });
});

describe('judging a canary with escapes', () => {
  const base: Omit<CanarySection, 'outcome' | 'advice'> = {
    ...UNJUDGED,
    target: 'container:c0ffeec0ffee',
    cgroup: '/system.slice/docker-c0ffee.scope',
    escaped: 2,
    escaped_programs: [
      {
        command: 'curl',
        script: null,
        exe: '/usr/bin/curl',
        unit: null,
        sdk: null,
        count: 2,
        first_seen: '2026-11-20T01:00:00.000Z',
        last_seen: '2026-11-20T01:00:01.000Z',
      },
    ],
    kernel: { sockets: 3, refused: 0, passed_token: 5, left_alone_body: 1 },
    unit: { evidence: 'cgroup', restarts: 1, failed: null, results: [], stopped: true, final_state: 'populated' },
  };

  it('reads escaped, not safe, and names every cause that fits the target', () => {
    const judged = judge(base);
    expect(judged.outcome).toBe('escaped');
    expect(judged.advice).toEqual([
      'curl: 2 tokenless requests escaped the canary (not refused, IMDS answered as without it); HttpTokens=required will refuse them.',
      'container:c0ffeec0ffee: 2 tokenless requests escaped the canary, so this window does not prove the workload safe: its cgroup was made anew (a restart), and a canary on a cgroup or container does not follow it; or the canary left 1 request alone (kernel counters left_alone_*); or a connection opened before the canary started is not in its map. Rerun the canary over a window in which the target does not restart, or fix the programs above before requiring IMDSv2.',
    ]);
  });

  it('adds the escapes to refused and to imds_did_not_refuse', () => {
    const refused = judge({ ...base, refused: 1, answered: { '401': 1 }, kernel: { sockets: 1, refused: 1 } });
    expect(refused.outcome).toBe('refused');
    expect(refused.advice.at(-1)).toMatch(/^container:c0ffeec0ffee: 2 tokenless requests escaped the canary/);
    const accepted = judge({ ...base, refused: 1, answered: { '200': 1 } });
    expect(accepted.outcome).toBe('imds_did_not_refuse');
    expect(accepted.advice.at(-1)).toMatch(/escaped the canary/);
  });

  it('is never safe when escapes could not be counted', () => {
    const clean = { ...base, escaped: 0, escaped_programs: [], kernel: { sockets: 1, passed_token: 2 } };
    expect(judge(clean).outcome).toBe('safe');
    const unknown = judge({ ...clean, escaped: null });
    expect(unknown.outcome).toBe('incomplete');
    expect(unknown.advice[0]).toMatch(/cgroup or start is not in the input: whether requests .* escaped it is unknown/);
    const unchecked = judge({ ...clean, escapes_unchecked: 3 });
    expect(unchecked.outcome).toBe('incomplete');
    expect(unchecked.advice[0]).toMatch(/3 tokenless requests of its cgroup .* not counted/);
  });
});

describe("a canary target's state", () => {
  it("reads systemctl show's properties (NRestarts absent before systemd 235)", () => {
    expect(parseSystemdShow('ActiveState=failed\nSubState=failed\nResult=exit-code\nNRestarts=3\n')).toEqual({
      active_state: 'failed',
      sub_state: 'failed',
      result: 'exit-code',
      n_restarts: 3,
    });
    expect(parseSystemdShow('ActiveState=active\nSubState=running\nResult=success\n')?.n_restarts).toBeNull();
    expect(parseSystemdShow('')).toBeNull();
  });

  it("reads a cgroup's cgroup.events: populated, empty, or absent", () => {
    const dir = mkdtempSync(join(tmpdir(), 'cgroup-events-'));
    try {
      expect(cgroupState(join(dir, 'missing'))).toBe('absent');
      writeFileSync(join(dir, 'cgroup.events'), 'populated 1\nfrozen 0\n');
      expect(cgroupState(dir)).toBe('populated');
      writeFileSync(join(dir, 'cgroup.events'), 'populated 0\nfrozen 0\n');
      expect(cgroupState(dir)).toBe('empty');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('status lists the running canaries and their end', () => {
  const dir = mkdtempSync(join(tmpdir(), 'status-canary-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const stateFile = (pid: number, ticks: number) => {
    const path = join(dir, `state-${pid}.json`);
    writeFileSync(
      path,
      readFileSync(join(FIXTURES, 'status/state.json'), 'utf8')
        .replace('LOG_DIR', dir)
        .replace('"pid": 0', `"pid": ${pid}`)
        .replace('"pid_start_ticks": 0', `"pid_start_ticks": ${ticks}`),
    );
    return path;
  };

  it('as text and as JSON while the daemon runs', async () => {
    const file = stateFile(process.pid, processStartTicks(process.pid) as number);
    const text = await captureOutput(() => runStatusCommand(['--state', file]));
    expect(text.out).toContain(
      'canaries: 1 running\n  unit:app-sync.service  required  since 2026-11-20T10:00:00.000Z  until 2026-11-20T12:00:00.000Z  (cgroup /system.slice/app-sync.service)\n',
    );
    const asJson = await captureOutput(() => runStatusCommand(['--state', file, '--format', 'json']));
    expect(asJson.code).toBe(0);
    const parsed = JSON.parse(asJson.out);
    expect(parsed).toMatchObject({ running: true, state_file: file });
    expect(parsed.canaries).toEqual([
      expect.objectContaining({
        target: 'unit:app-sync.service',
        mode: 'required',
        started_at: '2026-11-20T10:00:00.000Z',
        until: '2026-11-20T12:00:00.000Z',
      }),
    ]);
  });

  it('lists none once the daemon that wrote them is gone (a canary ends with its daemon)', async () => {
    const file = stateFile(2 ** 22 + 1, 0);
    const text = await captureOutput(() => runStatusCommand(['--state', file]));
    expect(text.code).toBe(3);
    expect(text.out).toContain('canaries: none (a canary ends with its daemon)\n');
    const asJson = await captureOutput(() => runStatusCommand(['--state', file, '--format', 'json']));
    expect(JSON.parse(asJson.out)).toMatchObject({ running: false, canaries: [] });
    const bad = await captureOutput(() => runStatusCommand(['--state', file, '--format', 'yaml']));
    expect(bad.code).toBe(64);
  });
});
