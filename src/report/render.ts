// Report output: a terminal table that fits 100 columns (colour only on a TTY), JSON,
// CSV and Markdown.
import type { CallerGroup, Report } from '../logic/report/schema.js';
import { printable } from '../logic/text.js';

const WIDTH = 100;

function cut(text: string, width: number): string {
  const clean = printable(text);
  return clean.length <= width ? clean : `${clean.slice(0, width - 1)}…`;
}

function where(g: CallerGroup): string {
  return g.unit ?? g.container ?? '-';
}

function responses(g: CallerGroup): string {
  const r = g.responses;
  return `${r.accepted} ok, ${r.rejected} rejected${r.none ? `, ${r.none} no answer` : ''}`;
}

/** Wraps at spaces to WIDTH columns; continuation lines are indented, a longer word is cut. */
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
  }
  return [...lines, line].map((l) => cut(l, WIDTH));
}

function observedLine({ observation: o }: Report): string {
  return `Observed ${o.from ?? '-'} .. ${o.to ?? '-'} on ${o.hosts.length} host(s), ${o.boots} boot(s)`;
}

export function renderTable(report: Report, colour: boolean): string {
  const paint = (code: number, text: string) => (colour ? `\u001b[${code}m${text}\u001b[0m` : text);
  // The verdict is never cut: it is the answer.
  const out: string[] = wrap(report.verdict.text).map((l) => paint(report.verdict.safe ? 32 : 31, l));
  out.push(cut(observedLine(report), WIDTH));
  // Warnings are wrapped, not cut: the end of one names the file it is about.
  for (const w of report.warnings) out.push(...wrap(`warning: ${w}`).map((l) => paint(33, l)));
  const labels: Record<CallerGroup['kind'], string> = {
    imdsv1: 'IMDSv1 callers (fix these before requiring IMDSv2)',
    unknown: 'Requests that could not be classified',
    not_aws_api: 'Other clouds\' metadata paths (not IMDS API callers)',
    imdsv2: 'IMDSv2 callers',
  };
  for (const kind of ['imdsv1', 'unknown', 'not_aws_api', 'imdsv2'] as const) {
    const groups = report.groups.filter((g) => g.kind === kind);
    if (groups.length === 0) continue;
    out.push('', paint(1, labels[kind]));
    groups.forEach((g, i) => {
      out.push(cut(`${i + 1}. ${g.command}`, WIDTH));
      out.push(cut(`   ${g.count} request(s) on ${g.hosts.length} host(s), ${g.first_seen} .. ${g.last_seen}`, WIDTH));
      out.push(cut(`   exe ${g.exe ?? '-'}  where ${where(g)}  sdk ${g.sdk ?? '-'}`, WIDTH));
      out.push(cut(`   responses ${responses(g)}${g.fallbacks ? `  fallbacks ${g.fallbacks}` : ''}  paths ${g.paths.join(' ')}`, WIDTH));
      const chain = g.example.ancestors.map((a) => `${a.comm}(${a.pid})`).join(' < ');
      if (chain) out.push(cut(`   started by ${chain}`, WIDTH));
      if (g.advice) out.push(...wrap(`advice: ${g.advice}`, '   '));
    });
  }
  return `${out.join('\n')}\n`;
}

function csvField(value: string | number | null): string {
  const raw = value === null ? '' : String(value);
  // A traced program chooses its own argv: a leading = + - @ would run as a spreadsheet formula.
  const text = typeof value === 'string' && /^[=+\-@\t\r]/.test(raw) ? `'${raw}` : raw;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const COLUMNS = ['kind', 'count', 'command', 'exe', 'unit', 'container', 'sdk', 'hosts', 'first_seen', 'last_seen', 'accepted', 'rejected', 'fallbacks', 'paths', 'advice'] as const;

function row(g: CallerGroup): Array<string | number | null> {
  return [g.kind, g.count, g.command, g.exe, g.unit, g.container, g.sdk, g.hosts.join(' '), g.first_seen, g.last_seen, g.responses.accepted, g.responses.rejected, g.fallbacks, g.paths.join(' '), g.advice];
}

export function renderCsv(report: Report): string {
  return [COLUMNS.join(','), ...report.groups.map((g) => row(g).map(csvField).join(','))].join('\n') + '\n';
}

export function renderMarkdown(report: Report): string {
  // Entities for < > & so that <tmp>-style placeholders (and a traced program's argv) show as text, not HTML.
  const text = (v: string | number | null) =>
    printable(String(v ?? '')).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const cell = (v: string | number | null) => text(v).replace(/\|/g, '\\|');
  const lines = [`**${text(report.verdict.text)}**`, '', text(observedLine(report)), ''];
  lines.push(...report.warnings.map((w) => `- warning: ${text(w)}`), '');
  lines.push(`| ${COLUMNS.join(' | ')} |`, `|${COLUMNS.map(() => '---').join('|')}|`);
  for (const g of report.groups) lines.push(`| ${row(g).map(cell).join(' | ')} |`);
  return `${lines.join('\n')}\n`;
}
