// The console mode's one readable line per request, and the short human `msg` of the JSON
// line. Pure functions over the request line of the log contract (src/model/log-line.ts);
// every string is escaped and bounded, since argv and paths come from any process.
import type { RequestLine } from '../model/log-line.js';
import { visible } from './visible.js';

const MAX_LINE = 1200;
const MAX_PATH = 160;
const MAX_ARG = 100;
const MAX_ARGS = 6;
const MAX_NAME = 64;

/** "IMDSv1", "IMDSv2", "IMDS (version unknown)"; other clouds' metadata paths read "non-AWS". */
function versionLabel(line: RequestLine): string {
  if (!line.aws_api) return 'non-AWS';
  return line.imds_version === 'v1' ? 'IMDSv1' : line.imds_version === 'v2' ? 'IMDSv2' : 'IMDS (version unknown)';
}

/** An IMDSv1 call to the AWS API: the line to warn about. A GCP/Azure-style probe is not one. */
export function isImdsV1Call(line: RequestLine): boolean {
  return line.imds_version === 'v1' && line.aws_api;
}

/** The JSON line's msg, e.g. `IMDSv1 GET /latest/meta-data/ by curl (pid 123)`. */
export function requestMessage(line: RequestLine): string {
  const { method, path } = line.request;
  const { comm, pid } = line.process;
  const who = comm === null ? 'unknown process' : visible(comm, MAX_NAME);
  return `${versionLabel(line)} ${visible(method, 16)} ${visible(path, MAX_PATH)} by ${who}${pid === null ? '' : ` (pid ${pid})`}`;
}

function clock(time: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(time.getHours())}:${two(time.getMinutes())}:${two(time.getSeconds())}`;
}

/** Each argument cut on its own, so that a long script after `-c` does not hide the ones after it. */
function argvText(argv: readonly string[]): string {
  const shown = argv.slice(0, MAX_ARGS).map((arg) => visible(arg, MAX_ARG));
  const more = argv.length > MAX_ARGS ? ` …(+${argv.length - MAX_ARGS} more)` : '';
  return shown.join(' ') + more;
}

/**
 * `15:04:05 WARN IMDSv1 GET /latest/meta-data/ pid=123 comm=curl argv="curl -s …" unit=x.service`
 * Every field is escaped (no raw control character reaches the terminal) and bounded.
 */
export function formatConsoleLine(line: RequestLine, time: Date): string {
  const parts = [
    clock(time),
    isImdsV1Call(line) ? 'WARN' : 'INFO',
    versionLabel(line),
    visible(line.request.method, 16),
    visible(line.request.path, MAX_PATH),
  ];
  const { pid, comm, argv } = line.process;
  if (pid !== null) parts.push(`pid=${pid}`);
  if (comm !== null) parts.push(`comm=${visible(comm, MAX_NAME)}`);
  if (argv.length > 0) parts.push(`argv="${argvText(argv)}"`);
  if (line.unit !== null) parts.push(`unit=${visible(line.unit, MAX_NAME)}`);
  // Container ids are shown short, as `docker ps` does.
  if (line.container) parts.push(`container=${line.container.runtime}:${visible(line.container.id.slice(0, 12), MAX_NAME)}`);
  if (line.sdk) parts.push(`sdk=${visible(line.sdk.name, MAX_NAME)}/${line.sdk.version === null ? '?' : visible(line.sdk.version, 32)}`);
  if (line.response) parts.push(`status=${line.response.status}`);
  const joined = parts.join(' ');
  return joined.length <= MAX_LINE ? joined : `${joined.slice(0, MAX_LINE - 1)}…`;
}
