// `report --format html` in a real browser (Debian's chromium, headless, driven by
// puppeteer-core): opened from file://, no console error, no request but the file itself,
// the verdict text and the counts in the DOM equal the JSON report's; filter, search and
// paging over 10,000 hosts; hostile argv and host names shown as text. Screenshots at a
// desktop and a narrow width go to test-artifacts/report-html/ (docs/report.md shows one).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Report, reportSchema } from '../../src/report/index.js';
import { requestLine } from '../helpers/request-line.js';
import { CLI } from '../rig/analyzer-process.js';
import { REPO_ROOT } from '../rig/compiled.js';

const CHROMIUM = '/usr/bin/chromium';
const FIXTURES = join(import.meta.dirname, '../fixtures/report');
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts/report-html');
const T0 = Date.parse('2026-11-01T00:00:00Z');
const HOUR = 3600_000;
const FLEET_HOSTS = 10_000;
const HOSTILE = '<img src=x onerror="fetch(`http://127.0.0.1:9/`)"></script><script>alert(1)</script>';

const dir = mkdtempSync(join(tmpdir(), 'report-html-'));
let browser: Browser;

function report(format: 'json' | 'html', inputs: string[]): string {
  const run = spawnSync(process.execPath, [CLI, 'report', '--format', format, ...inputs], {
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
  });
  expect(run.stderr).toBe('');
  return run.stdout;
}

/** Writes the HTML and JSON reports over `inputs`; returns the HTML file and the JSON report. */
function both(name: string, inputs: string[]): { file: string; json: Report } {
  const file = join(dir, `${name}.html`);
  writeFileSync(file, report('html', inputs));
  return { file, json: reportSchema.parse(JSON.parse(report('json', inputs))) };
}

interface Opened {
  page: Page;
  problems: string[];
  requests: string[];
}

async function open(file: string, width: number, height: number): Promise<Opened> {
  const page = await browser.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warn') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${String(e)}`));
  page.on('requestfailed', (r) => problems.push(`failed: ${r.url()}`));
  page.on('request', (r) => requests.push(r.url()));
  await page.setViewport({ width, height });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, problems, requests };
}

const text = (page: Page, selector: string) => page.$eval(selector, (e) => e.textContent ?? '');
const count = (r: Report, verdict: string) => r.hosts.filter((h) => h.verdict === verdict).length;

/** A host of the large fleet: a ready line at boot, one request an hour for a day; every 10th host calls IMDSv1. */
function fleetLines(): string {
  const out: string[] = [];
  for (let h = 0; h < FLEET_HOSTS; h++) {
    const base = {
      level: 30,
      pid: 321,
      hostname: `ip-10-2-${h >> 8}-${h & 255}`,
      instance_id: `i-0${h.toString(16).padStart(16, '0')}`,
      boot_id: `boot-${h}`,
    };
    out.push(JSON.stringify({ ...base, time: T0, event: 'ready', uptime_ms: 6000 }));
    for (const hour of [1, 25]) {
      const v1 = h % 10 === 0;
      const line = requestLine();
      out.push(
        JSON.stringify({
          ...line,
          ...base,
          level: v1 ? 40 : 30,
          time: T0 + hour * HOUR,
          imds_version: v1 ? 'v1' : 'v2',
          request_time: new Date(T0 + hour * HOUR).toISOString(),
        }),
      );
    }
  }
  return `${out.join('\n')}\n`;
}

