// Where the daemon's own messages go: stderr (systemd's journal) always, and the log file
// once it is open. libbpf's warnings from before the log is open wait for it.
import { hostname } from 'node:os';
import type { Config } from '../config/index.js';
import type { PrintHandler } from '../libbpf/libbpf.js';
import type { HostIdentity } from '../logic/host-identity.js';
import type { LogSink, LogSinkOptions } from '../logging/index.js';
import { Redactor } from '../logging/redactor.js';

export class DaemonLog {
  readonly redactor = new Redactor();
  private sink: LogSink | null = null;
  private sinkOptions: LogSinkOptions | null = null;
  private readonly earlyLibbpfWarnings: string[] = [];

  readonly libbpf: PrintHandler = (level, message) => {
    if (level !== 'warn') return;
    if (this.sink) this.sink.lifecycle('error', { source: 'libbpf', message });
    else this.earlyLibbpfWarnings.push(message);
  };

  /** One line per line of `message` on stderr, redacted. */
  stderr(message: string): void {
    for (const line of message.split('\n')) process.stderr.write(`imds-analyzer: ${this.redactor.text(line)}\n`);
  }

  /** The log file may be opened from now on (this daemon holds the instance lock); `onLine` sees each line written. */
  allowOpening(config: Config, identity: HostIdentity, onLine?: (text: string) => void): void {
    const { logDir: dir, rotation, console, logLevel: level } = config;
    this.sinkOptions = {
      dir,
      rotation,
      console,
      level,
      hostname: hostname(),
      identity,
      redactor: this.redactor,
      onLine,
    };
  }

  async open(): Promise<LogSink> {
    if (this.sink) return this.sink;
    if (!this.sinkOptions) throw new Error('the log is opened before its options are known');
    const { createLogSink } = await import('../logging/index.js');
    const sink = await createLogSink(this.sinkOptions);
    this.sink = sink;
    for (const message of this.earlyLibbpfWarnings.splice(0)) sink.lifecycle('error', { source: 'libbpf', message });
    return sink;
  }

  /**
   * A failure: on stderr, and in the log file when this daemon may open it (opened for it if
   * need be: libbpf's messages, the verifier's log among them, go there too).
   */
  async failure(err: unknown): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    this.stderr(message);
    if (!this.sinkOptions) return;
    const sink = await this.open().catch(() => null);
    sink?.lifecycle('error', { message });
  }

  /** SIGHUP (logrotate): reopens the log file by name. */
  reopen(): void {
    if (!this.sink) return;
    this.sink.reopen();
    process.stderr.write('imds-analyzer: SIGHUP: log files reopened\n');
  }

  async close(): Promise<void> {
    const sink = this.sink;
    this.sink = null;
    this.sinkOptions = null;
    await sink?.close();
  }
}
