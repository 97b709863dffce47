// The AWS SDK stays out of the shipped bundle and out of every start but the cross-check's:
// no SDK code in bundle/, its one dynamic import in a chunk neither the entry nor the daemon
// loads statically, and a copy of the bundle with no SDK beside it reports as before, saying
// in one line what is missing only when the cross-check is asked for.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../rig/compiled.js';

const BUNDLE_DIR = join(REPO_ROOT, 'bundle');
const SDK_IMPORT = /import\(\s*["']@aws-sdk\/client-cloudwatch["']\s*\)/;
const FIXTURE = join(REPO_ROOT, 'test/fixtures/report/verdict/clean');
const scratch = mkdtempSync(join(tmpdir(), 'bundle-sdk-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const chunks = readdirSync(BUNDLE_DIR).filter((name) => name.endsWith('.mjs'));
const text = (name: string) => readFileSync(join(BUNDLE_DIR, name), 'utf8');

/** The chunks a chunk loads by static import, and theirs, and so on. */
function staticClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const m of text(name).matchAll(/(?:^|[;\n}])\s*import\s*(?:[^"'()]*?from\s*)?["']\.\/([^"']+\.mjs)["']/g))
      visit(m[1] as string);
  };
  visit(entry);
  return seen;
}

describe('the bundle and the AWS SDK', () => {
  it('holds no SDK code, only one dynamic import of @aws-sdk/client-cloudwatch', () => {
    const sdkCode = chunks.filter((name) =>
      /GraniteServiceVersion20100801|@smithy\/|AwsJson1_0Protocol/.test(text(name)),
    );
    expect(sdkCode).toEqual([]);
    const importers = chunks.filter((name) => SDK_IMPORT.test(text(name)));
    expect(importers).toHaveLength(1);
  });

  it('neither the entry nor the daemon loads that chunk at start', () => {
    const importer = chunks.find((name) => SDK_IMPORT.test(text(name))) as string;
    const daemon = chunks.filter((name) => /\brunDaemon\b/.test(text(name)) && !name.startsWith('imds-analyzer'));
    expect(daemon.length).toBeGreaterThan(0);
    for (const start of ['imds-analyzer.mjs', ...daemon]) expect(staticClosure(start).has(importer)).toBe(false);
    // The closure is not vacuous: the entry does load chunks statically.
    expect(staticClosure('imds-analyzer.mjs').size).toBeGreaterThan(1);
  });

  it('a copy without the SDK reports as before; --cross-check says in one line what is missing, the verdict unchanged', () => {
    const dir = join(scratch, 'bundle');
    cpSync(BUNDLE_DIR, dir, { recursive: true });
    cpSync(join(REPO_ROOT, 'package.json'), join(scratch, 'package.json'));
    for (const module of ['koffi', '@koromix'])
      cpSync(join(REPO_ROOT, 'node_modules', module), join(scratch, 'node_modules', module), { recursive: true });
    const run = (...extra: string[]) =>
      spawnSync(process.execPath, [join(dir, 'imds-analyzer.mjs'), 'report', '--format', 'json', ...extra, FIXTURE], {
        encoding: 'utf8',
      });
    const plain = run();
    expect(plain.status).toBe(0);
    expect(plain.stderr).toBe('');
    const checked = run('--cross-check', 'cloudwatch');
    expect(checked.status).toBe(0);
    expect(checked.stderr.trim().split('\n')).toEqual([
      expect.stringContaining(
        "imds-analyzer report: cross-check skipped, the verdict is the log's alone: the cross-check needs @aws-sdk/client-cloudwatch",
      ),
    ]);
    const report = JSON.parse(checked.stdout) as { verdict: { answer: string }; cross_check: { status: string } };
    expect(report.verdict.answer).toBe('YES');
    expect(report.cross_check.status).toBe('failed');
  });
});