describe.skipIf(!existsSync(CHROMIUM))('the HTML report in headless Chromium', () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Root in CI: Chromium's sandbox needs an unprivileged user.
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the JSON report over the fixtures, fetching nothing, without an error; screenshots', async () => {
    // The corrupt fixture's warning names its file: read from a long path with no break in it, as
    // a clone in a deep directory gives, so the narrow page must wrap what the host names.
    const deep = join(dir, 'x'.repeat(120), 'legacy-corrupt');
    cpSync(join(FIXTURES, 'legacy-corrupt'), deep, { recursive: true });
    const { file, json } = both('fixtures', [
      join(FIXTURES, 'verdict/fleet'),
      deep,
      join(FIXTURES, 'verdict/canary-refused'),
    ]);
    expect(json.canaries.length).toBeGreaterThan(0);
    for (const [name, width, height] of [
      ['desktop', 1280, 900],
      ['narrow', 390, 844],
    ] as const) {
      const { page, problems, requests } = await open(file, width, height);
      expect(await text(page, '#verdict-text')).toBe(json.verdict.text);
      for (const v of ['NO', 'UNKNOWN', 'YES']) expect(Number(await text(page, `#count-${v}`))).toBe(count(json, v));
      expect(Number(await text(page, '#imdsv1-requests'))).toBe(json.verdict.imdsv1_requests);
      expect(Number(await text(page, '#imdsv1-programs'))).toBe(json.verdict.imdsv1_programs);
      expect(await page.$$eval('#host-rows tr.host', (rows) => rows.map((r) => r.getAttribute('data-host')))).toEqual(
        json.hosts.map((h) => h.host),
      );
      // Each program with its request count, in the JSON's order.
      expect(await page.$$eval('.program .count', (c) => c.map((e) => Number(e.textContent)))).toEqual(
        json.groups.map((g) => g.count),
      );
      // Each canary, in the JSON's order, with its refused programs.
      expect(await page.$$eval('.program.canary h3', (h) => h.map((e) => e.textContent))).toEqual(
        json.canaries.map((c) => `${c.target} on ${c.host}: ${c.outcome}`),
      );
      expect(await page.$$eval('.program.canary td.num', (c) => c.map((e) => Number(e.textContent)))).toEqual(
        json.canaries.flatMap((c) => c.programs.map((p) => p.count)),
      );
      // A host's details: its reasons (with what to do) and its coverage per boot.
      await page.click('#host-rows tr.host button');
      const detail = await text(page, '#host-rows tr.hostdetail');
      const first = json.hosts[0]!;
      for (const r of first.reasons) expect(detail).toContain(r.message);
      expect(await page.$$eval('#host-rows tr.hostdetail svg.coverage rect', (r) => r.length)).toBe(
        first.coverage.length,
      );
      // Nothing wider than the window: no sideways scrolling on a phone.
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
      await page.screenshot({ path: join(ARTIFACTS, `report-${name}.png`), fullPage: true });
      expect(requests).toEqual([pathToFileURL(file).href]);
      expect(problems).toEqual([]);
      await page.close();
    }
  });

  it('filters, searches and pages 10,000 hosts, and prints them all', async () => {
    const logs = join(dir, 'fleet');
    mkdirSync(logs);
    writeFileSync(join(logs, 'imds-analyzer.log'), fleetLines());
    const { file, json } = both('fleet', [logs]);
    expect(json.hosts).toHaveLength(FLEET_HOSTS);
    const { page, problems, requests } = await open(file, 1280, 900);
    const shown = () => page.$$eval('#host-rows tr.host', (rows) => rows.map((r) => r.getAttribute('data-host')));
    expect(await text(page, '#host-status')).toBe(`hosts 1–50 of ${FLEET_HOSTS}`);
    expect(await shown()).toEqual(json.hosts.slice(0, 50).map((h) => h.host));
    await page.click('#page-next');
    expect(await shown()).toEqual(json.hosts.slice(50, 100).map((h) => h.host));
    await page.click('button[data-verdict="NO"]');
    expect(await text(page, '#host-status')).toBe(`hosts 1–50 of ${count(json, 'NO')} (of ${FLEET_HOSTS})`);
    await page.click('button[data-verdict="ALL"]');
    const target = json.hosts[7777]!;
    await page.type('#host-search', target.hostname ?? '');
    expect(await shown()).toEqual([target.host]);
    expect(Number(await text(page, '#count-NO'))).toBe(count(json, 'NO'));
    expect(Number(await text(page, '#count-UNKNOWN'))).toBe(count(json, 'UNKNOWN'));
    // Printing shows every host that matches, not one page: here the NO hosts of one subnet.
    await page.click('button[data-verdict="NO"]');
    await page.click('#host-search', { count: 3 });
    await page.type('#host-search', 'ip-10-2-3-');
    const subnet = json.hosts.filter((h) => h.verdict === 'NO' && h.hostname?.startsWith('ip-10-2-3-'));
    expect(subnet.length).toBeGreaterThan(25);
    await page.evaluate('window.dispatchEvent(new Event("beforeprint"))');
    expect(await shown()).toEqual(subnet.map((h) => h.host));
    const pdf = await page.pdf({ format: 'A4' });
    expect(Buffer.from(pdf).subarray(0, 5).toString()).toBe('%PDF-');
    expect(requests).toEqual([pathToFileURL(file).href]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows what a hostile program and host name chose as text: no element, no script, no request', async () => {
    const logs = join(dir, 'hostile');
    mkdirSync(logs);
    const line = requestLine();
    writeFileSync(
      join(logs, 'imds-analyzer.log'),
      `${JSON.stringify({
        ...line,
        level: 40,
        time: T0,
        hostname: `evil${HOSTILE}`,
        instance_id: null,
        boot_id: 'b',
        pid: 1,
        process: { ...line.process, argv: ['curl', HOSTILE], cmdline: `curl ${HOSTILE}` },
        request: { ...line.request, path: `/latest/${HOSTILE}` },
        unit: HOSTILE,
      })}\n`,
    );
    const { file, json } = both('hostile', [logs]);
    const { page, problems, requests } = await open(file, 1280, 900);
    expect(await page.$$('img')).toHaveLength(0);
    expect(await page.$$('script')).toHaveLength(2);
    expect(await text(page, '#verdict-text')).toBe(json.verdict.text);
    expect(await page.$eval('#host-rows tr.host', (r) => r.textContent)).toContain(HOSTILE);
    expect(await page.$eval('.program', (r) => r.textContent)).toContain(`/latest/${HOSTILE}`);
    expect(requests).toEqual([pathToFileURL(file).href]);
    expect(problems).toEqual([]);
    await page.close();
  });
});
