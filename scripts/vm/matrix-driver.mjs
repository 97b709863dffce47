#!/usr/bin/env node
// The kernel matrix's detection e2e, run inside each VM and on the host:
//   node scripts/vm/matrix-driver.mjs [--quick]
// Starts the real daemon (dist/cli/main.js run) against the test IMDS of the test rig (dist-test/test/rig),
// drives its real clients (curl, node, sh) from the testbed's client namespace, and decides
// every cell by reading the daemon's own log lines (docs/architecture.md, "The log line").
// Prints progress to stderr and one `MATRIX-RESULT {json}` line to stdout.
// Safe on the host: every client runs in the testbed's network namespaces.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CELLS, QUICK_CELLS, RESULT_PREFIX } from './cells.mjs';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const quick = process.argv.includes('--quick');
// TCG is several times slower than the host (node starts in ~0.3-0.7 s there, the
// testbed modules load in ~2.4 s): line waits are generous, and bounded. arm64 under TCG on
// x86_64 is slower again: its daemon took 20 s to get ready on a busy 2-core host.
const LINE_TIMEOUT_MS = 30_000;
const READY_TIMEOUT_MS = 90_000;

/** @type {Record<string, {result: 'PASS'|'FAIL'|'skip', detail: string}>} */
const cells = Object.fromEntries(CELLS.map((name) => [name, { result: 'skip', detail: 'not run' }]));
const measurements = { ready_ms: null, buffer: null, kernel: null };

function note(message) {
  process.stderr.write(`matrix-driver: ${message}\n`);
}

function record(name, passed, detail) {
  cells[name] = { result: passed ? 'PASS' : 'FAIL', detail };
  note(`${name}: ${passed ? 'PASS' : 'FAIL'} (${detail})`);
}

/** imds_request lines sent by the client process `pid` or by any of its descendants. */
const requestsFrom = (pid) => (line) => line.process?.pid === pid || (line.ancestors ?? []).some((a) => a.pid === pid);

/** Resolves to the request lines once `count` of them match, or to what matched by the deadline. */
async function waitForClientLines(daemon, pid, count) {
  const mine = (requests) => requests.filter(requestsFrom(pid));
  try {
    return mine(await daemon.waitForRequests((requests) => mine(requests).length >= count, LINE_TIMEOUT_MS));
  } catch {
    return mine(daemon.requests());
  }
}

const bpftoolJson = (...args) => {
  try {
    return JSON.parse(
      execFileSync('bpftool', ['--json', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }) || '[]',
    );
  } catch {
    return [];
  }
};

/**
 * Program ids attached to the cgroup the daemon reported: its cgroup BPF links (the link's
 * cgroup_id is the cgroup directory's inode) and whatever `bpftool cgroup show` lists.
 * bpftool 7.1's `cgroup show` fails outright on 5.10 (it queries attach types that kernel
 * does not know), so the links are the evidence there.
 */
function attachedIds(cgroupRoot) {
  const cgroupId = statSync(cgroupRoot).ino;
  const links = bpftoolJson('link', 'show').filter((link) => link.type === 'cgroup' && link.cgroup_id === cgroupId);
  return new Set([
    ...links.map((link) => link.prog_id),
    ...bpftoolJson('cgroup', 'show', cgroupRoot).map((entry) => entry.id),
  ]);
}

/**
 * Runs a testbed client (test/rig/clients.ts) in the client namespace and holds the
 * daemon's lines for it to the client's own expectations: one line per expected request,
 * in order, with its method, path, version and token flag, and the same TCP connection
 * grouping (connection.cookie) the client used. Returns [passed, detail, lines].
 */
