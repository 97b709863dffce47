// argv with the parts that change from run to run replaced, so that one program run
// many times forms one group: pids and numbers, temp paths, UUIDs, long hex ids.

const RULES: Array<[RegExp, string]> = [
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>'],
  [/\/(tmp|var\/tmp|run\/user\/\d+|dev\/shm)\/[^\s'"]*/g, '/$1/<tmp>'],
  [/\b[0-9a-f]{16,}\b/gi, '<hex>'],
  [/(?<![\w.:])\d{3,}(?![\w.:])/g, '<n>'],
];

/**
 * What every rule's match holds (8 hex digits, 3 digits, a temp directory): a text without
 * any is what the rules leave unchanged (none can match it, so none changes it for the next).
 */
const MAY_CHANGE = /[0-9a-f]{8}|\d{3}|\/(?:tmp|var\/tmp|run\/user\/\d+|dev\/shm)\//i;

/** normalizeArg by every rule, without the pre-test (the reference the pre-test is tested against). */
export function normalizeArgByRules(arg: string): string {
  let out = arg;
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement);
  return out;
}

export function normalizeArg(arg: string): string {
  return MAY_CHANGE.test(arg) ? normalizeArgByRules(arg) : arg;
}

export function normalizeArgv(argv: readonly string[]): string {
  return argv.map(normalizeArg).join(' ');
}

/** scheme://authority, then the rest (the path the program asked for). */
const URL_WITH_PATH = /^([a-z][a-z0-9+.-]*:\/\/[^/\s]*)\/[^\s]+$/i;
const ABSOLUTE_PATH = /^\/[^\s]*\/[^\s]*$/;
const NUMBER = /^[+-]?\d+(?:\.\d+)?$/;

/**
 * One argument's shape: a URL keeps its scheme and host (which service is asked), a file path
 * and a number become placeholders; an `--option=value` keeps the option.
 */
export function argShape(arg: string): string {
  const eq = arg.indexOf('=');
  if (arg.startsWith('-') && eq > 0) return `${arg.slice(0, eq + 1)}${argShape(arg.slice(eq + 1))}`;
  const url = URL_WITH_PATH.exec(arg);
  if (url) return `${url[1]}/<path>`;
  if (NUMBER.test(arg)) return '<n>';
  const normal = normalizeArg(arg);
  // A temp file says more as /var/tmp/<tmp> than as <path>.
  return ABSOLUTE_PATH.test(arg) && !normal.includes('<tmp>') ? '<path>' : normal;
}

/**
 * argv as a program's shape: the executable and the script keep their names (they are what
 * the operator fixes), every other argument is reduced by argShape.
 */
export function argvShape(argv: readonly string[], scriptIndex: number | null): string {
  return argv.map((arg, i) => (i === 0 || i === scriptIndex ? normalizeArg(arg) : argShape(arg))).join(' ');
}
