// build-rpm.sh's choice of node_modules: the bundle keeps a few modules outside (koffi,
// sd-notify); everything else installed is removed, but for what those depend on (installed
// ones only: koffi's packages for other platforms were never installed).
//   node keep-modules.mjs <node_modules> <module>...
// Prints one result line: {"kept":[...],"removed":[...]}.
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

interface PackageJson {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** The installed modules `wanted` need, themselves included. */
function installedClosure(modules: string, wanted: readonly string[]): Set<string> {
  const keep = new Set<string>();
  const queue = [...wanted];
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    const manifest = join(modules, name, 'package.json');
    if (keep.has(name) || !existsSync(manifest)) continue;
    keep.add(name);
    const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as PackageJson;
    queue.push(...Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }));
  }
  return keep;
}

/** Package directories in node_modules: `name`, or `@scope/name` (a scope's directory is no package). */
function installedPackages(modules: string): string[] {
  const visible = (dir: string) => readdirSync(dir, { withFileTypes: true }).filter((e) => !e.name.startsWith('.'));
  return visible(modules).flatMap((entry) => {
    if (!entry.isDirectory()) return [];
    if (!entry.name.startsWith('@')) return [entry.name];
    return visible(join(modules, entry.name))
      .filter((scoped) => scoped.isDirectory())
      .map((scoped) => `${entry.name}/${scoped.name}`);
  });
}

const [modules = '', ...wanted] = process.argv.slice(2);
if (!modules || wanted.length === 0) {
  process.stderr.write('usage: keep-modules <node_modules> <module>...\n');
  process.exit(2);
}
const keep = installedClosure(modules, wanted);
const removed = installedPackages(modules).filter((name) => !keep.has(name));
for (const name of removed) rmSync(join(modules, name), { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ kept: [...keep].sort(), removed })}\n`);
