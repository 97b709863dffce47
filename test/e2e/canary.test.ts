// The canary end to end (docs/canary.md): the real daemon and canary object in this kernel,
// `imds-analyzer canary` as an operator runs it, real clients in a test network namespace
// and the test IMDS behaving as IMDS does (401 for a missing token under `required`, 401 for
// an invalid one under `optional`). For each client: (a) in the canary's cgroup with IMDS
// `optional`, (b) in another cgroup with IMDS `required`, (c) in that cgroup with `optional`.
// (a) must end as (b) does, (c) as without any canary, and what IMDS received in (a) must
// be what it received in (c), but for the canary's header in the requests it refused.
import { spawnSync } from 'node:child_process';
import { rmdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportSchema } from '../../src/logic/report/schema.js';
import { logLineSchema } from '../../src/model/log-line.js';
import {
  type Client,
  type ServedRequest,
  type Testbed,
  botocoreCredentials,
  createTestbed,
  curlV1,
  curlV1Ipv6,
  curlV2,
  nodeHttpV1,
  pythonUrllibV1,
} from '../rig/index.js';
import { sdkClients } from '../rig/sdk-clients.js';
import { CLI, type RunningDaemon, loadedPrograms, startAnalyzer } from '../rig/analyzer-process.js';

const isRoot = process.getuid?.() === 0;
/** Restarts of the raced unit, each followed at once by a tokenless request. */
const RACED_RESTARTS = 8;
const CANARY_LINE = 'X-aws-ec2-metadata-token: [token]';

interface Outcome {
  exit: number | null;
  stderr: string;
  statuses: Array<number | null>;
  served: ServedRequest[];
}

