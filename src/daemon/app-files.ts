// Files the app ships beside its code (the BPF object, package.json), found from the app's
// root: the nearest directory above this module that holds package.json. That is the same
// whether the code runs as tsc's dist/<room>/*.js, as the one-file bundle (bundle/), or from
// the package (/usr/lib/imds-analyzer).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findAppRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir)
      throw new Error(`imds-analyzer: no package.json above ${start}: the install is incomplete`);
  }
}

const APP_ROOT = findAppRoot();

/** The absolute path of a file shipped with the app, e.g. appFile('bpf', 'imds_analyzer.bpf.o'). */
export function appFile(...parts: string[]): string {
  return join(APP_ROOT, ...parts);
}