async function expectClient(testbed, daemon, client, argv = client.argv, options = {}) {
  const run = await testbed.run(argv, { timeoutMs: 60_000, ...options });
  if (run.code !== 0) note(`${client.name}: client exited ${run.code ?? run.signal}: ${run.stderr.trim()}`);
  const lines = await waitForClientLines(daemon, run.pid, client.expects.length);
  const problems = [];
  if (run.code !== 0) problems.push(`client exit ${run.code ?? run.signal}`);
  if (lines.length !== client.expects.length) problems.push(`${lines.length}/${client.expects.length} lines`);
  const cookieOf = new Map();
  client.expects.forEach((expected, index) => {
    const line = lines[index];
    if (!line) return;
    const got = `${line.request.method} ${line.request.path} ${line.imds_version}${line.request.token_request ? ' token' : ''}`;
    const want = `${expected.method} ${expected.path} ${expected.version}${expected.tokenRequest ? ' token' : ''}`;
    if (got !== want) problems.push(`line ${index}: ${got}, want ${want}`);
    const cookie = cookieOf.get(expected.connection);
    if (cookie === undefined) cookieOf.set(expected.connection, line.connection?.cookie);
    else if (cookie !== line.connection?.cookie) problems.push(`line ${index} on another connection`);
  });
  if (new Set(lines.map((line) => line.connection?.cookie)).size !== cookieOf.size)
    problems.push('connection grouping differs');
  const summary = lines.map(
    (line) =>
      `${line.request.method} ${line.imds_version}${line.connection ? `@${line.connection.request_index}` : ''}`,
  );
  return [problems.length === 0, problems.length ? problems.join('; ') : summary.join(', '), lines];
}

async function checkClient(cell, testbed, daemon, client) {
  const [ok, detail] = await expectClient(testbed, daemon, client);
  record(cell, ok, `${client.name}: ${detail}`);
}

async function checkV1(cell, testbed, daemon, clients) {
  const client = clients.curlV1();
  const [ok, detail, lines] = await expectClient(testbed, daemon, client);
  const line = lines[0];
  // IMDSv1 is the finding: it is logged at warn (pino level 40), with the caller named.
  const named = line?.level === 40 && line.process?.comm === 'curl' && line.destination?.address === clients.IMDS_IPV4;
  record(
    cell,
    ok && named,
    `${client.name}: ${detail}; level=${line?.level} comm=${line?.process?.comm}${line ? '' : `; ${lastCounters(daemon)}`}`,
  );
}

/** The daemon's latest counters and errors, for a FAIL's detail: where a missing line went. */
function lastCounters(daemon) {
  const all = daemon.lines();
  const stats = all.findLast((l) => l.event === 'stats' || l.event === 'ready');
  const errors = all.filter((l) => l.event === 'error').map((l) => `${l.source}: ${l.message}`);
  const kernel = Object.entries(stats?.kernel ?? {}).filter(([, n]) => n > 0);
  return `${stats?.event ?? 'no stats'}: requests ${JSON.stringify(stats?.requests)} kernel ${JSON.stringify(Object.fromEntries(kernel))} record_errors ${stats?.record_errors} decode_errors ${stats?.decode_errors} streams ${JSON.stringify(stats?.streams)} tracked ${stats?.tracked_connections} not_imds ${stats?.not_imds_records}; errors ${JSON.stringify(errors.slice(-3))}`;
}

async function checkAncestry(testbed, daemon, clients) {
  const client = clients.curlV1();
  const marker = `matrix-parent-${process.pid}`;
  const quoted = client.argv.map((arg) => `'${arg}'`).join(' ');
  // The parent shell backgrounds curl and exits at once: by the time curl connects its
  // parent is gone, so the ancestry must come from the exec/fork events, not from /proc.
  const script = `(sleep 1; exec ${quoted} >/dev/null) & exit 0`;
  const [ok, detail, lines] = await expectClient(testbed, daemon, client, ['sh', '-c', script, marker]);
  // No line under the shell's pid: show what the analyzer did say about the latest curl
  // with that argv (its ancestry is what went wrong), for the FAIL's detail only.
  const line =
    lines[0] ?? daemon.requests().findLast((l) => JSON.stringify(l.process?.argv) === JSON.stringify(client.argv));
  const parent = line?.ancestors?.[0];
  const remembered = Array.isArray(parent?.argv) && parent.argv.includes(marker);
  const shown = (line?.ancestors ?? []).map((a) => `${a.pid} ${a.comm} ${JSON.stringify(a.argv)}`).join(' < ');
  record('ancestry', ok && remembered, `${detail}; ${lines[0] ? '' : 'closest line: '}ancestors=${shown || 'none'}`);
}

/** Where the cgroup v1 name=systemd hierarchy is mounted (the VM's init mounts one, as on AL2), or null. */
function systemdV1Mount() {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [mount, rest] = [line.split(' ')[4], line.split(' - ')[1] ?? ''];
    if (/^cgroup /.test(rest) && /[ ,]name=systemd(,|$)/.test(rest)) return mount;
  }
  return null;
}

