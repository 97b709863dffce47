// The import rule check (scripts/check-imports.mjs): passes on src/, and names an
// upward arrow, a sibling arrow and a circle in a tree made to have them.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = new URL('../../scripts/check-imports.mjs', import.meta.url).pathname;
const SRC = new URL('../../src', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'imports-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const check = (root: string) => spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8' });

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmp, 'src-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('import rules', () => {
  it('hold for src/', () => {
    const result = check(SRC);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('name an arrow up, an arrow between siblings and a circle', () => {
    const root = tree({
      'model/records.ts': "import { parse } from '../logic/parse.js';\nexport type R = 1;\n",
      'logic/parse.ts': "export const parse = 1;\n",
      'capture/a.ts': "import { b } from '../enrich/b.js';\nexport const a = b;\n",
      'enrich/b.ts': "export const b = 2;\n",
      'daemon/x.ts': "import { y } from './y.js';\nexport const x = y;\n",
      'daemon/y.ts': "import { x } from './x.js';\nexport const y = x;\n",
    });
    const result = check(root);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('model/records.ts -> logic/parse.ts: model may not import logic');
    expect(result.stderr).toContain('capture/a.ts -> enrich/b.ts: capture may not import enrich');
    expect(result.stderr).toMatch(/import circle: daemon\/(x|y)\.ts -> daemon\/(x|y)\.ts -> daemon\/(x|y)\.ts/);
  });
});
