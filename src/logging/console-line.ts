// The console mode's one readable line per request, and the short human `msg` of the JSON
// line. Pure functions over the request line as built by src/logic/request-line.ts; any
// field may be missing or of the wrong type (a safe line, never a throw).
import { visible } from './visible.js';

const MAX_LINE = 1200;
const MAX_PATH = 160;
const MAX_ARG = 100;
const MAX_ARGS = 6;
const MAX_NAME = 64;

function at(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function text(value: unknown, max: number): string | null {
  if (typeof value === 'string') return visible(value, max);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return null;
}

/** "IMDSv1", "IMDSv2", "IMDS (version unknown)"; other clouds' metadata paths read "non-AWS". */
function versionLabel(line: unknown): string {
  if (at(line, 'aws_api') === false) return 'non-AWS';
  const version = at(line, 'imds_version');
  return version === 'v1' ? 'IMDSv1' : version === 'v2' ? 'IMDSv2' : 'IMDS (version unknown)';
}

/** An IMDSv1 call to the AWS API: the line to warn about. A GCP/Azure-style probe is not one. */
export function isImdsV1Call(line: unknown): boolean {
  return at(line, 'imds_version') === 'v1' && at(line, 'aws_api') !== false;
}

/** The JSON line's msg, e.g. `IMDSv1 GET /latest/meta-data/ by curl (pid 123)`. */
export function requestMessage(line: unknown): string {
  const method = text(at(line, 'request', 'method'), 16) ?? '?';
  const path = text(at(line, 'request', 'path'), MAX_PATH) ?? '?';
  const comm = text(at(line, 'process', 'comm'), MAX_NAME) ?? 'unknown process';
  const pid = text(at(line, 'process', 'pid'), 16);
  return `${versionLabel(line)} ${method} ${path} by ${comm}${pid === null ? '' : ` (pid ${pid})`}`;
}

function clock(time: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(time.getHours())}:${two(time.getMinutes())}:${two(time.getSeconds())}`;
}

/** Each argument cut on its own, so that a long script after `-c` does not hide the ones after it. */
function argvText(argv: unknown): string | null {
  if (!Array.isArray(argv)) return null;
  const shown = argv.slice(0, MAX_ARGS).map((arg) => visible(typeof arg === 'string' ? arg : String(arg), MAX_ARG));
  const more = argv.length > MAX_ARGS ? ` …(+${argv.length - MAX_ARGS} more)` : '';
  return shown.join(' ') + more;
}

/**
 * `15:04:05 WARN IMDSv1 GET /latest/meta-data/ pid=123 comm=curl argv="curl -s …" unit=x.service`
 * Every field is escaped (no raw control character reaches the terminal) and bounded.
 */
export function formatConsoleLine(line: unknown, time: Date): string {
  const parts = [
    clock(time),
    isImdsV1Call(line) ? 'WARN' : 'INFO',
    versionLabel(line),
    text(at(line, 'request', 'method'), 16) ?? '?',
    text(at(line, 'request', 'path'), MAX_PATH) ?? '?',
  ];
  const pid = text(at(line, 'process', 'pid'), 16);
  if (pid !== null) parts.push(`pid=${pid}`);
  const comm = text(at(line, 'process', 'comm'), MAX_NAME);
  if (comm !== null) parts.push(`comm=${comm}`);
  const argv = argvText(at(line, 'process', 'argv'));
  if (argv !== null) parts.push(`argv="${argv}"`);
  const unit = text(at(line, 'unit'), MAX_NAME);
  if (unit !== null) parts.push(`unit=${unit}`);
  const runtime = text(at(line, 'container', 'runtime'), MAX_NAME);
  if (runtime !== null) {
    // Container ids are shown short, as `docker ps` does.
    const id = at(line, 'container', 'id');
    parts.push(`container=${runtime}:${typeof id === 'string' ? visible(id.slice(0, 12), MAX_NAME) : '?'}`);
  }
  const sdk = text(at(line, 'sdk', 'name'), MAX_NAME);
  if (sdk !== null) parts.push(`sdk=${sdk}/${text(at(line, 'sdk', 'version'), 32) ?? '?'}`);
  const status = text(at(line, 'response', 'status'), 8);
  if (status !== null) parts.push(`status=${status}`);
  const joined = parts.join(' ');
  return joined.length <= MAX_LINE ? joined : `${joined.slice(0, MAX_LINE - 1)}…`;
}
