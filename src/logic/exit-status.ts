// The exit status of every command, in one table: fleets, CI gates and cron jobs act on it.
// Errors take the sysexits.h codes, so that no error can be read as one of the report's
// verdicts (0, 1, 2) or as `status`'s "not running" (3).
import { redactText } from './redact.js';

export const EXIT = {
  /** report: YES; status: running; run: a clean stop; --help, --version. */
  ok: 0,
  /** report: NO. */
  no: 1,
  /** run: the daemon failed after its checks passed (systemd restarts it). */
  failed: 1,
  /** report: UNKNOWN. */
  unknown: 2,
  /** status, canary: the service is not running. */
  notRunning: 3,
  /** EX_USAGE: unknown command or option, a bad value. */
  usage: 64,
  /** EX_NOINPUT: an input that does not exist or cannot be read. */
  noInput: 66,
  /** EX_UNAVAILABLE: this host can never run the daemon (no libbpf, no BTF, no hooks). */
  unavailable: 69,
  /** EX_SOFTWARE: an internal error (a bug). */
  internal: 70,
  /** EX_IOERR: reading or writing failed. */
  io: 74,
  /** EX_CONFIG: a bad configuration (or a directory the daemon cannot write). */
  config: 78,
} as const;

export type ExitStatus = (typeof EXIT)[keyof typeof EXIT];

/** The report's exit status for its answer. */
export const VERDICT_EXIT = { YES: EXIT.ok, NO: EXIT.no, UNKNOWN: EXIT.unknown } as const;

/** What each exit status means, for `--help` and the docs (which must show it verbatim). */
export const EXIT_STATUS_TABLE: readonly { status: ExitStatus; meaning: string }[] = [
  { status: EXIT.ok, meaning: 'report: YES (safe); status: running; run: stopped cleanly' },
  {
    status: EXIT.no,
    meaning: 'report: NO (IMDSv1 callers); run: the daemon failed (it says why); canary: refused (it says why)',
  },
  { status: EXIT.unknown, meaning: 'report: UNKNOWN (evidence incomplete; the reasons say what is missing)' },
  { status: EXIT.notRunning, meaning: 'status, canary: the service is not running' },
  { status: EXIT.usage, meaning: 'usage: unknown command or option, a bad value (--format, --since, ...)' },
  {
    status: EXIT.noInput,
    meaning: 'no input: a path that does not exist or cannot be read, a directory without log files',
  },
  {
    status: EXIT.unavailable,
    meaning: 'run: this host cannot run the daemon (no libbpf, no BTF, no hooks); canary: nor a canary',
  },
  { status: EXIT.internal, meaning: 'internal error (a bug: please report it)' },
  { status: EXIT.io, meaning: 'I/O error while reading or writing (--hosts-csv, standard output)' },
  { status: EXIT.config, meaning: 'configuration: a bad config file, or a directory the daemon cannot write' },
];

/** The table as `--help` prints it. */
export function exitStatusText(): string {
  return EXIT_STATUS_TABLE.map(({ status, meaning }) => `  ${String(status).padStart(2)}  ${meaning}\n`).join('');
}

/** The table as README.md and docs/report.md show it. */
export function exitStatusMarkdown(): string {
  const rows = EXIT_STATUS_TABLE.map(({ status, meaning }) => `| ${status} | ${meaning.replace(/\|/g, '\\|')} |`);
  return ['| exit | meaning |', '|---|---|', ...rows, ''].join('\n');
}

/** An error that knows the exit status it ends the command with. */
export class CommandError extends Error {
  constructor(
    readonly exitStatus: ExitStatus,
    message: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

export class UsageError extends CommandError {
  constructor(message: string) {
    super(EXIT.usage, message);
  }
}

export class NoInputError extends CommandError {
  constructor(message: string) {
    super(EXIT.noInput, message);
  }
}

export class OutputError extends CommandError {
  constructor(message: string) {
    super(EXIT.io, message);
  }
}

function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** node:util parseArgs's errors: an unknown option, a missing value, an extra argument. */
function isParseArgsError(err: unknown): boolean {
  return errnoCode(err)?.startsWith('ERR_PARSE_ARGS_') === true;
}

/** The status an error ends a command with: its own, usage, I/O for a system call's, else internal. */
export function exitStatusOf(err: unknown): ExitStatus {
  if (err instanceof CommandError) return err.exitStatus;
  if (isParseArgsError(err)) return EXIT.usage;
  // A system call's error (EIO, ENOSPC, EACCES, ...) that no command turned into a clearer one.
  if (/^E[A-Z0-9]+$/.test(errnoCode(err) ?? '')) return EXIT.io;
  return EXIT.internal;
}

/** How far apart two words are (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The known word a typo most likely meant, if one is close enough. */
export function closest(word: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/**
 * The one stderr line an error ends a command with: redacted (an argument may hold a secret),
 * on one line, naming what to fix. `options` are the command's long options, for a typo.
 */
export function errorLine(command: string, err: unknown, options: readonly string[] = []): string {
  let message = err instanceof Error ? err.message : String(err);
  const unknownOption = errnoCode(err) === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'(-[^']*)'/.exec(message)?.[1] : null;
  if (unknownOption) {
    const meant = closest(unknownOption.replace(/^-+/, '').split('=')[0] ?? '', options);
    message = `unknown option '${unknownOption}'${meant ? ` (did you mean --${meant}?)` : ''}; see ${command} --help`;
  } else if (isParseArgsError(err)) {
    message = `${message.split('. ')[0]}; see ${command} --help`;
  }
  return `${command}: ${redactText(message.replace(/\s*\n\s*/g, ' ')).text}\n`;
}
