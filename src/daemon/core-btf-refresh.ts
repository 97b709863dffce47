// The next start relocates against a cut-down copy of this kernel's BTF (most of a load):
// after a start against the kernel's BTF, a child process writes it and this capture
// proves it. Runs beside capture; stop() ends it first, since its trial load runs on this
// capture's maps.
import type { Capture } from '../capture/capture.js';
import type { LogSink } from '../logging/index.js';

/** `imds-analyzer cut-btf OBJECT OUT` in a child process: its heap goes when it exits. */
async function cutDownInChild(objectPath: string, outPath: string, signal: AbortSignal): Promise<void> {
  const { spawn } = await import('node:child_process');
  const cli = process.argv[1];
  if (!cli) throw new Error('cannot tell which script to run for cut-btf');
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, cli, 'cut-btf', objectPath, outPath], {
      stdio: ['ignore', 'ignore', 'pipe'],
      signal,
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`cut-btf ended with ${signal ?? code}: ${stderr.trim()}`)),
    );
  });
}

/** Starts the refresh; the returned function ends it and waits until it has ended. */
export function refreshCoreBtf(capture: Capture, sink: LogSink): () => Promise<void> {
  const stop = new AbortController();
  const refreshing = capture
    .refreshCoreBtfCache((objectPath, outPath) => cutDownInChild(objectPath, outPath, stop.signal))
    .catch((err: Error) => {
      if (!stop.signal.aborted) sink.lifecycle('error', { source: 'core-btf', message: err.message });
    });
  return async () => {
    stop.abort();
    await refreshing;
  };
}
