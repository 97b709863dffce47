// `report --format html`: one offline page to hand to a change board. Inline CSS and script
// only, admitted by their hashes in a Content-Security-Policy that allows nothing else (no
// fetch, no image, no form); every string from the hosts is escaped, and the hosts' data sits
// in a JSON block the script reads as text. The verdict, reasons, fleet roll-up and programs
// are in the page itself (they print and read without the script); the hosts table is drawn
// by the script with filter, search and paging, so 10,000 hosts stay usable.
import { createHash } from 'node:crypto';
import { answeredText, canaryFacts } from '../logic/report/canary-section.js';
import { formatDuration } from '../logic/report/duration.js';
import type { Answer, CallerGroup, Report } from '../logic/report/schema.js';
import { userUnitNote } from '../logic/report/user-unit.js';
import { printable } from '../logic/text.js';
import { PAGE_SCRIPT, PAGE_STYLE } from './html-client.js';

const ANSWERS: Answer[] = ['NO', 'UNKNOWN', 'YES'];
const KIND_TITLES: Record<CallerGroup['kind'], string> = {
  imdsv1: 'IMDSv1 callers: fix these before requiring IMDSv2',
  unknown: 'Requests that could not be classified',
  not_aws_api: "Other clouds' metadata paths (not IMDS API callers)",
  imdsv2: 'IMDSv2 callers',
};
/** Columns of a program's timeline; hours are summed into them. */
const TIMELINE_COLUMNS = 120;
const TOP_PROGRAMS = 10;

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for an element or a quoted attribute: control characters made visible, markup escaped. */
export function escapeHtml(value: string | number | null | undefined): string {
  return printable(String(value ?? '')).replace(/[&<>"']/g, (c) => ENTITIES[c] as string);
}

/** JSON that cannot end its <script> block or open a comment inside it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

function badge(answer: Answer): string {
  return `<span class="badge ${answer}">${answer}</span>`;
}

function reasonsList(reasons: Report['verdict']['reasons']): string {
  if (reasons.length === 0) return '';
  const items = reasons.map((r) => `<li><code>${escapeHtml(r.code)}</code> ${escapeHtml(r.message)}</li>`);
  return `<ul class="reasons">${items.join('')}</ul>`;
}

function rollUp(report: Report): string {
  const count = (answer: Answer) => report.hosts.filter((h) => h.verdict === answer).length;
  const tiles = ANSWERS.map((a) => `<div class="tile ${a}"><b id="count-${a}">${count(a)}</b>hosts ${a}</div>`).join(
    '',
  );
  const byCode = new Map<string, number>();
  for (const h of report.hosts) for (const r of h.reasons) byCode.set(r.code, (byCode.get(r.code) ?? 0) + 1);
  const reasons = [...byCode]
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `<tr><td><code>${escapeHtml(code)}</code></td><td class="num">${n}</td></tr>`)
    .join('');
  const top = report.groups
    .filter((g) => g.kind === 'imdsv1')
    .sort((a, b) => b.hosts.length - a.hosts.length || b.count - a.count)
    .slice(0, TOP_PROGRAMS)
    .map(
      (g) =>
        `<tr><td class="mono">${escapeHtml(programName(g))}</td><td class="num">${g.hosts.length}</td><td class="num">${g.count}</td></tr>`,
    )
    .join('');
  const o = report.observation;
  return `<h2>Fleet roll-up</h2>
<div class="tiles">
<div class="tile"><b id="count-hosts">${report.hosts.length}</b>hosts</div>${tiles}
<div class="tile"><b id="imdsv1-requests">${report.verdict.imdsv1_requests}</b>IMDSv1 requests</div>
<div class="tile"><b id="imdsv1-programs">${report.verdict.imdsv1_programs}</b>IMDSv1 programs</div>
</div>
<p class="muted">Observed ${escapeHtml(o.from ?? '-')} .. ${escapeHtml(o.to ?? '-')} (${escapeHtml(formatDuration(o.seconds))}), ${o.boots} boot(s);
input ${report.input.files} file(s), ${report.input.lines} line(s), ${report.input.corrupt_lines} corrupt, ${report.input.unreadable_files} not read to the end.
A YES needs ${escapeHtml(formatDuration(o.min_observed_seconds))} observed${o.boot_from_start_required ? ' and a boot seen from its start' : ''}.</p>
${reasons ? `<table><tr><th>missing evidence or callers</th><th class="num">hosts</th></tr>${reasons}</table>` : ''}
${top ? `<h3>IMDSv1 programs on the most hosts</h3><table><tr><th>program</th><th class="num">hosts</th><th class="num">requests</th></tr>${top}</table>` : ''}`;
}

function programName(g: CallerGroup): string {
  return g.script && !g.command.includes(g.script) ? `${g.script} → ${g.command}` : g.command;
}

/** Requests per time column over the observed window, as bars. */
function timeline(g: CallerGroup, report: Report): string {
  const from = Date.parse(report.observation.from ?? '');
  const to = Date.parse(report.observation.to ?? '');
  if (g.timeline.length === 0 || !Number.isFinite(from) || !Number.isFinite(to)) return '';
  const span = Math.max(to - from, 3600_000);
  const columns = new Array<number>(TIMELINE_COLUMNS).fill(0);
  for (const { hour, count } of g.timeline) {
    const at = Math.min(
      TIMELINE_COLUMNS - 1,
      Math.max(0, Math.floor(((Date.parse(hour) - from) / span) * TIMELINE_COLUMNS)),
    );
    columns[at] = (columns[at] ?? 0) + count;
  }
  const peak = Math.max(...columns);
  const bars = columns
    .map((n, i) => {
      if (n === 0) return '';
      const h = Math.max(2, (n / peak) * 36);
      return `<rect class="bar" x="${i * 10 + 1}" y="${(38 - h).toFixed(1)}" width="8" height="${h.toFixed(1)}"><title>${n}</title></rect>`;
    })
    .join('');
  const peakHour = Math.max(...g.timeline.map((t) => t.count));
  return `<svg class="timeline" viewBox="0 0 ${TIMELINE_COLUMNS * 10} 40" preserveAspectRatio="none" role="img" aria-label="requests over time"><line class="axis" x1="0" y1="39" x2="${TIMELINE_COLUMNS * 10}" y2="39"/>${bars}</svg>
<div class="muted">${escapeHtml(report.observation.from ?? '')} .. ${escapeHtml(report.observation.to ?? '')}; busiest hour ${peakHour} request(s)</div>`;
}

function program(g: CallerGroup, report: Report): string {
  const r = g.responses;
  const sdk = g.sdk
    ? `${g.sdk.name} ${g.sdk.version ?? ''}${g.sdk.supports_imdsv2 === false && g.sdk.min_imdsv2_version ? ` (IMDSv2 from ${g.sdk.min_imdsv2_version})` : ''}`
    : '-';
  const chain = g.example.ancestors.map((a) => `${a.comm}(${a.pid})`).join(' < ');
  const paths = g.paths.map((p) => `<li><code>${escapeHtml(p)}</code></li>`).join('');
  const unlisted = g.paths_unlisted > 0 ? `<li class="muted">${g.paths_unlisted} request(s) to other paths</li>` : '';
  const rows: Array<[string, string]> = [
    [
      'requests',
      `<span class="count">${g.count}</span> on ${g.hosts.length} host(s), ${escapeHtml(g.first_seen)} .. ${escapeHtml(g.last_seen)}`,
    ],
    ['executable', `<code>${escapeHtml(g.exe ?? '-')}</code>`],
    ...(g.script ? [['script', `<code>${escapeHtml(g.script)}</code>`] as [string, string]] : []),
    ['where', escapeHtml([g.unit ?? g.container ?? '-', userUnitNote(g.unit)].filter(Boolean).join(': '))],
    ['SDK', escapeHtml(sdk)],
    [
      'responses',
      `${r.ok} ok, ${r.rejected} rejected, ${r.other} other, ${r.none} no answer${g.canary_refused ? `; ${g.canary_refused} refused by a canary` : ''}${g.fallbacks ? `; ${g.fallbacks} fallback(s) to IMDSv1` : ''}`,
    ],
    [
      'example',
      `<code>${escapeHtml(g.example.argv.join(' '))}</code>${chain ? `<div class="muted">started by ${escapeHtml(chain)}</div>` : ''}`,
    ],
    [
      'hosts',
      `<code>${escapeHtml(g.hosts.slice(0, 20).join(' '))}</code>${g.hosts.length > 20 ? ` … ${g.hosts.length - 20} more` : ''}`,
    ],
    [
      'paths',
      `<details${g.paths.length <= 5 ? ' open' : ''}><summary>${g.paths.length} path(s)</summary><ul>${paths}${unlisted}</ul></details>`,
    ],
  ];
  return `<div class="program ${g.kind}">
<h3 class="mono">${escapeHtml(programName(g))}</h3>
${timeline(g, report)}
<dl>${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>
${g.advice ? `<div class="advice"><b>Advice:</b> ${escapeHtml(g.advice)}</div>` : ''}
</div>`;
}

function programs(report: Report): string {
  return (['imdsv1', 'unknown', 'not_aws_api', 'imdsv2'] as const)
    .map((kind) => {
      const groups = report.groups.filter((g) => g.kind === kind);
      if (groups.length === 0) return '';
      return `<h2>${escapeHtml(KIND_TITLES[kind])} (${groups.length})</h2>\n${groups.map((g) => program(g, report)).join('\n')}`;
    })
    .join('\n');
}

/** Each canary: its facts, its refused programs and its advice (docs/canary.md). */
function canaries(report: Report): string {
  if (report.canaries.length === 0) return '';
  const blocks = report.canaries.map((c) => {
    const facts = canaryFacts(c).map(([label, text]) => `<dt>${escapeHtml(label)}</dt><dd>${escapeHtml(text)}</dd>`);
    const programs = c.programs
      .map(
        (p) =>
          `<tr><td class="mono">${escapeHtml(p.command)}</td><td class="num">${p.count}</td><td>${escapeHtml(answeredText(p.answered))}</td></tr>`,
      )
      .join('');
    const escaped = c.escaped_programs
      .map((p) => `<tr><td class="mono">${escapeHtml(p.command)}</td><td class="num">${p.count}</td></tr>`)
      .join('');
    const advice = c.advice.map((a) => `<div class="advice"><b>Advice:</b> ${escapeHtml(a)}</div>`).join('');
    return `<div class="program canary">
<h3 class="mono">${escapeHtml(c.target)} on ${escapeHtml(c.host)}: ${escapeHtml(c.outcome)}</h3>
<dl>${facts.join('')}</dl>
${programs ? `<table><tr><th>refused program</th><th class="num">requests</th><th>IMDS answered</th></tr>${programs}</table>` : ''}
${escaped ? `<table><tr><th>escaped program (not refused)</th><th class="num">requests</th></tr>${escaped}</table>` : ''}
${advice}
</div>`;
  });
  return `<h2>Canaries (${report.canaries.length})</h2>
<p class="muted">Requests a canary made IMDS refuse, as HttpTokens=required would; they are counted with the IMDSv1 callers.</p>
${blocks.join('\n')}`;
}

function hostsSection(): string {
  const buttons = ['ALL', ...ANSWERS]
    .map(
      (a) =>
        `<button type="button" data-verdict="${a}" aria-pressed="${a === 'ALL'}">${a === 'ALL' ? 'all' : a}</button>`,
    )
    .join('');
  return `<h2>Hosts</h2>
<div class="controls"><input type="search" id="host-search" placeholder="search host, instance id, program, reason" aria-label="search hosts">${buttons}
<select id="page-size" aria-label="hosts per page"><option>25</option><option selected>50</option><option>200</option><option>1000</option></select></div>
<div class="pager"><button type="button" id="page-prev">previous</button><span id="host-status"></span><button type="button" id="page-next">next</button></div>
<table class="hosts"><thead><tr><th>verdict</th><th>host</th><th class="num">IMDSv1</th><th>IMDSv1 programs</th><th class="hide-narrow">missing</th><th class="num hide-narrow">boots</th><th></th></tr></thead>
<tbody id="host-rows"></tbody></table>
<noscript><p>The hosts table needs JavaScript; <code>--format json</code> or <code>--hosts-csv</code> list them too.</p></noscript>`;
}

export function renderHtml(report: Report, generatedAt: Date = new Date()): string {
  const v = report.verdict;
  const csp = [
    "default-src 'none'",
    `style-src ${sha256(PAGE_STYLE)}`,
    `script-src ${sha256(PAGE_SCRIPT)}`,
    "img-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const warnings = report.warnings.map((w) => `<li class="warn">${escapeHtml(w)}</li>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>imds-analyzer report: ${v.answer}</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<main>
<h1>Is HttpTokens=required safe? ${badge(v.answer)}</h1>
<div class="muted">imds-analyzer report, generated ${escapeHtml(generatedAt.toISOString())}</div>
<section class="verdict ${v.answer}">
<p id="verdict-text">${escapeHtml(v.text)}</p>
${reasonsList(v.reasons)}
${warnings ? `<ul class="reasons">${warnings}</ul>` : ''}
</section>
${rollUp(report)}
${hostsSection()}
${programs(report)}
${canaries(report)}
</main>
<script type="application/json" id="report-data">${scriptJson({ hosts: report.hosts })}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
