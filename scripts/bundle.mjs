#!/usr/bin/env node
// `npm run bundle`: the daemon and CLI as ES modules, bundle/imds-analyzer.mjs and the chunks it loads, with
// source maps (stack traces map back to src/ under `node --enable-source-maps`). This is what
// the npm package and the RPM ship instead of dist/ and the JavaScript node_modules.
// koffi and sd-notify stay outside: they load native addons from their own directories.
// @aws-sdk/client-cloudwatch stays outside too: only `report --cross-check cloudwatch` loads it.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * pino-roll require()s date-fns as a whole for five functions; a CommonJS require cannot be
 * tree-shaken, so all of date-fns (about a third of the bundle) would be parsed at every start.
 * It gets a module with just those five, from date-fns's per-function ES modules.
 */
const dateFnsForPinoRoll = {
  name: 'date-fns-for-pino-roll',
  setup(plugin) {
    plugin.onResolve({ filter: /^date-fns$/ }, (args) =>
      /[\\/]pino-roll[\\/]/.test(args.importer) ? { path: 'date-fns', namespace: 'pino-roll-date-fns' } : undefined,
    );
    plugin.onLoad({ filter: /.*/, namespace: 'pino-roll-date-fns' }, () => ({
      contents: ['format', 'addDays', 'addHours', 'parse', 'isValid']
        .map((name) => `export { ${name} } from 'date-fns/${name}';`)
        .join('\n'),
      resolveDir: root,
      loader: 'js',
    }));
  },
};
const outdir = `${root}bundle`;
rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { 'imds-analyzer': 'src/cli/main.ts' },
  outdir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  // The daemon, the report and the status command in chunks of their own, shared code in
  // others: a start loads only what its command needs (chunk-*.mjs beside the entry).
  splitting: true,
  chunkNames: 'chunk-[hash]',
  target: 'node20',
  // The AWS SDK is loaded only by `report --cross-check cloudwatch`, from beside the package:
  // neither the bundle nor the daemon's start grows by it.
  external: ['koffi', 'sd-notify', '@aws-sdk/client-cloudwatch'],
  // The bundled CommonJS dependencies (pino and its helpers) call require() for Node's own
  // modules; an ES module has none unless it makes one.
  banner: {
    js: "import { createRequire as __imdsCreateRequire } from 'node:module';\nconst require = __imdsCreateRequire(import.meta.url);",
  },
  // Smaller to read at start; names kept for error messages, the map gives back lines.
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
  // The map needs the mappings for stack traces, not a second copy of every source.
  sourcesContent: false,
  logLevel: 'warning',
  metafile: true,
  plugins: [dateFnsForPinoRoll],
});
// The bundled packages' licences travel with their code (MIT and ISC ask for the notice).
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = /^(node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (match) packages.add(match[1]);
}
const notices = [...packages].sort().map((dir) => {
  const { name, version, license } = JSON.parse(readFileSync(`${root}${dir}/package.json`, 'utf8'));
  const file = readdirSync(`${root}${dir}`).find((entry) => /^licen[cs]e/i.test(entry));
  const text = file
    ? readFileSync(`${root}${dir}/${file}`, 'utf8').trim()
    : `${license} (no licence file in the package)`;
  return `${name} ${version} (${license})\n\n${text}\n`;
});
writeFileSync(`${outdir}/THIRD-PARTY-LICENSES.txt`, notices.join(`\n${'-'.repeat(72)}\n\n`));
const outputs = Object.entries(result.metafile.outputs).map(
  ([file, out]) => `${file} ${(out.bytes / 1024).toFixed(0)} KiB`,
);
process.stderr.write(`bundle: ${outputs.join(', ')}\n`);
