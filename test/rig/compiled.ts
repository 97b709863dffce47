// Where the compiled programs live. The rig runs either as TypeScript (vitest imports
// test/rig/*.ts) or compiled (dist-test/test/rig/*.js, run by scripts and the VM):
// both find the repository root by walking up to package.json.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('test rig: no package.json above it');
    dir = parent;
  }
  return dir;
}

export const REPO_ROOT = findRepoRoot();

/** The product's CLI as `npm run build` writes it. */
export const CLI = join(REPO_ROOT, 'dist/cli/main.js');

/** A standalone rig script (server, probe clients) as `npm run build:test` writes it. */
export function compiledScript(name: 'imds-server' | 'probe'): string {
  const path = join(REPO_ROOT, 'dist-test/test/rig', `${name}.js`);
  if (!existsSync(path)) throw new Error(`${path} not found: run \`npm run build:test\` first`);
  return path;
}
