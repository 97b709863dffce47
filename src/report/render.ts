// Report output: a terminal table that fits 100 columns (colour only on a TTY), JSON,
// CSV (callers, and hosts for a ticket system) and Markdown.
import { answeredText, canaryFacts } from '../logic/report/canary-section.js';
import { formatDuration } from '../logic/report/duration.js';
import { userUnitNote } from '../logic/report/user-unit.js';
import type { Answer, CallerGroup, HostVerdict, Report } from '../logic/report/schema.js';
import { printable } from '../logic/text.js';

const WIDTH = 100;
/** The table lists a program's first paths; JSON, CSV and HTML list them all. */
const TABLE_PATHS = 10;

function cut(text: string, width: number): string {
  const clean = printable(text);
  return clean.length <= width ? clean : `${clean.slice(0, width - 1)}…`;
}

function where(g: CallerGroup): string {
  return g.unit ?? g.container ?? '-';
}

function responses(g: CallerGroup): string {
  const r = g.responses;
  const byCanary = g.canary_refused ? `; ${g.canary_refused} refused by a canary` : '';
  return `${r.ok} ok, ${r.rejected} rejected${r.other ? `, ${r.other} other` : ''}${r.none ? `, ${r.none} no answer` : ''}${byCanary}`;
}

function pathCount(g: CallerGroup): string {
  return g.paths_unlisted > 0
    ? `${g.paths.length} listed, ${g.paths_unlisted} requests to others`
    : `${g.paths.length}`;
}

function sdkText(g: CallerGroup): string | null {
  if (!g.sdk) return null;
  const name = `${g.sdk.name} ${g.sdk.version ?? ''}`.trim();
  return g.sdk.supports_imdsv2 === false && g.sdk.min_imdsv2_version
    ? `${name} (IMDSv2 from ${g.sdk.min_imdsv2_version})`
    : name;
}

/** Reasons the verdict sentence does not already say: the missing evidence and what to do. */
function evidenceReasons(report: Report): string[] {
  return report.verdict.reasons.filter((r) => r.code !== 'imdsv1_callers').map((r) => r.message);
}

/** What a host's line in the hosts section says after its verdict. */
function hostDetail(h: HostVerdict): string {
  if (h.verdict === 'NO') return `${h.imdsv1_requests} IMDSv1 request(s) by ${h.imdsv1_programs.join(', ')}`;
  if (h.verdict === 'UNKNOWN') return `missing: ${h.reasons.map((r) => r.code).join(', ')}`;
  return `${formatDuration(h.seconds)} observed, ${h.boots} boot(s)`;
}

function hostName(h: HostVerdict): string {
  return h.hostname && h.hostname !== h.host ? `${h.host} (${h.hostname})` : h.host;
}

/**
 * Wraps at spaces to WIDTH columns; continuation lines are indented. A longer word (a file in a
 * deep directory) is broken across lines, not cut: all of it stays readable.
 */
function wrap(text: string, indent = ''): string[] {
  const lines: string[] = [];
  let line = indent;
  for (const word of printable(text).split(' ')) {
    if (line.trim() && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = `${indent}  ${word}`;
    } else {
      line = line.trim() ? `${line} ${word}` : `${line}${word}`;
    }
    while (line.length > WIDTH) {
      lines.push(line.slice(0, WIDTH));
      line = `${indent}  ${line.slice(WIDTH)}`;
    }
  }
  return [...lines, line];
}

function observedLine({ observation: o }: Report): string {
  return `Observed ${o.from ?? '-'} .. ${o.to ?? '-'} on ${o.hosts.length} host(s), ${o.boots} boot(s)`;
}

