// The HTML report's stylesheet and script, inlined into the page (the page fetches nothing).
// The script is plain browser JavaScript kept as text: it reads the hosts from the page's
// JSON data block and draws them with filter, search and paging; everything it shows is
// set as text (textContent, attributes), never parsed as HTML.

export const PAGE_STYLE = `
:root { --no: #b3261e; --unknown: #8a5a00; --yes: #1b6e20; --line: #d9d9de; --muted: #5f6368; --bg-soft: #f6f7f9; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0; color: #1f1f24; overflow-wrap: anywhere; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 20px 40px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; overflow-wrap: anywhere; }
.muted { color: var(--muted); }
.lines { white-space: pre-line; }
.hostid { overflow-wrap: normal; }
.verdict { border-left: 6px solid var(--line); padding: 10px 14px; background: var(--bg-soft); margin: 12px 0; }
.verdict.NO { border-color: var(--no); } .verdict.UNKNOWN { border-color: var(--unknown); } .verdict.YES { border-color: var(--yes); }
.verdict p { margin: 0; font-size: 16px; font-weight: 600; }
.badge { display: inline-block; min-width: 72px; text-align: center; border-radius: 4px; padding: 1px 6px; font-weight: 700; font-size: 12px; color: #fff; }
.badge.NO { background: var(--no); } .badge.UNKNOWN { background: var(--unknown); } .badge.YES { background: var(--yes); }
ul.reasons { margin: 6px 0 0; padding-left: 20px; }
ul.reasons li { margin: 3px 0; }
.warn { color: var(--unknown); }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.tile b { display: block; font-size: 22px; }
.tile.NO b { color: var(--no); } .tile.UNKNOWN b { color: var(--unknown); } .tile.YES b { color: var(--yes); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line); }
th { background: var(--bg-soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.controls { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 8px 0; }
.controls input[type=search] { flex: 1 1 220px; padding: 5px 8px; border: 1px solid var(--line); border-radius: 4px; font: inherit; }
.controls button, .pager button, .controls select { font: inherit; padding: 4px 10px; border: 1px solid var(--line); border-radius: 4px; background: #fff; cursor: pointer; }
.controls button[aria-pressed=true] { background: #1f1f24; color: #fff; }
.pager { display: flex; gap: 8px; align-items: center; margin: 8px 0; }
details summary { cursor: pointer; }
.program { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; margin: 10px 0; break-inside: avoid; }
.program h3 { font-size: 14px; margin: 0 0 4px; }
.program dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 6px 0; }
.program dt { color: var(--muted); } .program dd { margin: 0; min-width: 0; }
.advice { background: #fff8e1; border-radius: 4px; padding: 6px 8px; margin-top: 6px; }
svg.timeline, svg.coverage { display: block; width: 100%; height: 40px; background: var(--bg-soft); }
svg.coverage { height: 16px; }
svg .bar { fill: var(--no); } svg .cov { fill: var(--yes); } svg .cov.late { fill: var(--unknown); } svg .axis { stroke: var(--line); }
.hostdetail td { background: #fbfbfc; }
.scroll { overflow-x: auto; }
.scroll td, .scroll th { white-space: nowrap; overflow-wrap: normal; }
@media (max-width: 700px) {
  main { padding: 10px; }
  .hide-narrow { display: none; }
  table.hosts, table.hosts tbody { display: block; }
  table.hosts thead { display: none; }
  table.hosts tr.host { display: grid; grid-template-columns: auto 1fr auto; gap: 2px 8px; border-bottom: 1px solid var(--line); padding: 6px 0; }
  table.hosts tr.host td { border: none; padding: 0 4px; }
  table.hosts tr.host td.lines { grid-column: 1 / -1; }
  table.hosts > tbody > tr.hostdetail, table.hosts > tbody > tr.hostdetail > td { display: block; }
  .program dl { grid-template-columns: 1fr; }
}
@media print {
  .controls, .pager, .noprint { display: none !important; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  tr, .program { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
  .badge { color: #000 !important; border: 1px solid #000; background: none !important; }
}
`;

