// The console mode's one readable line per request. Every field that a process or a
// packet controls goes through printable(): no raw control character or ANSI escape
// ever reaches the terminal.
import { printable } from '../logic/text.js';

const MAX_LINE = 400;

interface ConsoleFields {
  imds_version?: unknown;
  aws_api?: unknown;
  request?: { method?: unknown; path?: unknown };
  process?: { pid?: unknown; comm?: unknown; argv?: unknown };
  unit?: unknown;
  container?: { runtime?: unknown; id?: unknown } | null;
  response?: { status?: unknown } | null;
}

const text = (v: unknown) => printable(String(v ?? '-'));

export function consoleLine(line: ConsoleFields, at: Date): string {
  const nonAws = line.aws_api === false;
  const version = nonAws ? 'non-AWS' : line.imds_version === 'v1' ? 'IMDSv1' : line.imds_version === 'v2' ? 'IMDSv2' : 'unknown';
  const level = line.imds_version === 'v1' && !nonAws ? 'WARN' : 'INFO';
  const argv = Array.isArray(line.process?.argv) ? line.process.argv.map((a) => text(a)).join(' ') : '-';
  const where = line.unit ? ` unit=${text(line.unit)}` : line.container ? ` container=${text(line.container.runtime)}:${text(line.container.id).slice(0, 12)}` : '';
  const status = line.response ? ` status=${text(line.response.status)}` : '';
  const out = `${at.toISOString().slice(11, 19)} ${level} ${version} ${text(line.request?.method)} ${text(line.request?.path)}${status} pid=${text(line.process?.pid)} comm=${text(line.process?.comm)} argv="${argv}"${where}`;
  return out.length > MAX_LINE ? `${out.slice(0, MAX_LINE - 1)}…` : out;
}
