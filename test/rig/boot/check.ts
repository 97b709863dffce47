// The boot test's analyses, one per call, for scripts/e2e-boot.sh (which only orchestrates):
//   node dist-test/test/rig/boot/check.js <check> [arguments]
// A check prints its result as `boot: ...` line(s) on stdout and exits 0 when it holds, 1 when
// it does not (the script then names the phase and keeps the evidence). A value the script
// needs (netns, links, links-after-upgrade: the most of our links an upgrade may leave) is
// printed alone.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { readObjectLayout } from '../../../src/capture/object-layout.js';
import { BPF_OBJECT } from '../../helpers/programs.js';
import { type LogLine, readLogLines } from '../analyzer-process.js';
import {
  type CheckResult,
  continuity,
  daemonCounters,
  handovers,
  parseClientRecord,
  poweroff,
  standInCaught,
  stopLossless,
  stopThenStart,
  takeovers,
} from './checks.js';

const STAND_IN_WAIT_MS = 10_000;

function logLines(dir: string): LogLine[] {
  return readLogLines(dir).sort((a, b) => a.time - b.time);
}

/** Programs of ours are named imds_*: the links whose program is one of them, machine-wide (the kernel's view). */
function ourLinks(): number {
  const json = (args: string[]) => JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8' }) || '[]');
  const links = json(['link', 'show']) as Array<{ prog_id: number }>;
  const programs = json(['prog', 'show']) as Array<{ id: number; name?: string }>;
  const ours = new Set(programs.filter((p) => (p.name ?? '').startsWith('imds_')).map((p) => p.id));
  return links.filter((l) => ours.has(l.prog_id)).length;
}

async function waitFor<T>(timeoutMs: number, probe: () => T | undefined): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function run(check: string, args: string[]): Promise<CheckResult | string> {
  const [logs = '', ...rest] = args;
  switch (check) {
    case 'netns': {
      const testbed = JSON.parse(logs) as { netnsPaths?: string[]; clientNs: string };
      return testbed.netnsPaths?.[0] ?? `/run/netns/${testbed.clientNs}`;
    }
    case 'links':
      return String(ourLinks());
    case 'links-after-upgrade': {
      // The cgroup links switch in place; the old raw_tp links stay beside the new ones until a stop.
      const { programs } = readObjectLayout(BPF_OBJECT);
      return String(programs.length + programs.filter((p) => p.attach.kind === 'raw_tp').length);
    }
    case 'stand-in':
      return (
        (await waitFor(STAND_IN_WAIT_MS, () => standInCaught(logLines(logs), rest[0] ?? ''))) ?? {
          ok: false,
          lines: [`caught: no request line of the stand-in's curl in ${logs}`],
        }
      );
    case 'stop':
      return stopLossless(logLines(logs));
    case 'continuity':
      return continuity(logLines(logs), parseClientRecord(readFileSync(rest[0] ?? '', 'utf8')), rest.slice(1));
    case 'handovers':
      return handovers(logLines(logs));
    case 'takeovers':
      return takeovers(logLines(logs), Date.parse(rest[0] ?? ''));
    case 'stop-start':
      return stopThenStart(logLines(logs));
    case 'poweroff':
      return poweroff(logLines(logs));
    case 'counters':
      writeFileSync(rest[0] ?? '', `${JSON.stringify(daemonCounters(logLines(logs)), null, 2)}\n`);
      return { ok: true, lines: [] };
    default:
      throw new Error(`unknown check '${check}'`);
  }
}

const [check = '', ...args] = process.argv.slice(2);
try {
  const result = await run(check, args);
  if (typeof result === 'string') {
    process.stdout.write(`${result}\n`);
  } else {
    for (const line of result.lines) process.stdout.write(`boot: ${line}\n`);
    process.exitCode = result.ok ? 0 : 1;
  }
} catch (err) {
  process.stderr.write(`boot check ${check}: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
}
