// Running commands for the testbed: synchronous `ip`/system calls for setup and teardown
// (teardown must also work from a process 'exit' handler), and async child processes
// whose output is collected for the tests.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

/** Output kept per stream; a runaway client cannot exhaust the test's memory. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

export interface RunResult {
  /** Exit code, or null when the process was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pid: number;
  timedOut: boolean;
}

export interface RunningProcess {
  pid: number;
  child: ChildProcess;
  /** Settles when the process has exited and its output is collected. */
  result: Promise<RunResult>;
  kill(signal?: NodeJS.Signals): void;
}

/** Runs a command to completion; throws with its stderr when it fails. */
export function runSync(argv: readonly string[]): string {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('runSync: empty command');
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`${argv.join(' ')} failed${stderr ? `: ${stderr}` : ''}`);
  }
}

/** Like runSync, but reports failure as null (for probes and best-effort cleanup). */
export function tryRunSync(argv: readonly string[]): string | null {
  try {
    return runSync(argv);
  } catch {
    return null;
  }
}

export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** Kill (SIGKILL) after this long; the result then says timedOut. */
  timeoutMs?: number;
  stdin?: string | Buffer;
}

function collect(stream: NodeJS.ReadableStream | null): () => string {
  const chunks: Buffer[] = [];
  let size = 0;
  stream?.on('data', (chunk: Buffer) => {
    if (size >= MAX_OUTPUT_BYTES) return;
    chunks.push(chunk);
    size += chunk.length;
  });
  return () => Buffer.concat(chunks).toString('utf8');
}

/** Starts a child process, collecting its output; the caller decides when to await it. */
export function startProcess(argv: readonly string[], options: StartOptions = {}): RunningProcess {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('startProcess: empty command');
  const child = spawn(file, args, {
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  let timedOut = false;
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
          // Orphans may still hold the pipes open; stop waiting for them to close.
          setTimeout(() => {
            child.stdout.destroy();
            child.stderr.destroy();
          }, 500).unref();
        }, options.timeoutMs);
  // A client that exits without reading stdin must not crash the test with EPIPE.
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.stdin);
  const result = new Promise<RunResult>((resolve, reject) => {
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${file}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: stdout(), stderr: stderr(), pid: child.pid ?? -1, timedOut });
    });
  });
  return {
    pid: child.pid ?? -1,
    child,
    result,
    kill: (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