export function renderTable(report: Report, colour: boolean): string {
  const paint = (code: number, text: string) => (colour ? `\u001b[${code}m${text}\u001b[0m` : text);
  // The verdict is never cut: it is the answer.
  const colours: Record<Answer, number> = { YES: 32, NO: 31, UNKNOWN: 33 };
  const out: string[] = wrap(report.verdict.text).map((l) => paint(colours[report.verdict.answer], l));
  for (const reason of evidenceReasons(report)) out.push(...wrap(`- ${reason}`));
  out.push(cut(observedLine(report), WIDTH));
  // Warnings are wrapped, not cut: the end of one names the file it is about.
  for (const w of report.warnings) out.push(...wrap(`warning: ${w}`).map((l) => paint(33, l)));
  if (report.hosts.length > 1) {
    out.push('', paint(1, 'Hosts (NO, then UNKNOWN, then YES)'));
    for (const h of report.hosts)
      out.push(
        `${paint(colours[h.verdict], h.verdict.padEnd(7))} ${cut(`${hostName(h)}  ${hostDetail(h)}`, WIDTH - 8)}`,
      );
  }
  const labels: Record<CallerGroup['kind'], string> = {
    imdsv1: 'IMDSv1 callers (fix these before requiring IMDSv2)',
    unknown: 'Requests that could not be classified',
    not_aws_api: "Other clouds' metadata paths (not IMDS API callers)",
    imdsv2: 'IMDSv2 callers',
  };
  for (const kind of ['imdsv1', 'unknown', 'not_aws_api', 'imdsv2'] as const) {
    const groups = report.groups.filter((g) => g.kind === kind);
    if (groups.length === 0) continue;
    out.push('', paint(1, labels[kind]));
    groups.forEach((g, i) => {
      out.push(cut(`${i + 1}. ${g.command}`, WIDTH));
      out.push(cut(`   ${g.count} request(s) on ${g.hosts.length} host(s), ${g.first_seen} .. ${g.last_seen}`, WIDTH));
      out.push(cut(`   exe ${g.exe ?? '-'}  where ${where(g)}  sdk ${sdkText(g) ?? '-'}`, WIDTH));
      const userUnit = userUnitNote(g.unit);
      if (userUnit) out.push(...wrap(`the unit: ${userUnit}`, '   '));
      if (g.script) out.push(cut(`   script ${g.script}`, WIDTH));
      out.push(cut(`   responses ${responses(g)}${g.fallbacks ? `  fallbacks ${g.fallbacks}` : ''}`, WIDTH));
      const shown = g.paths.slice(0, TABLE_PATHS).join(' ');
      const more = g.paths.length > TABLE_PATHS ? ` … ${g.paths.length - TABLE_PATHS} more` : '';
      out.push(...wrap(`paths (${pathCount(g)}): ${shown}${more}`, '   '));
      const chain = g.example.ancestors.map((a) => `${a.comm}(${a.pid})`).join(' < ');
      if (chain) out.push(cut(`   started by ${chain}`, WIDTH));
      if (g.advice) out.push(...wrap(`advice: ${g.advice}`, '   '));
    });
  }
  if (report.canaries.length > 0) {
    out.push('', paint(1, 'Canaries (refused as HttpTokens=required would; counted with the IMDSv1 callers above)'));
    report.canaries.forEach((c, i) => {
      out.push(cut(`${i + 1}. ${c.target} on ${c.host}: ${c.outcome}`, WIDTH));
      for (const [label, text] of canaryFacts(c)) out.push(...wrap(`${label}: ${text}`, '   '));
      for (const p of c.programs)
        out.push(...wrap(`- ${p.command}: ${p.count} refused, IMDS answered ${answeredText(p.answered)}`, '   '));
      for (const p of c.escaped_programs) out.push(...wrap(`- ${p.command}: ${p.count} escaped (not refused)`, '   '));
      for (const advice of c.advice) out.push(...wrap(`advice: ${advice}`, '   '));
    });
  }
  return `${out.join('\n')}\n`;
}

