// Secrets cut out of everything the daemon outputs. Two layers:
// 1. known secrets: token values seen on the wire (known-secrets.ts), found anywhere, also
//    inside a longer string;
// 2. secret-shaped text: `--password X`, `--token=X`, `-pX` (mysql), `curl -u user:pass`,
//    `Authorization: Bearer X`, `https://user:pass@host/`, `*_PASSWORD=X`, `-Daws.secretKey=X`,
//    `aws configure set aws_secret_access_key X`, a header inside an option's value
//    (`--header=X-aws-ec2-metadata-token:X`), `docker login -p X`, `redis-cli -a X`,
//    `openssl -passin pass:X` (and with `env:NAME`, the NAME=X given to it)... in argv, in
//    `sh -c` scripts (recursively) and in any other string.
// Only the secret is replaced, so that a line still shows the program and its shape:
// `--password [REDACTED]`, `https://user:[REDACTED]@host/`. Pure, no I/O.
import type { Span } from './known-secrets.js';
import { shellCommands } from './shell-words.js';

export const REDACTED = '[REDACTED]';

/** Finds remembered secrets in a string (KnownSecrets). */
export interface KnownSecretFinder {
  find(text: string): Span[];
}

/** Nested `sh -c "bash -c '...'"` deeper than this is taken as one opaque script. */
const MAX_SCRIPT_DEPTH = 4;
/** Log records are a few levels deep; the bound also stops a cyclic object. */
const MAX_LINE_DEPTH = 8;

/**
 * Names whose value is a secret, compared with separators removed and lower-cased, by how
 * they end: db_password, --client-secret, aws.secretKey, AWS_SESSION_TOKEN, x-api-key...
 */
const SECRET_NAME_END =
  /(?:password|passwd|secret|secretkey|secretaccesskey|token|apikey|secretstring|privatekey|authorization|cookie|bearer)$/;
/**
 * Every secret name holds one of these: a text without any is skipped by the costlier
 * patterns (redaction runs on every string of every line).
 */
const SECRET_HINT = /pass|secret|token|key|auth|cookie/i;
/** An argument without any of these takes no rule below, nor does the one after it. */
const ARG_HINT = /pass|secret|token|key|auth|cookie|@|^-[apuk]|^-U|^--(?:proxy-)?user/i;
/** A script without any of these is not cut into words. */
const SCRIPT_HINT = /pass|secret|token|key|auth|cookie|@|\s[\\"']*-[apuk]|\s[\\"']*-U|\s[\\"']*--(?:proxy-)?user/i;
/** ARG_HINT or SCRIPT_HINT, in one pass. */
const ANY_HINT = new RegExp(`${ARG_HINT.source}|${SCRIPT_HINT.source}`, 'i');
/** Flags that switch something off take no value: --no-password. */
const NEGATED_FLAG = /^-{0,2}no[-_]/i;

export function isSecretName(name: string): boolean {
  return !NEGATED_FLAG.test(name) && SECRET_NAME_END.test(name.replace(/[^A-Za-z0-9]/g, '').toLowerCase());
}

/**
 * `name=value`, `name: value`, `"name": "value"` anywhere in a text; the value may follow an
 * authorization scheme. The name is checked with isSecretName.
 */
const KEY_VALUE =
  /(?<![\w.-])(-{0,2}[A-Za-z_][\w.-]*)["']?\s*[:=]\s*["']?(?:(?:bearer|basic|token|digest|negotiate|aws4-hmac-sha256)\s+)?([^\s"',;&}]+)/dgi;
