// Paths of the testbed's standalone scripts (server, probe clients) as compiled by tsc.
// From dist/testbed they sit beside this module; when the testbed is imported from
// src/ (vitest runs the TypeScript), they are found in dist/ and need `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function compiledScript(name: 'imds-server' | 'probe'): string {
  const candidates = [new URL(`./${name}.js`, import.meta.url), new URL(`../../dist/testbed/${name}.js`, import.meta.url)];
  for (const candidate of candidates) {
    const path = fileURLToPath(candidate);
    if (existsSync(path)) return path;
  }
  throw new Error(`dist/testbed/${name}.js not found: run \`npm run build\` first`);
}