/**
 * cgroup v1 host (Amazon Linux 2): curl is born in a name=systemd cgroup named like a service
 * and exits; the v2 id names no unit there, so the unit must come from the path the kernel
 * sent at connect().
 */
async function checkV1Unit(testbed, daemon, clients) {
  const mount = systemdV1Mount();
  if (!mount) return record('v1_unit', false, 'no cgroup v1 name=systemd hierarchy mounted');
  const unit = `matrix-v1-${process.pid}.service`;
  const dirs = [join(mount, 'system.slice'), join(mount, 'system.slice', unit)];
  const made = dirs.filter((dir) => !existsSync(dir));
  for (const dir of made) mkdirSync(dir);
  try {
    const client = clients.curlV1();
    const [ok, detail, lines] = await expectClient(testbed, daemon, client, client.argv, {
      cgroupProcs: join(dirs[1], 'cgroup.procs'),
    });
    const got = lines[0]?.unit;
    record('v1_unit', ok && got === unit, `${detail}; unit=${got}`);
  } finally {
    for (const dir of made.reverse()) {
      try {
        rmdirSync(dir);
      } catch {
        // still busy: the VM is thrown away; on the host the next run reuses it
      }
    }
  }
}

/**
 * The canary (docs/canary.md) works here or `canary start` refuses with one line: started, a
 * tokenless curl in its cgroup is refused 401 by the test IMDS (optional: 200 outside) and a
 * token curl is answered; stopped, nothing of it stays loaded.
 */
async function checkCanary(testbed, daemon, clients) {
  const group = `kmcanary${process.pid}`;
  testbed.cgroupPath(`${group}/app.service`);
  const cli = (...args) =>
    spawnSync(
      process.execPath,
      [join(projectRoot, 'dist/cli/main.js'), 'canary', ...args, '--config', join(daemon.dir, 'config.json')],
      { encoding: 'utf8', timeout: 120_000 },
    );
  const started = cli('start', '--cgroup', group, '--for', '300s');
  const stderr = started.stderr.trim();
  if (started.status === 69) {
    const oneLine = stderr.split('\n').length === 1 && /^imds-analyzer canary: refused: /.test(stderr);
    return record('canary', oneLine, `refused: ${stderr.slice(0, 300)}`);
  }
  if (started.status !== 0)
    return record('canary', false, `canary start exited ${started.status}: ${stderr.slice(0, 300)}`);
  const statuses = async (client) => {
    const before = testbed.serverRequests().length;
    await testbed.run(client.argv, { cgroup: `${group}/app.service` });
    return testbed
      .serverRequests()
      .slice(before)
      .map((r) => r.status)
      .join(',');
  };
  const v1 = await statuses(clients.curlV1());
  const v2 = await statuses(clients.curlV2());
  const stopped = cli('stop', '--cgroup', group);
  const after = await statuses(clients.curlV1());
  const ok = v1 === '401' && v2 === '200,200' && stopped.status === 0 && after === '200';
  record('canary', ok, `works: v1 ${v1}, v2 ${v2} in the canary; stop ${stopped.status}, then v1 ${after}`);
}

/** Runs `body` against a fresh daemon; records `failCell` FAIL when the daemon never gets ready. */
async function withDaemon(startAnalyzer, buffer, failCell, body, config = {}) {
  const started = Date.now();
  let daemon;
  try {
    daemon = await startAnalyzer({ buffer, readyTimeoutMs: READY_TIMEOUT_MS, config });
  } catch (error) {
    return record(failCell, false, `no ready line (${buffer}): ${String(error.message ?? error).slice(-400)}`);
  }
  try {
    await body(daemon, Date.now() - started);
  } finally {
    const status = await daemon.stop();
    if (status !== 0) note(`daemon (${buffer}) exited ${status}: ${daemon.stderr().trim().slice(-2000)}`);
    daemon.cleanup();
  }
}

/** Waits (while `daemon` runs) for the cut-down BTF it writes after READY. */
async function waitForCoreBtf(cacheDir, daemon) {
  const deadline = Date.now() + LINE_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (
      existsSync(join(cacheDir, 'core-btf')) &&
      readdirSync(join(cacheDir, 'core-btf')).some((n) => n.endsWith('.btf'))
    )
      return;
    await new Promise((r) => setTimeout(r, 200));
  }
  note(`no cut-down BTF written within ${LINE_TIMEOUT_MS} ms; ${lastCounters(daemon)}`);
}