export const PAGE_SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var hosts = data.hosts;
  var state = { verdict: 'ALL', query: '', page: 0, size: 50, printing: false };
  var rows = document.getElementById('host-rows');
  var status = document.getElementById('host-status');
  var search = document.getElementById('host-search');

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (var k in attrs) node.setAttribute(k, String(attrs[k]));
    return node;
  }
  function duration(seconds) {
    var d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60);
    if (d > 0) return d + 'd ' + h + 'h';
    if (h > 0) return h + 'h ' + m + 'm';
    return m > 0 ? m + 'm' : Math.round(seconds) + 's';
  }
  function minute(iso) { return iso.slice(0, 16).replace('T', ' ') + 'Z'; }
  function haystack(h) {
    return [h.host, h.instance_id || '', h.hostname || '', h.verdict, h.imdsv1_programs.join(' '),
      h.reasons.map(function (r) { return r.code; }).join(' ')].join(' ').toLowerCase();
  }
  var texts = hosts.map(haystack);

  function matching() {
    var q = state.query.trim().toLowerCase();
    var out = [];
    for (var i = 0; i < hosts.length; i++) {
      if (state.verdict !== 'ALL' && hosts[i].verdict !== state.verdict) continue;
      if (q && texts[i].indexOf(q) < 0) continue;
      out.push(hosts[i]);
    }
    return out;
  }

  function coverageBar(h) {
    var from = Date.parse(h.first_seen), to = Date.parse(h.last_seen), span = Math.max(to - from, 1);
    var bar = svg('svg', { 'class': 'coverage', viewBox: '0 0 1000 16', preserveAspectRatio: 'none', role: 'img' });
    bar.setAttribute('aria-label', 'coverage per boot');
    h.coverage.forEach(function (c) {
      var x = (Date.parse(c.from) - from) / span * 1000, w = Math.max((Date.parse(c.to) - Date.parse(c.from)) / span * 1000, 2);
      bar.appendChild(svg('rect', { 'class': c.from_start ? 'cov' : 'cov late', x: x, y: 2, width: w, height: 12 }));
    });
    return bar;
  }

  function detail(h) {
    var tr = el('tr', 'hostdetail');
    var td = el('td');
    td.colSpan = 7;
    if (h.reasons.length) {
      td.appendChild(el('b', null, 'Reasons and what to do'));
      var ul = el('ul', 'reasons');
      h.reasons.forEach(function (r) {
        var li = el('li');
        li.appendChild(el('code', null, r.code));
        li.appendChild(document.createTextNode(' ' + r.message));
        ul.appendChild(li);
      });
      td.appendChild(ul);
    }
    td.appendChild(el('b', null, 'Coverage per boot'));
    td.appendChild(coverageBar(h));
    var t = el('table');
    var head = el('tr');
    ['boot', 'from', 'to', 'observed', 'from its start', 'daemon runs', 'uncovered gaps'].forEach(function (x) { head.appendChild(el('th', null, x)); });
    t.appendChild(head);
    h.coverage.forEach(function (c) {
      var row = el('tr');
      [c.boot_id, minute(c.from), minute(c.to), duration(c.seconds), c.from_start ? 'yes' : 'no', c.runs, c.uncovered_gaps].forEach(function (x, i) {
        row.appendChild(el('td', i === 0 || i === 1 || i === 2 ? 'mono' : null, x));
      });
      t.appendChild(row);
    });
    var scroll = el('div', 'scroll');
    scroll.appendChild(t);
    td.appendChild(scroll);
    tr.appendChild(td);
    return tr;
  }

  function hostRow(h) {
    var tr = el('tr', 'host');
    tr.dataset.host = h.host;
    var v = el('td');
    v.appendChild(el('span', 'badge ' + h.verdict, h.verdict));
    tr.appendChild(v);
    var name = el('td');
    name.appendChild(el('div', 'mono hostid', h.host));
    if (h.hostname && h.hostname !== h.host) name.appendChild(el('div', 'muted', h.hostname));
    tr.appendChild(name);
    tr.appendChild(el('td', 'num', h.imdsv1_requests));
    tr.appendChild(el('td', 'mono lines', h.imdsv1_programs.join('\\n') || '-'));
    tr.appendChild(el('td', 'mono hide-narrow', h.reasons.map(function (r) { return r.code; }).join(' ') || '-'));
    tr.appendChild(el('td', 'num hide-narrow', h.boots));
    var more = el('td');
    var button = el('button', 'noprint', 'details');
    button.type = 'button';
    button.setAttribute('aria-expanded', 'false');
    more.appendChild(button);
    tr.appendChild(more);
    button.addEventListener('click', function () {
      var open = button.getAttribute('aria-expanded') === 'true';
      if (open) tr.parentNode.removeChild(tr.nextSibling);
      else tr.parentNode.insertBefore(detail(h), tr.nextSibling);
      button.setAttribute('aria-expanded', open ? 'false' : 'true');
    });
    return tr;
  }

  function draw() {
    var list = matching();
    var pages = Math.max(1, Math.ceil(list.length / state.size));
    if (state.page >= pages) state.page = pages - 1;
    var start = state.printing ? 0 : state.page * state.size;
    var shown = state.printing ? list : list.slice(start, start + state.size);
    rows.textContent = '';
    var frag = document.createDocumentFragment();
    shown.forEach(function (h) {
      frag.appendChild(hostRow(h));
      if (state.printing && h.verdict !== 'YES') frag.appendChild(detail(h));
    });
    rows.appendChild(frag);
    status.textContent = list.length === 0 ? 'no host matches'
      : 'hosts ' + (start + 1) + '\\u2013' + (start + shown.length) + ' of ' + list.length +
        (list.length !== hosts.length ? ' (of ' + hosts.length + ')' : '');
    document.getElementById('page-prev').disabled = state.page === 0;
    document.getElementById('page-next').disabled = state.page >= pages - 1;
  }

  document.querySelectorAll('button[data-verdict]').forEach(function (b) {
    b.addEventListener('click', function () {
      state.verdict = b.dataset.verdict;
      state.page = 0;
      document.querySelectorAll('button[data-verdict]').forEach(function (o) { o.setAttribute('aria-pressed', String(o === b)); });
      draw();
    });
  });
  search.addEventListener('input', function () { state.query = search.value; state.page = 0; draw(); });
  document.getElementById('page-size').addEventListener('change', function (e) { state.size = Number(e.target.value); state.page = 0; draw(); });
  document.getElementById('page-prev').addEventListener('click', function () { state.page--; draw(); });
  document.getElementById('page-next').addEventListener('click', function () { state.page++; draw(); });
  // Printed: every host that matches, with the details of those not YES.
  window.addEventListener('beforeprint', function () { state.printing = true; draw(); });
  window.addEventListener('afterprint', function () { state.printing = false; draw(); });
  document.documentElement.classList.add('js');
  draw();
})();
`;