function csvField(value: string | number | boolean | null): string {
  const raw = value === null ? '' : String(value);
  // A traced program chooses its own argv: a leading = + - @ would run as a spreadsheet formula.
  const text = typeof value === 'string' && /^[=+\-@\t\r]/.test(raw) ? `'${raw}` : raw;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

type Cell = string | number | boolean | null;

const COLUMNS = [
  'kind',
  'count',
  'command',
  'exe',
  'unit',
  'container',
  'sdk',
  'sdk_min_imdsv2_version',
  'sdk_supports_imdsv2',
  'hosts',
  'first_seen',
  'last_seen',
  'ok',
  'rejected',
  'fallbacks',
  'paths',
  'advice',
  'script',
] as const;

function row(g: CallerGroup): Cell[] {
  const sdk = g.sdk ? `${g.sdk.name} ${g.sdk.version ?? ''}`.trim() : null;
  return [
    g.kind,
    g.count,
    g.command,
    g.exe,
    g.unit,
    g.container,
    sdk,
    g.sdk?.min_imdsv2_version ?? null,
    g.sdk?.supports_imdsv2 ?? null,
    g.hosts.join(' '),
    g.first_seen,
    g.last_seen,
    g.responses.ok,
    g.responses.rejected,
    g.fallbacks,
    g.paths.join(' '),
    g.advice,
    g.script,
  ];
}

const HOST_COLUMNS = [
  'host',
  'instance_id',
  'hostname',
  'verdict',
  'imdsv1_programs',
  'imdsv1_requests',
  'reasons',
  'details',
  'boots',
  'first_seen',
  'last_seen',
  'observed_hours',
] as const;

function hostRow(h: HostVerdict): Cell[] {
  return [
    h.host,
    h.instance_id,
    h.hostname,
    h.verdict,
    h.imdsv1_programs.join('; '),
    h.imdsv1_requests,
    h.reasons.map((r) => r.code).join(' '),
    h.reasons.map((r) => r.message).join(' | '),
    h.boots,
    h.first_seen,
    h.last_seen,
    Math.round(h.seconds / 36) / 100,
  ];
}

function csv(columns: readonly string[], rows: Cell[][]): string {
  return `${[columns.join(','), ...rows.map((r) => r.map(csvField).join(','))].join('\n')}\n`;
}

export function renderCsv(report: Report): string {
  return csv(COLUMNS, report.groups.map(row));
}

/** One row per host (NO first): what a ticket system imports to open one ticket per host. */
export function renderHostsCsv(report: Report): string {
  return csv(HOST_COLUMNS, report.hosts.map(hostRow));
}

export function renderMarkdown(report: Report): string {
  // Entities for < > & so that <tmp>-style placeholders (and a traced program's argv) show as text, not HTML.
  const text = (v: Cell) =>
    printable(String(v ?? ''))
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;');
  const cell = (v: Cell) => text(v).replace(/\|/g, '\\|');
  const lines = [`**${text(report.verdict.text)}**`, '', text(observedLine(report)), ''];
  lines.push(...evidenceReasons(report).map((r) => `- ${text(r)}`));
  lines.push(...report.warnings.map((w) => `- warning: ${text(w)}`), '');
  if (report.hosts.length > 1) {
    lines.push('| verdict | host | details |', '|---|---|---|');
    for (const h of report.hosts) lines.push(`| ${h.verdict} | ${cell(hostName(h))} | ${cell(hostDetail(h))} |`);
    lines.push('');
  }
  lines.push(`| ${COLUMNS.join(' | ')} |`, `|${COLUMNS.map(() => '---').join('|')}|`);
  for (const g of report.groups) lines.push(`| ${row(g).map(cell).join(' | ')} |`);
  for (const c of report.canaries) {
    lines.push('', `**Canary ${text(c.target)} on ${text(c.host)}: ${c.outcome}**`, '');
    lines.push(...canaryFacts(c).map(([label, value]) => `- ${label}: ${text(value)}`));
    lines.push(
      ...c.programs.map((p) => `- refused: ${text(p.command)} ×${p.count} (${text(answeredText(p.answered))})`),
      ...c.escaped_programs.map((p) => `- escaped: ${text(p.command)} ×${p.count} (not refused)`),
    );
    lines.push(...c.advice.map((a) => `- advice: ${text(a)}`));
  }
  return `${lines.join('\n')}\n`;
}