/** Runs a command to its end: exit code and output. */
function command(argv: string[]): { code: number | null; stdout: string; stderr: string } {
  const [file, ...args] = argv as [string, ...string[]];
  const result = spawnSync(file, args, { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A client as this test runs it; `tokenless`: it never sends a token (refused under `required`). */
interface CanaryClient {
  name: string;
  argv: string[];
  tokenless: boolean;
}

/** Every real client of this file: the rig's scripted ones and the SDKs this host has. */
function clients(workDir: string): CanaryClient[] {
  const scripted: Client[] = [curlV1(), curlV1Ipv6(), curlV2(), pythonUrllibV1(), nodeHttpV1(), botocoreCredentials()];
  const sdks = sdkClients(workDir);
  // Every SDK install-deps.sh installs must be here: a missing one is a failure, not a skip.
  expect(sdks.missing).toEqual([]);
  return [
    ...scripted.map((c) => ({ name: c.name, argv: c.argv, tokenless: c.expects.every((r) => r.version === 'v1') })),
    ...sdks.clients.map((c) => ({ name: c.name, argv: c.argv, tokenless: !c.imdsv2 })),
  ];
}

describe.skipIf(!isRoot)('canary', () => {
  let testbed: Testbed;
  let daemon: RunningDaemon;
  const canaryGroup = `imdscanary${process.pid}`;
  const plainGroup = `imdsplain${process.pid}`;
  /** A unit found by its cgroup's name (no systemd here): the canary follows it to a new cgroup. */
  const unitName = `imdsunit${process.pid}.service`;
  /** Requests refused in the first canary (the report must count them). */
  let refusedInFirst = 0;
  /** Requests made at once after each restart of the raced unit: refused, or escaped (the report must count both). */
  const raced = { refused: 0, escaped: 0 };

  const canary = (...args: string[]) =>
    command([process.execPath, CLI, 'canary', ...args, '--config', join(daemon.dir, 'config.json')]);
  const status = (...args: string[]) =>
    command([process.execPath, CLI, 'status', ...args, '--config', join(daemon.dir, 'config.json')]);
  const lastCanaryLine = () =>
    daemon
      .lines()
      .filter((line) => line.event === 'canary')
      .at(-1);
  /**
   * The canary programs the kernel holds. A program freed while bpftool lists them makes it
   * fail (it is gone between two calls): asked again then. The kernel frees a closed object's
   * programs after an RCU grace period: `settled` waits up to 3 s for none to be left.
   */
  const canaryPrograms = async (settled = false): Promise<string[]> => {
    const deadline = Date.now() + 3000;
    for (;;) {
      const names = await loadedPrograms().then(
        ({ programs }) => programs.filter((name) => name.startsWith('imds_canary')),
        () => null,
      );
      if (names !== null && (!settled || names.length === 0 || Date.now() > deadline)) return names;
      if (Date.now() > deadline) throw new Error('bpftool kept failing');
      await sleep(100);
    }
  };

  async function run(client: { argv: string[] }, cgroup: string): Promise<Outcome> {
    const before = testbed.serverRequests().length;
    const result = await testbed.run(client.argv, { cgroup, timeoutMs: 60_000 });
    // The server logs each request before it answers: everything is there once the client exits.
    const served = testbed.serverRequests().slice(before);
    return { exit: result.code, stderr: result.stderr, statuses: served.map((s) => s.status), served };
  }

  beforeAll(async () => {
    testbed = await createTestbed({ prefix: 'can', imds: { tokens: 'optional' } });
    daemon = await startAnalyzer({ dieWithParent: true });
    testbed.cgroupPath(`${canaryGroup}/app.service`);
    testbed.cgroupPath(`${plainGroup}/app.service`);
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await testbed?.teardown();
  });

  it('refuses what a non-root user asks, and bad usage, with one line', () => {
    const asNobody = command([
      'setpriv',
      '--reuid=nobody',
      '--regid=nogroup',
      '--clear-groups',
      process.execPath,
      CLI,
      'canary',
      'status',
    ]);
    expect(asNobody.code).toBe(64);
    expect(asNobody.stderr.trim().split('\n')).toEqual([
      'imds-analyzer canary: root only (it changes what a workload gets from IMDS)',
    ]);
    expect(canary('start').code).toBe(64);
    expect(canary('start', '--cgroup', canaryGroup, '--for', '30d').stderr).toMatch(/at most 7d/);
    const missing = canary('start', '--cgroup', `${canaryGroup}/nothing-here`);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/refused: --cgroup .*: no such cgroup/);
  });

  it('(a) in the canary ends as (b) under required; (c) outside it is unaffected; IMDS gets the same bytes', async () => {
    const started = canary('start', '--cgroup', canaryGroup, '--for', '10m');
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    expect(started.stdout).toMatch(new RegExp(`canary for cgroup:${canaryGroup} \\(cgroup /${canaryGroup}\\) until `));

    const all = clients(testbed.workDir);
    const a = new Map<string, Outcome>();
    const c = new Map<string, Outcome>();
    for (const client of all) {
      a.set(client.name, await run(client, `${canaryGroup}/app.service`));
      c.set(client.name, await run(client, `${plainGroup}/app.service`));
    }
    await testbed.restartServer({ tokens: 'required' });
    const b = new Map<string, Outcome>();
    try {
      for (const client of all) b.set(client.name, await run(client, `${plainGroup}/app.service`));
    } finally {
      await testbed.restartServer({ tokens: 'optional' });
    }

    // What each client saw, for the record (docs/canary.md quotes a run).
    const row = (o: Outcome | undefined) => `exit ${o?.exit} statuses ${o?.statuses.join(',') || '-'}`;
    for (const client of all)
      console.info(
        `${client.name}: (a) ${row(a.get(client.name))} | (b) ${row(b.get(client.name))} | (c) ${row(c.get(client.name))}`,
      );
    for (const client of all) {
      const outcome = (of: Map<string, Outcome>): Outcome => {
        const found = of.get(client.name);
        if (!found) throw new Error(`${client.name} did not run`);
        return found;
      };
      const [inCanary, required, plain] = [outcome(a), outcome(b), outcome(c)];
      // Under `required` a tokenless client is refused every time, a token client never.
      const { tokenless } = client;
      const refusedUnderRequired = required.statuses.filter((s) => s === 401).length;
      expect({ client: client.name, refused: refusedUnderRequired, statuses: required.statuses }).toEqual({
        client: client.name,
        refused: tokenless ? required.statuses.length : 0,
        statuses: required.statuses,
      });
      // (a) = (b): the same end and the same answers from IMDS.
      expect({ client: client.name, exit: inCanary.exit, statuses: inCanary.statuses }).toEqual({
        client: client.name,
        exit: required.exit,
        statuses: required.statuses,
      });
      // (c): the client asked IMDS, nothing was refused, and it succeeds.
      expect(plain.statuses.length, `${client.name} sent nothing`).toBeGreaterThan(0);
      expect(
        { client: client.name, exit: plain.exit, refused: plain.statuses.filter((s) => s === 401) },
        plain.stderr,
      ).toEqual({
        client: client.name,
        exit: 0,
        refused: [],
      });
      // What arrived: each request as in (c), a refused one with the canary's header after its request line.
      for (const [index, request] of inCanary.served.entries()) {
        const without = plain.served[index];
        expect(without, `${client.name} request ${index}`).toBeDefined();
        const head = without?.head ?? [];
        const hadToken = head.some((line) => /^x-aws-ec2-metadata-token(-ttl-seconds)?:/i.test(line));
        if (hadToken) {
          expect(request.head, `${client.name} request ${index} (with a token)`).toEqual(head);
          continue;
        }
        expect(request.head, `${client.name} request ${index} (tokenless)`).toEqual([
          head[0],
          CANARY_LINE,
          ...head.slice(1),
        ]);
        expect(request.status).toBe(401);
        break;
      }
    }

    // The analyzer's lines: each refused request is an IMDSv1 call, answered 401, naming the canary.
    const refusedByServer = [...a.values()].flatMap((o) => o.served.filter((s) => s.status === 401)).length;
    expect(refusedByServer).toBeGreaterThan(0);
    const lines = await daemon.waitForRequests(
      (requests) => requests.filter((line) => line.canary !== undefined).length >= refusedByServer,
    );
    const refused = lines.filter((line) => line.canary !== undefined);
    expect(refused).toHaveLength(refusedByServer);
    for (const line of refused) {
      expect(logLineSchema.parse(line)).toBeTruthy();
      expect(line).toMatchObject({
        imds_version: 'v1',
        response: { status: 401 },
        canary: { target: `cgroup:${canaryGroup}`, mode: 'required' },
        cgroup: `/${canaryGroup}/app.service`,
      });
    }
    // No line outside the canary names it.
    for (const line of lines.filter((l) => l.canary === undefined))
      expect(String(line.cgroup).startsWith(`/${canaryGroup}/`) && line.imds_version === 'v1').toBe(false);

    const asked = canary('status');
    expect(asked.code).toBe(0);
    expect(asked.stdout).toMatch(new RegExp(`^cgroup:${canaryGroup} .* refused=${refusedByServer} `, 'm'));
    refusedInFirst = refusedByServer;
    // `imds-analyzer status` (text and JSON) lists it with its end, from status.json.
    const until = /until (\S+)/.exec(started.stdout)?.[1];
    const shown = status();
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(
      new RegExp(
        `^canaries: 1 running\n  cgroup:${canaryGroup}  required  since \\S+  until ${until}  \\(cgroup /${canaryGroup}\\)$`,
        'm',
      ),
    );
    const shownJson = JSON.parse(status('--format', 'json').stdout);
    expect(shownJson.canaries).toEqual([
      expect.objectContaining({ target: `cgroup:${canaryGroup}`, mode: 'required', cgroup: `/${canaryGroup}`, until }),
    ]);
    expect(await canaryPrograms()).toEqual(expect.arrayContaining(['imds_canary_msg', 'imds_canary_sockops']));

    const stopped = canary('stop', '--cgroup', canaryGroup);
    expect(stopped).toMatchObject({ code: 0, stdout: 'stopped 1 canary\n' });
    expect(await canaryPrograms(true)).toEqual([]);
    // Stopped: the same client in the same cgroup gets its answer again.
    const after = await run(curlV1(), `${canaryGroup}/app.service`);
    expect(after.statuses).toEqual([200]);
    expect(lastCanaryLine()).toMatchObject({ action: 'ended', reason: 'stopped', target: `cgroup:${canaryGroup}` });
    expect(status().stdout).toMatch(/^canaries: none$/m);
  }, 180_000);

  it('follows a unit to its new cgroup (a restart) and writes what became of it', async () => {
    const unitDir = testbed.cgroupPath(`${canaryGroup}/${unitName}`);
    expect(canary('start', '--unit', unitName, '--for', '10m')).toMatchObject({ code: 0, stderr: '' });
    expect((await run(curlV1(), `${canaryGroup}/${unitName}`)).statuses).toEqual([401]);
    // The unit "restarts": its cgroup is removed and made anew; the canary is attached to the new one.
    rmdirSync(unitDir);
    testbed.cgroupPath(`${canaryGroup}/${unitName}`);
    const deadline = Date.now() + 5000;
    while (!/reattached=1/.test(canary('status').stdout) && Date.now() < deadline) await sleep(100);
    expect(canary('status').stdout).toMatch(new RegExp(`^unit:${unitName} .* reattached=1`, 'm'));
    expect((await run(curlV1(), `${canaryGroup}/${unitName}`)).statuses).toEqual([401]);
    expect(canary('stop', '--unit', unitName)).toMatchObject({ code: 0, stdout: 'stopped 1 canary\n' });
    const states = daemon
      .lines()
      .filter((line) => line.event === 'canary_target' && line.target === `unit:${unitName}`);
    expect(states.at(0)).toMatchObject({ at: 'start', recreated: 0 });
    expect(states.at(-1)).toMatchObject({ at: 'end', recreated: 1 });
    await daemon.waitForRequests(
      (requests) => requests.filter((l) => l.canary?.target === `unit:${unitName}`).length >= 2,
    );
  }, 60_000);

  it("counts a restarted unit's request made before the canary re-attached as escaped, in the report", async () => {
    const escapeUnit = `imdsescape${process.pid}.service`;
    const path = `${canaryGroup}/${escapeUnit}`;
    const unitDir = testbed.cgroupPath(path);
    expect(canary('start', '--unit', escapeUnit, '--for', '10m')).toMatchObject({ code: 0, stderr: '' });
    expect((await run(curlV2(), path)).statuses).toEqual([200, 200]);
    // The unit restarts while the daemon cannot look for its new cgroup (stopped): the new
    // cgroup's first request is made before the canary re-attached, and IMDS answers it.
    const escaped = await daemon.whilePaused(async () => {
      rmdirSync(unitDir);
      testbed.cgroupPath(path);
      return run(curlV1(), path);
    });
    expect(escaped.statuses).toEqual([200]);
    const deadline = Date.now() + 5000;
    while (!/reattached=1/.test(canary('status').stdout) && Date.now() < deadline) await sleep(100);
    expect(canary('status').stdout).toMatch(new RegExp(`^unit:${escapeUnit} .* reattached=1`, 'm'));
    expect((await run(curlV2(), path)).statuses).toEqual([200, 200]);
    // Its line is an IMDSv1 request of the unit's cgroup with no canary object (not refused).
    await daemon.waitForRequests((requests) =>
      requests.some((l) => l.imds_version === 'v1' && l.cgroup === `/${path}`),
    );
    expect(canary('stop', '--unit', escapeUnit)).toMatchObject({ code: 0, stdout: 'stopped 1 canary\n' });
    const escapedLines = daemon.requests().filter((l) => l.imds_version === 'v1' && l.cgroup === `/${path}`);
    expect(escapedLines.map((l) => [l.canary, l.response?.status])).toEqual([[undefined, 200]]);
  }, 60_000);

  it("re-attaches when the unit's new cgroup is made (inotify), not at the next look; what still escaped is counted", async () => {
    const raceUnit = `imdsrace${process.pid}.service`;
    const path = `${canaryGroup}/${raceUnit}`;
    testbed.cgroupPath(path);
    expect(canary('start', '--unit', raceUnit, '--for', '10m')).toMatchObject({ code: 0, stderr: '' });
    const statuses: Array<number | null> = [];
    for (let restart = 0; restart < RACED_RESTARTS; restart++) {
      rmdirSync(testbed.cgroupPath(path));
      testbed.cgroupPath(path);
      // At once, as a unit's process would: no wait for the canary.
      statuses.push(...(await run(curlV1(), path)).statuses);
      // Past the next look: every restart starts attached.
      await sleep(700);
    }
    console.info(`requests made at once after a restart: ${statuses.join(' ')}`);
    raced.refused = statuses.filter((s) => s === 401).length;
    raced.escaped = statuses.filter((s) => s === 200).length;
    expect(raced.refused + raced.escaped).toBe(RACED_RESTARTS);
    // Looking every 0.5 s alone refused 1 of 5 here (curl's request comes about 0.1 s after the mkdir).
    expect(raced.refused).toBeGreaterThanOrEqual(6);
    expect(canary('status').stdout).toMatch(new RegExp(`^unit:${raceUnit} .* reattached=${RACED_RESTARTS}`, 'm'));
    expect(canary('stop', '--unit', raceUnit).code).toBe(0);
  }, 60_000);

  it('ends on expiry and with the daemon: nothing of it stays attached', async () => {
    canary('stop'); // whatever a failed test before left running
    expect(canary('start', '--cgroup', canaryGroup, '--for', '2s').code).toBe(0);
    expect(await canaryPrograms()).toHaveLength(2);
    await sleep(3000);
    expect(await canaryPrograms(true)).toEqual([]);
    expect(lastCanaryLine()).toMatchObject({ action: 'ended', reason: 'expired' });
    expect((await run(curlV1(), `${canaryGroup}/app.service`)).statuses).toEqual([200]);

    expect(canary('start', '--cgroup', canaryGroup, '--for', '10m').code).toBe(0);
    expect((await run(curlV1(), `${canaryGroup}/app.service`)).statuses).toEqual([401]);
    expect(await daemon.stop()).toBe(0);
    expect(await canaryPrograms(true)).toEqual([]);
    expect((await run(curlV1(), `${canaryGroup}/app.service`)).statuses).toEqual([200]);
    expect(lastCanaryLine()).toMatchObject({ action: 'ended', reason: 'daemon stopped' });
    // No daemon: nothing to ask.
    expect(canary('status').code).toBe(3);
    // The report reads the canary's lines with the rest: the refused requests are IMDSv1 callers.
    const report = command([process.execPath, CLI, 'report', daemon.logDir, '--allow-no-boot', '--format', 'json']);
    expect(report.code, report.stderr).toBe(1);
    const parsed = reportSchema.parse(JSON.parse(report.stdout));
    // Every canary of this file, in the order they ran, from the real logs.
    const sections = parsed.canaries.map((c) => ({
      target: c.target,
      end: c.end_reason,
      refused: c.refused,
      answered: c.answered,
      byPrograms: c.programs.reduce((n, p) => n + p.count, 0),
      kernelRefused: c.kernel?.refused,
      restarts: c.unit.restarts,
      evidence: c.unit.evidence,
      escaped: c.escaped,
      outcome: c.outcome,
    }));
    const cgroupTarget = `cgroup:${canaryGroup}`;
    const refusedBy = (n: number) => ({ refused: n, answered: { '401': n }, byPrograms: n, kernelRefused: n });
    expect(sections).toEqual([
      {
        target: cgroupTarget,
        end: 'stopped',
        ...refusedBy(refusedInFirst),
        restarts: 0,
        evidence: 'cgroup',
        escaped: 0,
        outcome: 'refused',
      },
      {
        target: `unit:${unitName}`,
        end: 'stopped',
        ...refusedBy(2),
        restarts: 1,
        evidence: 'cgroup',
        escaped: 0,
        outcome: 'refused',
      },
      // Requests with a token passed and none was refused: without counting the escape it would read safe.
      {
        target: `unit:imdsescape${process.pid}.service`,
        end: 'stopped',
        ...refusedBy(0),
        answered: {},
        restarts: 1,
        evidence: 'cgroup',
        escaped: 1,
        outcome: 'escaped',
      },
      {
        target: `unit:imdsrace${process.pid}.service`,
        end: 'stopped',
        ...refusedBy(raced.refused),
        restarts: RACED_RESTARTS,
        evidence: 'cgroup',
        escaped: raced.escaped,
        outcome: 'refused',
      },
      {
        target: cgroupTarget,
        end: 'expired',
        ...refusedBy(0),
        answered: {},
        restarts: 0,
        evidence: 'cgroup',
        escaped: 0,
        outcome: 'no_imds_requests',
      },
      {
        target: cgroupTarget,
        end: 'daemon stopped',
        ...refusedBy(1),
        restarts: 0,
        evidence: 'cgroup',
        escaped: 0,
        outcome: 'refused',
      },
    ]);
    // Each refused program is named, answered 401 only, with advice that says a canary refused it.
    for (const program of parsed.canaries.flatMap((c) => c.programs)) {
      expect(Object.keys(program.answered)).toEqual(['401']);
      expect(program.advice).toMatch(/A canary made IMDS refuse it \(401\), as HttpTokens=required will\.$/);
    }
    expect(parsed.canaries[1]?.programs.map((p) => [p.command.split(' ')[0], p.count])).toEqual([['curl', 2]]);
    expect(parsed.canaries[2]?.escaped_programs.map((p) => [p.command.split(' ')[0], p.count])).toEqual([['curl', 1]]);
    expect(parsed.canaries[2]?.advice.at(-1)).toMatch(
      /the unit restarted 1 time and its first requests were made before the canary re-attached to its new cgroup/,
    );
    // The groups count them as IMDSv1 requests, and say how many a canary refused.
    const canaryRefused = parsed.groups.reduce((n, g) => n + g.canary_refused, 0);
    expect(canaryRefused).toBe(refusedInFirst + 3 + raced.refused);
    const table = command([process.execPath, CLI, 'report', daemon.logDir, '--allow-no-boot']);
    expect(table.stdout).toContain(`2. unit:${unitName} on `);
    expect(table.stdout).toMatch(new RegExp(`^3\\. unit:imdsescape${process.pid}\\.service on .*: escaped$`, 'm'));
    expect(table.stdout).toMatch(/^Canaries \(refused as HttpTokens=required would/m);
  }, 60_000);
});