/** The password of URL user info: scheme://user:password@host (the last @ before the path). */
const URL_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*:([^\s/?#]*)@/dgi;
/** A whole argument `--name=value` / `NAME=value` / `-Dname=value`: the value is all the rest. */
const ARG_ASSIGNMENT = /^(-{0,2}[A-Za-z_][\w.-]*)=(.+)$/s;
/** A whole argument that is a header `Name: [scheme ]value`: the value is all the rest. */
const ARG_HEADER = /^([A-Za-z][\w-]*)\s*:\s*(?:(?:bearer|basic|token|digest|negotiate|aws4-hmac-sha256)\s+)?(.+)$/is;
const FLAG = /^-{1,2}[A-Za-z][\w.-]*$/;
/** An argument that ends where a secret's value starts: `-H 'X-aws-ec2-metadata-token:' "$T"`. */
const NAME_AT_END = /([A-Za-z_][\w.-]*)["']?\s*[:=]\s*["']?$/;
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash', 'mksh', 'busybox']);
const SHELL_SCRIPT_FLAG = /^-[a-z]*c[a-z]*$/;
/** Programs whose short options carry a password (only they: `ssh -p 22` is a port). */
const MYSQL_FAMILY =
  /^(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mysqlpump|mysqlslap|mariadb(?:-\w+)?)$/;
const CURL_USER_FLAGS = new Set(['-u', '--user', '-U', '--proxy-user']);
/** Registry clients whose `login -p X` / `-pX` is the password (elsewhere -p is a port). */
const REGISTRY_CLIENTS = new Set(['docker', 'podman', 'nerdctl', 'buildah', 'skopeo', 'finch']);
/** redis-cli's password options (`-a X`, `--pass X`). */
const REDIS_PASSWORD_FLAGS = new Set(['-a', '--pass']);
/** openssl's pass phrase options: `pass:X` is the pass phrase, `env:NAME` names where it is. */
const OPENSSL_PASS_FLAG = /^-(?:passin|passout|pass|password|kfile)$/;
const OPENSSL_ENV_SOURCE = /^env:([A-Za-z_]\w*)$/;
/**
 * Programs that decide how the options after them are read (ssh & co. end sshpass's
 * options): SHELLS, MYSQL_FAMILY and these, as a whole word or after a directory.
 */
const PROGRAM_WORD =
  /^(?:\S*\/)?(?:curl|wget|sshpass|ssh|scp|sftp|rsync|aws|sh|bash|dash|zsh|ksh|ash|mksh|busybox|mysql\w*|mariadb[\w-]*|docker|podman|nerdctl|buildah|skopeo|finch|redis-cli|openssl)$/;

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Secret spans in free text. */
export function textSpans(text: string): Span[] {
  const spans: Span[] = [];
  if ((text.includes(':') || text.includes('=')) && SECRET_HINT.test(text)) {
    for (const m of text.matchAll(KEY_VALUE)) {
      const value = m.indices?.[2];
      if (value && isSecretName(m[1] ?? '')) spans.push(value);
    }
  }
  if (text.includes('@') && text.includes('://')) {
    for (const m of text.matchAll(URL_PASSWORD)) {
      const password = m.indices?.[1];
      if (password && password[1] > password[0]) spans.push(password);
    }
  }
  return spans;
}

/** The part of a `user:password` value after the first colon. */
function passwordOf(value: string, offset: number): Span | null {
  const colon = value.indexOf(':');
  return colon >= 0 && colon + 1 < value.length ? [offset + colon + 1, offset + value.length] : null;
}

/** Secret spans in one argument, given the arguments before it. */
function argSpans(argv: readonly string[], i: number, program: string, programAt: number, depth: number): Span[] {
  const arg = argv[i] ?? '';
  const prev = argv[i - 1] ?? '';
  if (SHELLS.has(program) && SHELL_SCRIPT_FLAG.test(prev)) {
    return SCRIPT_HINT.test(arg) && depth < MAX_SCRIPT_DEPTH ? [...textSpans(arg), ...scriptSpans(arg, depth + 1)] : [];
  }
  if (arg.length === 0 || !(ARG_HINT.test(arg) || ARG_HINT.test(prev))) return [];
  const spans = textSpans(arg);
  const whole: Span = [0, arg.length];

  if (SECRET_HINT.test(arg)) {
    const assignment = ARG_ASSIGNMENT.exec(arg);
    const value = assignment?.[2] ?? '';
    if (assignment && isSecretName(assignment[1] ?? '')) spans.push([arg.length - value.length, arg.length]);
    // --header=Name:value, --set=name=value: the option's value is itself a secret's assignment.
    else if (assignment) spans.push(...assignedSecret(value, arg.length - value.length));
    spans.push(...assignedSecret(arg, 0));
    // -HName:value (curl's short option with its value attached).
    if (/^-[A-Za-z][^-]/.test(arg)) spans.push(...assignedSecret(arg.slice(2), 2));
  }
  if (SECRET_HINT.test(prev)) {
    // The value of a secret flag given as the next argument: --password X, -token X.
    if (FLAG.test(prev) && isSecretName(prev)) spans.push(whole);
    const named = NAME_AT_END.exec(prev);
    if (named && isSecretName(named[1] ?? '')) spans.push(whole);
    // aws configure set [profile.]aws_secret_access_key X
    if (argv[i - 2] === 'set' && argv[i - 3] === 'configure' && isSecretName(prev)) spans.push(whole);
  }

  if (program === 'curl') {
    if (CURL_USER_FLAGS.has(prev)) {
      const password = passwordOf(arg, 0);
      if (password) spans.push(password);
    }
    const attached = /^(?:-u|-U|--user=|--proxy-user=)(.+)$/s.exec(arg);
    if (attached?.[1]) {
      const password = passwordOf(attached[1], arg.length - attached[1].length);
      if (password) spans.push(password);
    }
  } else if (MYSQL_FAMILY.test(program) || program === 'sshpass') {
    // mysql -pX (a separate `-p X` makes mysql prompt, X is the database); sshpass -p X / -pX.
    if (arg.startsWith('-p') && arg.length > 2) spans.push([2, arg.length]);
    if (program === 'sshpass' && prev === '-p') spans.push(whole);
  } else if (REGISTRY_CLIENTS.has(program) && argv.slice(programAt, i).includes('login')) {
    if (prev === '-p') spans.push(whole);
    else if (/^-p[^-]/.test(arg)) spans.push([2, arg.length]);
  } else if (program === 'redis-cli') {
    if (REDIS_PASSWORD_FLAGS.has(prev)) spans.push(whole);
    else if (arg.startsWith('--pass=')) spans.push([7, arg.length]);
  } else if (program === 'openssl') {
    if (OPENSSL_PASS_FLAG.test(prev) && arg.startsWith('pass:')) spans.push([5, arg.length]);
    if (prev === '-k') spans.push(whole);
  }
  return spans;
}

/** A whole argument (or an option's value) `Name: [scheme ]value` or `name=value` with a secret name. */
function assignedSecret(text: string, offset: number): Span[] {
  const end = offset + text.length;
  return [ARG_HEADER.exec(text), ARG_ASSIGNMENT.exec(text)]
    .filter((m) => m !== null && isSecretName(m[1] ?? ''))
    .map((m) => [end - (m?.[2] ?? '').length, end] as Span);
}

/**
 * Names whose value a program reads as a pass phrase (`openssl … -passin env:NAME`): their
 * assignments (`env NAME=X`, `NAME=X cmd`, `export NAME=X`) are secrets wherever they stand.
 */
function passphraseNames(argv: readonly string[]): Set<string> {
  const names = new Set<string>();
  argv.forEach((arg, i) => {
    const source = OPENSSL_ENV_SOURCE.exec(arg);
    if (source?.[1] && OPENSSL_PASS_FLAG.test(argv[i - 1] ?? '')) names.add(source[1]);
  });
  return names;
}

/** Spans of `NAME=value` arguments whose NAME is in `names`. */
function namedAssignmentSpans(argv: readonly string[], names: ReadonlySet<string>): Span[][] {
  return argv.map((arg) => {
    const eq = arg.indexOf('=');
    return eq > 0 && eq + 1 < arg.length && names.has(arg.slice(0, eq)) ? [[eq + 1, arg.length] as Span] : [];
  });
}

/** Secret spans in each argument of argv (`passphrases`: names given to openssl as env:NAME). */
function argvSpans(argv: readonly string[], depth: number, passphrases = passphraseNames(argv)): Span[][] {
  let program = basename(argv[0] ?? '');
  let programAt = 0;
  const named = namedAssignmentSpans(argv, passphrases);
  return argv.map((arg, i) => {
    if (i > 0 && PROGRAM_WORD.test(arg)) {
      program = basename(arg);
      programAt = i;
    }
    return [...argSpans(argv, i, program, programAt, depth), ...(named[i] ?? [])];
  });
}

/** Secret spans in a shell script, found command by command on its words. */
function scriptSpans(script: string, depth: number): Span[] {
  const spans: Span[] = [];
  const commands = shellCommands(script).map((words) => ({ words, argv: words.map((w) => w.text) }));
  // `export PW=X; openssl … -passin env:PW`: the name is given in one command, set in another.
  const passphrases = new Set(commands.flatMap(({ argv }) => [...passphraseNames(argv)]));
  for (const { words, argv } of commands) {
    const perWord = argvSpans(argv, depth, passphrases);
    perWord.forEach((wordSpans, index) => {
      const at = words[index]?.at ?? [];
      for (const [start, end] of wordSpans) {
        const from = at[start];
        const to = at[end - 1];
        if (from !== undefined && to !== undefined) spans.push([from, to + 1]);
      }
    });
  }
  return spans;
}

/** `text` with every span replaced by [REDACTED] (overlapping and adjacent spans merged). */
function cut(text: string, spans: Span[]): string {
  const sorted = [...spans].sort((a, b) => a[0] - b[0]);
  let out = '';
  let at = 0;
  for (const [start, end] of sorted) {
    if (start > at || out === '') out += text.slice(at, start) + REDACTED;
    at = Math.max(at, end);
  }
  return out + text.slice(at);
}

function spansWithKnown(text: string, spans: Span[], known: KnownSecretFinder | undefined): Span[] {
  return known ? [...spans, ...known.find(text)] : spans;
}

/** Free text with secrets cut out. */
export function redactText(text: string, known?: KnownSecretFinder): { text: string; redacted: boolean } {
  const spans = spansWithKnown(text, textSpans(text), known);
  return spans.length === 0 ? { text, redacted: false } : { text: cut(text, spans), redacted: true };
}

/**
 * Pattern spans by argv array: the process table hands out the same array for every request
 * of a process and its parents, so each argv is read once. Weak: no argv outlives its entry.
 */
const spansOfArgv = new WeakMap<readonly string[], Span[][]>();

/**
 * Whether a rule can find a secret-shaped text in argv. Every rule is reached only through an
 * argument that matches ARG_HINT (the argument itself or the one before it; openssl's
 * pass phrase flags match it too) or, for a shell's script, SCRIPT_HINT: an argv without
 * either has no pattern span, and is not read further.
 */
export function mayHoldSecret(argv: readonly string[]): boolean {
  for (const arg of argv) if (ANY_HINT.test(arg)) return true;
  return false;
}

const NO_SPANS: Span[] = [];

/** argv with secrets cut out of its arguments (the arguments themselves stay). argv is not changed later. */
export function redactArgv(
  argv: readonly string[],
  known?: KnownSecretFinder,
): { argv: readonly string[]; redacted: boolean } {
  return redactArgvAs(argv, known, mayHoldSecret(argv));
}

/** redactArgv with every rule tried on every argument, hint or not: the reference mayHoldSecret is tested against. */
export function redactArgvInFull(
  argv: readonly string[],
  known?: KnownSecretFinder,
): { argv: readonly string[]; redacted: boolean } {
  return redactArgvAs(argv, known, true);
}

/** `hinted`: whether the pattern rules are tried (else only the known secrets are looked for). */
function redactArgvAs(
  argv: readonly string[],
  known: KnownSecretFinder | undefined,
  hinted: boolean,
): { argv: readonly string[]; redacted: boolean } {
  if (!hinted && !known) return { argv, redacted: false };
  let redacted = false;
  let perArg = hinted ? spansOfArgv.get(argv) : undefined;
  if (hinted && !perArg) {
    perArg = argvSpans(argv, 0);
    spansOfArgv.set(argv, perArg);
  }
  const out = argv.map((arg, i) => {
    const spans = spansWithKnown(arg, perArg?.[i] ?? NO_SPANS, known);
    if (spans.length === 0) return arg;
    redacted = true;
    return cut(arg, spans);
  });
  return { argv: redacted ? out : argv, redacted };
}

/**
 * A log line (or any JSON-like value) with secrets cut out of every string: arrays named
 * `argv` are read as argv, everything else as free text. `redacted` names the fields that
 * changed ("process.argv", "ancestors.argv", "request.path"), array indices left out.
 * Only what changes is copied.
 */
export function redactLine<T>(line: T, known?: KnownSecretFinder): { line: T; redacted: string[] } {
  const redacted = new Set<string>();
  // The path of a field is only spelt out when something in it is redacted (this runs per line).
  const pathOf = (parent: string, key: string) => (parent && key ? `${parent}.${key}` : parent || key);
  const walk = (value: unknown, parent: string, key: string, depth: number): unknown => {
    if (typeof value === 'string') {
      const r = redactText(value, known);
      if (r.redacted) redacted.add(pathOf(parent, key));
      return r.text;
    }
    if (typeof value !== 'object' || value === null || depth > MAX_LINE_DEPTH) return value;
    if (Array.isArray(value)) {
      if (key === 'argv' && value.every((v) => typeof v === 'string')) {
        const r = redactArgv(value as string[], known);
        if (!r.redacted) return value;
        redacted.add(pathOf(parent, key));
        return r.argv;
      }
      let copy: unknown[] | null = null;
      for (let index = 0; index < value.length; index++) {
        const item: unknown = value[index];
        // Array elements share their array's path (indices left out).
        const changed =
          typeof item === 'string' || typeof item === 'object' ? walk(item, parent, key, depth + 1) : item;
        if (changed === item) continue;
        copy ??= [...value];
        copy[index] = changed;
      }
      return copy ?? value;
    }
    const path = pathOf(parent, key);
    let copy: Record<string, unknown> | null = null;
    for (const name of Object.keys(value)) {
      const item: unknown = (value as Record<string, unknown>)[name];
      if (typeof item !== 'string' && (typeof item !== 'object' || item === null)) continue;
      const changed = walk(item, path, name, depth + 1);
      if (changed === item) continue;
      copy ??= { ...value };
      copy[name] = changed;
    }
    return copy ?? value;
  };
  return { line: walk(line, '', '', 0) as T, redacted: [...redacted] };
}
