// Which program made a request, as an operator fixes it: the executable, the script an
// interpreter runs (the caller's own, or the one that ran a tool such as curl), and the
// argv's shape. One script that curls 200 metadata paths is one program; the paths it
// called are listed under it.
import { mayHoldSecret, redactArgv } from '../redact.js';
import { argvShape, normalizeArg } from './normalize.js';

/** Interpreters whose first operand is the program that matters (the script). */
const INTERPRETER =
  /^(?:ba|da|z|k|mk|a)?sh$|^(?:python|pypy)[\d.]*$|^perl[\d.]*$|^ruby[\d.]*$|^node(?:js)?$|^php[\d.]*$|^lua[\d.]*$|^Rscript$|^tclsh[\d.]*$/;
/** Options whose value is inline code: no script file to name. */
const INLINE_CODE = new Set(['-c', '-e', '-E', '--eval', '-r', '-p', '--print']);
/** Options that take the next argument as their value (so it is not the script). */
const OPTION_WITH_VALUE = new Set(['-W', '-X', '-I', '-o', '-O', '--require', '-r']);

export interface Script {
  /** The script's name, volatile parts (temp dirs, numbers) normalised; `-m module` for python -m. */
  name: string;
  /** Where it stands in the argv it came from. */
  index: number;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The script an interpreter's argv runs, or null (not an interpreter, inline code, interactive). */
export function scriptOf(argv: readonly string[]): Script | null {
  const first = argv[0];
  if (first === undefined) return null;
  // A login shell's argv[0] is "-bash".
  if (!INTERPRETER.test(basename(first).replace(/^-/, ''))) return null;
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (INLINE_CODE.has(arg)) return null;
    if (arg === '-m' && argv[i + 1] !== undefined) return { name: `-m ${argv[i + 1]}`, index: i + 1 };
    if (arg === '--') continue;
    if (arg.startsWith('-')) {
      if (OPTION_WITH_VALUE.has(arg)) i++;
      continue;
    }
    return { name: normalizeArg(arg), index: i };
  }
  return null;
}

export interface ProgramIdentity {
  /** The script the caller runs, or the nearest ancestor's script (a tool called by a script). */
  readonly script: string | null;
  /** The caller's argv shape (argvShape). */
  readonly command: string;
  /**
   * What separates programs besides executable, unit, container and SDK: the script when there
   * is one (its calls with any arguments are one program), else the argv shape.
   */
  readonly key: string;
}

/** argvShape, or a function that gives what it gives. */
type Shaper = (argv: readonly string[], scriptIndex: number | null) => string;

/** A program found by programOf: its argv is shaped when first asked (a script's key does not need it). */
class FoundProgram implements ProgramIdentity {
  readonly #argv: readonly string[];
  readonly #scriptIndex: number | null;
  readonly #shape: Shaper;
  #command: string | undefined;

  constructor(
    argv: readonly string[],
    scriptIndex: number | null,
    readonly script: string | null,
    shape: Shaper,
  ) {
    this.#argv = argv;
    this.#scriptIndex = scriptIndex;
    this.#shape = shape;
  }

  get command(): string {
    this.#command ??= this.#shape(this.#argv, this.#scriptIndex);
    return this.#command;
  }

  get key(): string {
    return this.script === null ? this.command : `script:${this.script}`;
  }
}

/**
 * The program behind a request: the caller's argv and its ancestors' argv, nearest first
 * (`redact` is applied to an ancestor's argv before it is read; it is read only when the
 * caller runs no script of its own).
 */
export function programOf(
  argv: readonly string[],
  ancestorArgvs: ReadonlyArray<readonly string[]>,
  redact: (argv: readonly string[]) => readonly string[] = (a) => a,
  shape: Shaper = argvShape,
): ProgramIdentity {
  const own = scriptOf(argv);
  let script = own?.name ?? null;
  for (const ancestor of ancestorArgvs) {
    if (script !== null) break;
    script = scriptOf(redact(ancestor))?.name ?? null;
  }
  return new FoundProgram(argv, own?.index ?? null, script, shape);
}

/** Separates the parts of a group key; cannot occur in argv (NUL-separated in the kernel). */
const KEY_SEPARATOR = '\u0000';
const PART_SEPARATOR = '\u0001';
/** Programs with a secret-shaped argument remembered by raw argv: the same program runs millions of times. */
const MAX_REMEMBERED_PROGRAMS = 4096;

/** What a request line (or a summary line) says of its caller, as far as grouping goes. */
export interface Caller {
  exe?: string | null | undefined;
  comm?: string | null | undefined;
  argv: readonly string[];
  ancestorArgvs: ReadonlyArray<readonly string[]>;
  unit?: string | null | undefined;
  runtime?: string | null | undefined;
  sdk?: { name?: string | undefined; version?: string | null | undefined } | null | undefined;
}

const redacted = (argv: readonly string[]) => redactArgv(argv).argv;

/**
 * programOf over redacted argv, and the key that makes requests one program: the report
 * groups by it and the daemon summarises by it. An argv without a secret-shaped argument is
 * its own redaction (mayHoldSecret) and is read as it comes; one with such an argument is
 * redacted once and remembered by raw argv and ancestry (the same program runs many times).
 */
export class ProgramIdentities {
  private readonly hinted = new Map<string, ProgramIdentity>();
  /** argvShape of argv without a script, by argv: the key of a program without a script is its shape. */
  private readonly shapes = new Map<string, string>();
  private readonly shape: Shaper = (argv, scriptIndex) => {
    if (scriptIndex !== null) return argvShape(argv, scriptIndex);
    const raw = argv.join(KEY_SEPARATOR);
    let shape = this.shapes.get(raw);
    if (shape === undefined) {
      if (this.shapes.size >= MAX_REMEMBERED_PROGRAMS) this.shapes.clear();
      shape = argvShape(argv, null);
      this.shapes.set(raw, shape);
    }
    return shape;
  };

  /** The program of a caller; null when its argv is not known. */
  programOf(caller: Caller): ProgramIdentity | null {
    if (caller.argv.length === 0) return null;
    if (!mayHoldSecret(caller.argv)) return programOf(caller.argv, caller.ancestorArgvs, redacted, this.shape);
    const raw = [caller.argv, ...caller.ancestorArgvs].map((a) => a.join(KEY_SEPARATOR)).join(PART_SEPARATOR);
    let program = this.hinted.get(raw);
    if (program === undefined) {
      if (this.hinted.size >= MAX_REMEMBERED_PROGRAMS) this.hinted.clear();
      const found = programOf(redacted(caller.argv), caller.ancestorArgvs, redacted);
      // A copy: strings taken from a line keep the line's whole text alive as long as they live.
      program = structuredClone({ script: found.script, command: found.command, key: found.key });
      this.hinted.set(raw, program);
    }
    return program;
  }

  /** The group key of a caller making requests of `kind`. */
  keyOf(kind: string, caller: Caller, program = this.programOf(caller)): string {
    const sdkKey = `${caller.sdk?.name ?? ''} ${caller.sdk?.version ?? ''}`;
    return [
      kind,
      caller.exe ?? null,
      program?.key ?? caller.comm ?? UNKNOWN_PROCESS,
      caller.unit ?? null,
      caller.runtime ?? null,
      sdkKey,
    ].join(KEY_SEPARATOR);
  }
}

export const UNKNOWN_PROCESS = '(unknown process)';
