// The canary under a real systemd (docs/canary.md), run on the host by scripts/e2e-boot.sh
// once its container has booted with the package installed and the service running:
//
//   node dist-test/test/boot/canary-phase.js --init PID --root DIR --package PATH
//     --init     the container's init (every command runs inside it through nsenter)
//     --root     the container's root as the host sees it (its logs and files)
//     --package  the RPM, as a path inside the container, installed again after the erase
//
// Two units of the container ask IMDS without a token every quarter second. A canary on one
// (`canary start --unit`) must make IMDS answer its requests 401 while the other's are answered
// 200; the daemon's lines must name the canary. Then a canary must end, with nothing of it left
// in the kernel (bpftool on the host: the kernel is shared), on `systemctl stop imds-analyzer`,
// on `systemctl restart` (the next daemon starts none) and on `rpm -e`. Prints one result line
// (`boot: canary under systemd: ...`); on a failure, the phase, why, and the journal and bpftool
// output to look at, and exits 1. Leaves the package installed and the service running.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type LineOf, readLogLines } from '../rig/analyzer-process.js';
import {
  CANARY_NAMES,
  type CanaryObjects,
  canaryObjects,
  canaryObjectsGone,
  describeCanaryObjects,
  noCanaryObjects,
} from '../rig/canary-objects.js';

const SERVICE = 'imds-analyzer.service';
const CANARY_UNIT = 'imds-canary-app.service';
const PLAIN_UNIT = 'imds-plain-app.service';
const LOOP = '/usr/local/lib/imds-analyzer-test/imds-loop.sh';
/** Answers looked at after each step, per unit. */
const ANSWERS = 4;

class PhaseFailure extends Error {
  constructor(
    readonly phase: string,
    message: string,
    readonly context: string,
  ) {
    super(message);
  }
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class CanaryPhase {
  private phase = 'setup';

  constructor(
    private readonly init: number,
    private readonly root: string,
    private readonly pkg: string,
  ) {}

  private fail(message: string, context = ''): never {
    throw new PhaseFailure(this.phase, message, context);
  }

  /** A command inside the container (its mount, uts, ipc, net and pid namespaces). */
  private inCt(argv: string[]): Run {
    const run = spawnSync('nsenter', ['-t', String(this.init), '-m', '-u', '-i', '-n', '-p', '--', ...argv], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { code: run.status, stdout: run.stdout ?? '', stderr: run.stderr ?? '' };
  }

  private must(argv: string[]): string {
    const run = this.inCt(argv);
    if (run.code !== 0) this.fail(`${argv.join(' ')} exited ${run.code}`, `${run.stdout}${run.stderr}`);
    return run.stdout;
  }

  private show(unit: string, property: string): string {
    return this.must(['systemctl', 'show', unit, '-p', property, '--value']).trim();
  }

  private canary(...args: string[]): Run {
    return this.inCt(['imds-analyzer', 'canary', ...args]);
  }

  private outFile(unit: string): string {
    return join(this.root, 'var/tmp', `${unit}.out`);
  }

  /** What the unit's requests got so far: [number, HTTP status] in order. */
  private answers(unit: string): Array<[number, string]> {
    let text = '';
    try {
      text = readFileSync(this.outFile(unit), 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((line) => /^\d+ \d{3}$/.test(line))
      .map((line) => {
        const [n, status] = line.split(' ') as [string, string];
        return [Number(n), status];
      });
  }

  /** The number of the unit's last answered request. */
  private mark(unit: string): number {
    return this.answers(unit).at(-1)?.[0] ?? 0;
  }

  /**
   * The statuses of the unit's next ANSWERS requests begun after `mark` was read: the request
   * after the mark may have connected before the step it follows, so it is skipped (`skip`).
   */
  private async answersAfter(unit: string, mark: number, skip = 1): Promise<string[]> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const after = this.answers(unit).filter(([n]) => n > mark + skip);
      if (after.length >= ANSWERS) return after.slice(0, ANSWERS).map(([, status]) => status);
      if (Date.now() > deadline) this.fail(`${unit} answered ${after.length} requests in 15 s`, this.journal(unit));
      await sleep(100);
    }
  }

  private async expectAnswers(unit: string, mark: number, status: string, skip = 1): Promise<string[]> {
    const got = await this.answersAfter(unit, mark, skip);
    if (got.some((s) => s !== status))
      this.fail(`${unit}: IMDS answered ${got.join(' ')}, expected ${status} every time`, this.journal(unit));
    return got;
  }

  private journal(unit = SERVICE): string {
    return `journalctl -u ${unit} (last 30 lines):\n${this.inCt(['journalctl', '-u', unit, '--no-pager', '-n', '30']).stdout}`;
  }

  private lines() {
    return readLogLines(join(this.root, 'var/log/imds-analyzer'));
  }

  private async waitFor<T>(what: string, find: () => T | undefined): Promise<T> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (Date.now() > deadline) this.fail(`no ${what} in 10 s`, this.journal());
      await sleep(200);
    }
  }

