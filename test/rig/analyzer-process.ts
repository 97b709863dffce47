// Runs the real analyzer daemon (`node dist/cli/main.js run`) with a private log and
// state directory, waits for its `ready` line, and reads back the JSON lines it wrote.
// Used by the demo, the end-to-end tests and the benchmarks.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LogLine, logLineSchema } from '../../src/model/log-line.js';
import { readStoredLine } from '../../src/model/stored-line.js';
import { CLI } from './compiled.js';

export { CLI };

/**
 * A line this daemon wrote, read through the contract (readStoredLine) and held to all of the
 * writer's schema (the daemon under test is the current one): only its fields can be named.
 */
export type { LogLine };
export type LineOf<E extends LogLine['event']> = Extract<LogLine, { event: E }>;
export type RequestLine = LineOf<'imds_request'>;

export interface DaemonOptions {
  buffer?: 'ringbuf' | 'perfbuf';
  config?: Record<string, unknown>;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the ready line (default 30 s; the arm64 VM under TCG needs more). */
  readyTimeoutMs?: number;
  /** A command the daemon is started under (e.g. `unshare -m ...`); it must exec its arguments. */
  launcher?: string[];
  /** The entry script (default dist/cli/main.js; the bench runs the shipped bundle). */
  cli?: string;
  /**
   * The kernel sends the daemon SIGTERM when this process dies, however it dies (SIGKILL
   * too): no daemon is left attached to the root cgroup. Needs util-linux's setpriv.
   */
  dieWithParent?: boolean;
  /**
   * The directory of an earlier daemon (its `dir`): this one starts on its config, log and
   * state directories, as the service restarts after a crash. Default: a fresh directory.
   */
  restartIn?: string;
}

export interface RunningDaemon {
  dir: string;
  logDir: string;
  stateDir: string;
  process: ChildProcess;
  ready: LineOf<'ready'>;
  stdout(): string;
  stderr(): string;
  lines(): LogLine[];
  requests(): RequestLine[];
  /** Waits until `done(lines)` holds for the request lines, or fails after `timeoutMs`. */
  waitForRequests(done: (requests: RequestLine[]) => boolean, timeoutMs?: number): Promise<RequestLine[]>;
  /** The request line of the client with this pid, once it is written. */
  requestOf(pid: number, timeoutMs?: number): Promise<RequestLine>;
  /** Runs `body` with the daemon stopped (SIGSTOP): user space sees nothing of what happens meanwhile. */
  whilePaused<T>(body: () => Promise<T>): Promise<T>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  cleanup(): void;
}

/**
 * Every line in every file of a log directory, oldest file first, read through the contract:
 * a line the daemon wrote that is not of the contract fails the test that reads it.
 */
export function readLogLines(dir: string): LogLine[] {
  const out: LogLine[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    // The last line may still be being written: only complete lines count.
    const complete = readFileSync(path, 'utf8').split('\n').slice(0, -1);
    complete.forEach((text, i) => {
      const reading = readStoredLine(text);
      if (reading.kind === 'line') out.push(logLineSchema.parse(reading.line));
      else if (reading.kind !== 'blank')
        throw new Error(`${path}:${i + 1}: ${reading.kind} line: ${text.slice(0, 200)}`);
    });
  }
  return out;
}

/** The first value `probe` gives (polled every 50 ms), or a timeout error naming `what`. */
export async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startAnalyzer(options: DaemonOptions = {}): Promise<RunningDaemon> {
  const dir = options.restartIn ?? mkdtempSync(join(tmpdir(), 'imds-e2e-'));
  const logDir = join(dir, 'logs');
  const stateDir = join(dir, 'state');
  const configPath = join(dir, 'config.json');
  if (!options.restartIn)
    writeFileSync(
      configPath,
      // cacheDir here, not /var/cache: each test starts as on a first boot unless it says otherwise.
      JSON.stringify({
        stateDir,
        cacheDir: join(dir, 'cache'),
        statsIntervalSeconds: 1,
        responseWaitMs: 500,
        // Tests follow each request by its own line; bounded evidence is tested where it says so.
        summary: { enabled: false },
        ...options.config,
      }),
    );
  const args = [options.cli ?? CLI, 'run', '--config', configPath, '--log-dir', logDir, ...(options.args ?? [])];
  if (options.buffer) args.push('--buffer', options.buffer);
  const deathSignal = options.dieWithParent ? ['setpriv', '--pdeathsig', 'TERM', '--'] : [];
  const [command, ...commandArgs] = [...deathSignal, ...(options.launcher ?? []), process.execPath, ...args] as [
    string,
    ...string[],
  ];
  const child = spawn(command, commandArgs, {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let exited: number | null | undefined;
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exited = code;
      resolve(code);
    }),
  );

  const ready = await until('the ready line', options.readyTimeoutMs ?? 30_000, () => {
    if (exited !== undefined) throw new Error(`daemon exited with ${exited}: ${stderr}`);
    // After a restart the log holds the earlier daemon's ready line too.
    return readLogLines(logDir).find(
      (l): l is LineOf<'ready'> => l.event === 'ready' && (!options.restartIn || l.pid === child.pid),
    );
  });

  const requests = () => readLogLines(logDir).filter((l): l is RequestLine => l.event === 'imds_request');
  return {
    dir,
    logDir,
    stateDir,
    process: child,
    ready,
    stdout: () => stdout,
    stderr: () => stderr,
    lines: () => readLogLines(logDir),
    requests,
    waitForRequests: (done, timeoutMs = 15_000) =>
      until('request lines', timeoutMs, () => {
        const r = requests();
        return done(r) ? r : undefined;
      }),
    requestOf: (pid, timeoutMs = 15_000) =>
      until(`the request line of pid ${pid}`, timeoutMs, () => requests().find((l) => l.process?.pid === pid)),
    async whilePaused(body) {
      child.kill('SIGSTOP');
      try {
        return await body();
      } finally {
        child.kill('SIGCONT');
      }
    },
    async stop(signal = 'SIGTERM') {
      if (exited === undefined) child.kill(signal);
      return exit;
    },
    cleanup() {
      if (exited === undefined) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Program and link names the kernel has loaded right now, from bpftool. */
export async function loadedPrograms(): Promise<{ programs: string[]; links: number[] }> {
  const run = (args: string[]) =>
    new Promise<string>((resolve, reject) => {
      const p = spawn('bpftool', ['-j', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`bpftool ${args.join(' ')}: ${code}`))));
    });
  const progs = JSON.parse(await run(['prog', 'show'])) as Array<{ name?: string; id: number }>;
  const links = JSON.parse(await run(['link', 'show'])) as Array<{ prog_id: number }>;
  return {
    programs: progs.map((p) => p.name ?? '').filter((n) => n.startsWith('imds_')),
    links: links.map((l) => l.prog_id),
  };
}
