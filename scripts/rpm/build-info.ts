// build-rpm.sh's /usr/lib/imds-analyzer/build-info.json: what the package was built for (the
// Node.js major and module ABI the sd-notify addon was compiled against, read from the
// headers it was built with; whether Node.js and libbpf are bundled).
//   node build-info.mjs <file> <target> <node_version.h> <bundled node 0|1> <bundled libbpf 0|1>
// Writes the file and prints it as one result line.
import { readFileSync, writeFileSync } from 'node:fs';

interface BuildInfo {
  target: string;
  node_major: number;
  node_module_version: number;
  bundled_node: boolean;
  bundled_libbpf: boolean;
}

/** A `#define NAME <number>` of Node.js's node_version.h. */
function headerNumber(header: string, name: string): number {
  const value = new RegExp(`^#define ${name} (\\d+)\\s*$`, 'm').exec(header)?.[1];
  if (value === undefined) throw new Error(`no numeric ${name} in node_version.h`);
  return Number(value);
}

const [file = '', target = '', versionHeader = '', bundledNode = '', bundledLibbpf = ''] = process.argv.slice(2);
if (!file || !target || !versionHeader) {
  process.stderr.write('usage: build-info <file> <target> <node_version.h> <bundled node 0|1> <bundled libbpf 0|1>\n');
  process.exit(2);
}
const header = readFileSync(versionHeader, 'utf8');
const info: BuildInfo = {
  target,
  node_major: headerNumber(header, 'NODE_MAJOR_VERSION'),
  node_module_version: headerNumber(header, 'NODE_MODULE_VERSION'),
  bundled_node: bundledNode === '1',
  bundled_libbpf: bundledLibbpf === '1',
};
writeFileSync(file, `${JSON.stringify(info, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(info)}\n`);