  private async waitActive(notPid: string): Promise<string> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const pid = this.show(SERVICE, 'MainPID');
      if (pid !== '0' && pid !== notPid && this.show(SERVICE, 'ActiveState') === 'active') return pid;
      if (Date.now() > deadline) this.fail(`${SERVICE} did not become active (after pid ${notPid})`, this.journal());
      await sleep(100);
    }
  }

  private async startCanary(): Promise<CanaryObjects> {
    const started = this.canary('start', '--unit', CANARY_UNIT, '--for', '10m');
    const expected = new RegExp(
      `^canary for unit:${CANARY_UNIT.replace('.', '\\.')} \\(cgroup /system\\.slice/${CANARY_UNIT.replace('.', '\\.')}\\) until `,
    );
    if (started.code !== 0 || !expected.test(started.stdout))
      this.fail(
        `canary start --unit ${CANARY_UNIT}: exit ${started.code}`,
        `${started.stdout}${started.stderr}\n${this.journal()}`,
      );
    // By name: the object's two programs and its maps, and the sockops program's cgroup link.
    const held = await canaryObjects();
    const names = (objects: Array<{ name: string }>) => objects.map((o) => o.name).sort();
    const programsOk = names(held.programs).join() === [...CANARY_NAMES.programs].sort().join();
    const mapsOk =
      names(held.maps).join() ===
      CANARY_NAMES.maps
        .map((m) => m.slice(0, 15))
        .sort()
        .join();
    if (!programsOk || !mapsOk || held.links.length !== 1)
      this.fail('bpftool does not show the canary as loaded and attached', describeCanaryObjects(held));
    return held;
  }

  /** The canary's refusals stop with it: nothing left in the kernel, the unit answered 200 again. */
  private async expectEnded(how: string): Promise<number> {
    const { left, ms } = await canaryObjectsGone();
    if (!noCanaryObjects(left))
      this.fail(`${how} left the canary in the kernel: ${describeCanaryObjects(left)}`, this.journal());
    await this.expectAnswers(CANARY_UNIT, this.mark(CANARY_UNIT), '200');
    const ended = await this.waitFor("the canary's line in the daemon's log", () =>
      this.lines()
        .filter((l): l is LineOf<'canary'> => l.event === 'canary' && l.target === `unit:${CANARY_UNIT}`)
        .at(-1),
    );
    if (ended.action !== 'ended' || ended.reason !== 'daemon stopped')
      this.fail(`after ${how} the canary's last line is ${ended.action} (${ended.reason})`, JSON.stringify(ended));
    return ms;
  }

  private setUpUnits(): void {
    mkdirSync(join(this.root, 'usr/local/lib/imds-analyzer-test'), { recursive: true });
    // Runs only inside the nspawn container, whose network namespace is the test netns. One
    // path: with the package's bounded evidence on, a program's first 401 is a new status,
    // written in full.
    const imds = 'http://169.254.169.254/latest/meta-data/instance-id'; // nspawn only
    writeFileSync(
      join(this.root, LOOP.slice(1)),
      [
        '#!/bin/sh',
        '# One IMDS GET without a token every quarter second, numbered here; "N STATUS" appended to $1.',
        '# Numbers go on across restarts of the unit: the last one is in the file.',
        'n=$(tail -n 1 "$1" 2>/dev/null | cut -d " " -f 1)',
        '[ -n "$n" ] || n=0',
        'while :; do',
        '  n=$((n + 1))',
        `  status=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "${imds}")`,
        '  echo "$n $status" >> "$1"',
        '  sleep 0.25',
        'done',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    for (const unit of [CANARY_UNIT, PLAIN_UNIT])
      writeFileSync(
        join(this.root, 'etc/systemd/system', unit),
        `[Unit]\nDescription=IMDSv1 caller of the canary test\n[Service]\nExecStart=${LOOP} /var/tmp/${unit}.out\n`,
      );
    this.must(['systemctl', 'daemon-reload']);
    this.must(['systemctl', 'start', CANARY_UNIT, PLAIN_UNIT]);
  }

  async run(): Promise<string> {
    this.phase = 'two test units asking IMDS without a token';
    this.setUpUnits();
    await this.expectAnswers(CANARY_UNIT, 0, '200');
    await this.expectAnswers(PLAIN_UNIT, 0, '200');

    this.phase = `canary start --unit ${CANARY_UNIT}`;
    const held = await this.startCanary();
    const [canaryMark, plainMark] = [this.mark(CANARY_UNIT), this.mark(PLAIN_UNIT)];

    this.phase = 'a tokenless GET in the canary unit gets 401, in another unit 200';
    const refused = await this.expectAnswers(CANARY_UNIT, canaryMark, '401');
    const answered = await this.expectAnswers(PLAIN_UNIT, plainMark, '200');
    const refusedLine = await this.waitFor("the line of a refused request of the canary unit in the daemon's log", () =>
      this.lines().find(
        (l): l is LineOf<'imds_request'> =>
          l.event === 'imds_request' &&
          l.unit === CANARY_UNIT &&
          l.imds_version === 'v1' &&
          l.response?.status === 401 &&
          l.canary?.target === `unit:${CANARY_UNIT}`,
      ),
    );
    const leaked = this.lines().find(
      (l) => l.event === 'imds_request' && l.unit === PLAIN_UNIT && l.canary !== undefined,
    );
    if (leaked) this.fail(`a request of ${PLAIN_UNIT} names the canary`, JSON.stringify(leaked));
    const status = this.canary('status');
    if (!new RegExp(`^unit:${CANARY_UNIT.replace('.', '\\.')} .* refused=[1-9]`, 'm').test(status.stdout))
      this.fail('canary status does not list the canary with its refusals', `${status.stdout}${status.stderr}`);

    this.phase = `the canary follows ${CANARY_UNIT} through a restart of the unit`;
    const restartMark = this.mark(CANARY_UNIT);
    this.must(['systemctl', 'restart', CANARY_UNIT]);
    // The daemon sees the unit's new cgroup made (inotify on its parent) and attaches at once:
    // the unit's first requests are refused too (without the watch, its looks twice a second
    // let them escape; docs/canary.md).
    await this.waitFor('canary status saying reattached=1', () =>
      /^unit:\S+ .* reattached=1$/m.test(this.canary('status').stdout) ? true : undefined,
    );
    // None skipped: a request of the old process after the mark was refused in its old cgroup.
    const followed = await this.expectAnswers(CANARY_UNIT, restartMark, '401', 0);

    this.phase = 'systemctl stop imds-analyzer';
    let began = Date.now();
    this.must(['systemctl', 'stop', SERVICE]);
    const stopMs = Date.now() - began;
    const stopGoneMs = await this.expectEnded('systemctl stop');

    this.phase = 'systemctl restart imds-analyzer';
    this.must(['systemctl', 'start', SERVICE]);
    const firstPid = await this.waitActive('0');
    await this.startCanary();
    await this.expectAnswers(CANARY_UNIT, this.mark(CANARY_UNIT), '401');
    this.must(['systemctl', 'restart', SERVICE]);
    await this.waitActive(firstPid);
    const after = this.canary('status');
    if (after.code !== 0 || after.stdout.split('\n')[0] !== '0 canaries active')
      this.fail('after a restart the daemon does not say it holds no canary', `${after.stdout}${after.stderr}`);
    const restartGoneMs = await this.expectEnded('systemctl restart');

    this.phase = 'rpm -e imds-analyzer';
    await this.startCanary();
    await this.expectAnswers(CANARY_UNIT, this.mark(CANARY_UNIT), '401');
    began = Date.now();
    this.must(['rpm', '-e', 'imds-analyzer']);
    const eraseMs = Date.now() - began;
    if (this.show(SERVICE, 'ActiveState') === 'active') this.fail('rpm -e left the service running');
    const eraseGoneMs = await this.expectEnded('rpm -e');

    this.phase = 'the package installed again for the rest of the boot test';
    this.must(['systemctl', 'stop', CANARY_UNIT, PLAIN_UNIT]);
    this.must(['rpm', '-i', '--nodeps', this.pkg]);
    this.must(['systemctl', 'start', SERVICE]);
    await this.waitActive('0');

    const objects = `${held.programs.length} programs, ${held.maps.length} maps, ${held.links.length} link`;
    return (
      `boot: canary under systemd: --unit ${CANARY_UNIT}: IMDS answered ${refused.join(' ')} in it ` +
      `(line: ${refusedLine.imds_version} ${refusedLine.response?.status} canary ${refusedLine.canary?.target}), ` +
      `${answered.join(' ')} in ${PLAIN_UNIT}; bpftool showed ${objects} of it; ` +
      `the unit restarted: reattached, ${followed.join(' ')}; ` +
      `none left after systemctl stop (stop ${stopMs} ms, gone ${stopGoneMs} ms after), ` +
      `systemctl restart (the next daemon holds none; gone ${restartGoneMs} ms after), ` +
      `rpm -e (erase ${eraseMs} ms, gone ${eraseGoneMs} ms after)`
    );
  }

  /** What a person needs when a phase fails: the journal and what the kernel holds of the canary. */
  async report(error: unknown): Promise<string> {
    const phase = error instanceof PhaseFailure ? error.phase : this.phase;
    const context = error instanceof PhaseFailure ? error.context : String((error as Error).stack ?? error);
    const held = await canaryObjects().then(describeCanaryObjects, (e: Error) => `bpftool failed: ${e.message}`);
    return [
      `boot: canary under systemd: FAIL in "${phase}": ${(error as Error).message}`,
      context,
      `bpftool (host) holds of the canary: ${held || 'nothing'}`,
    ].join('\n');
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { init: { type: 'string' }, root: { type: 'string' }, package: { type: 'string' } },
    strict: true,
  });
  if (!values.init || !values.root || !values.package) {
    process.stderr.write('canary-phase: --init PID --root DIR --package PATH\n');
    return 2;
  }
  const phase = new CanaryPhase(Number(values.init), values.root, values.package);
  try {
    process.stdout.write(`${await phase.run()}\n`);
    return 0;
  } catch (error) {
    process.stdout.write(`${await phase.report(error)}\n`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then((code) => process.exit(code));
}
