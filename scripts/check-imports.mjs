#!/usr/bin/env node
// The rooms of src/ and the one way their imports may point: a room imports only rooms on
// a lower floor (never a sibling, never up), and no file takes part in an import circle.
// Reads the import statements themselves; exits 1 naming every arrow that breaks a rule.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const FLOORS = [
  ['model'], // types every room shares; imports nothing of ours
  ['logic'], // pure: no I/O
  ['libbpf', 'config'],
  ['capture', 'enrich', 'logging', 'state'],
  ['daemon', 'report'],
  ['cli'],
];
const floorOf = new Map(FLOORS.flatMap((rooms, floor) => rooms.map((room) => [room, floor])));

const root = resolve(process.argv[2] ?? 'src');
const files = readdirSync(root, { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
  .map((entry) => join(entry.parentPath, entry.name));

const IMPORT = /^\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'|^\s*import\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/gm;
const roomOf = (file) => relative(root, file).split('/')[0];
const problems = [];
const edges = new Map();

for (const file of files) {
  const room = roomOf(file);
  if (!floorOf.has(room)) problems.push(`${relative(root, file)}: room "${room}" has no floor in scripts/check-imports.mjs`);
  const targets = [];
  for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
    const spec = match[1] ?? match[2] ?? match[3];
    const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
    targets.push(target);
    const to = roomOf(target);
    if (to === room) continue;
    if (!(floorOf.get(to) < floorOf.get(room))) {
      problems.push(`${relative(root, file)} -> ${relative(root, target)}: ${room} may not import ${to} (floor ${floorOf.get(room)} -> ${floorOf.get(to)})`);
    }
  }
  edges.set(file, targets);
}

// Circles between files (depth-first search, grey/black marking).
const state = new Map();
const stack = [];
function visit(file) {
  state.set(file, 'grey');
  stack.push(file);
  for (const next of edges.get(file) ?? []) {
    if (state.get(next) === 'grey') {
      const circle = stack.slice(stack.indexOf(next)).concat(next).map((f) => relative(root, f));
      problems.push(`import circle: ${circle.join(' -> ')}`);
    } else if (!state.has(next)) visit(next);
  }
  stack.pop();
  state.set(file, 'black');
}
for (const file of files) if (!state.has(file)) visit(file);

if (problems.length) {
  process.stderr.write(`check-imports: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`check-imports: ${files.length} files, ${FLOORS.length} floors, every arrow points down, no circle\n`);