async function main() {
  measurements.kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  for (const name of CELLS) if (quick && !QUICK_CELLS.has(name)) cells[name].detail = 'skipped by --quick';
  const testbedDir = join(projectRoot, 'dist-test/test/rig');
  if (!existsSync(join(projectRoot, 'dist/cli/main.js')) || !existsSync(join(testbedDir, 'analyzer-process.js'))) {
    for (const name of CELLS)
      if (!quick || QUICK_CELLS.has(name))
        record(name, false, 'dist/ or dist-test/ is missing: run npm run build && npm run build:test');
    return;
  }
  const clients = await import(join(testbedDir, 'index.js'));
  const { startAnalyzer } = await import(join(testbedDir, 'analyzer-process.js'));
  const testbed = await clients.createTestbed({ prefix: 'km' });
  // Shared by the daemons below: the first writes this kernel's cut-down BTF, the last starts on it.
  const cacheDir = mkdtempSync(join(tmpdir(), 'km-cache-'));
  const cacheConfig = { cacheDir };
  try {
    await withDaemon(
      startAnalyzer,
      'ringbuf',
      'loads',
      async (daemon, readyMs) => {
        const { ready } = daemon;
        record('loads', true, `ready after ${readyMs} ms, buffer ${ready.buffer}`);
        measurements.ready_ms = readyMs;
        measurements.buffer = ready.buffer;
        const programs = Object.entries(ready.program_ids ?? {});
        const attached = attachedIds(ready.cgroup_root);
        const cgroupPrograms = programs.filter(([name]) => /connect|egress|ingress/.test(name));
        const attachedCount = cgroupPrograms.filter(([, id]) => attached.has(id)).length;
        record(
          'attaches',
          cgroupPrograms.length > 0 && attachedCount === cgroupPrograms.length,
          `${programs.length} programs; at ${ready.cgroup_root}: ${attachedCount}/${cgroupPrograms.length} cgroup programs attached`,
        );
        await checkV1('v1', testbed, daemon, clients);
        await checkClient('v2', testbed, daemon, clients.curlV2());
        if (quick) return waitForCoreBtf(cacheDir, daemon);
        await checkCanary(testbed, daemon, clients);
        await checkClient('ipv6', testbed, daemon, clients.curlV1Ipv6());
        await checkClient('keep_alive', testbed, daemon, clients.nodeKeepAliveV2ThenV1());
        // Pauses long enough that the segments leave separately even under TCG.
        await checkClient('split_headers', testbed, daemon, clients.nodeSplitTokenV2({ pauseMs: 300 }));
        await checkAncestry(testbed, daemon, clients);
        await checkV1Unit(testbed, daemon, clients);
        await waitForCoreBtf(cacheDir, daemon);
      },
      cacheConfig,
    );
    if (!quick) {
      await withDaemon(startAnalyzer, 'perfbuf', 'perfbuf', async (daemon) => {
        if (!/perf/.test(daemon.ready.buffer))
          return record('perfbuf', false, `asked for perfbuf, got ${daemon.ready.buffer}`);
        await checkV1('perfbuf', testbed, daemon, clients);
      });
    }
    // CO-RE against the cut-down BTF: the programs load, attach and capture as on the kernel's.
    await withDaemon(
      startAnalyzer,
      'ringbuf',
      'core_btf',
      async (daemon, readyMs) => {
        if (daemon.ready.core_btf !== 'cached')
          return record(
            'core_btf',
            false,
            `started on ${daemon.ready.core_btf} BTF, not the cached one; ${lastCounters(daemon)}`,
          );
        await checkV1('core_btf', testbed, daemon, clients);
        cells.core_btf.detail += `; ready after ${readyMs} ms on the cached BTF`;
      },
      cacheConfig,
    );
  } finally {
    await testbed.teardown();
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (error) {
  note(`aborted: ${error instanceof Error ? error.stack : error}`);
}
// A cell that should have run and did not (the daemon never started, the driver aborted) fails.
for (const [name, cell] of Object.entries(cells)) {
  if (cell.result === 'skip' && !(quick && !QUICK_CELLS.has(name))) record(name, false, 'not reached');
}
const failed = Object.values(cells).some((cell) => cell.result === 'FAIL');
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify({ cells, ...measurements })}\n`);
process.exitCode = failed ? 1 : 0;
