#!/usr/bin/env node
// Builds the SSM Distributor package of imds-analyzer into dist-ssm/ (or --out DIR):
// manifest.json (schema 2.0) and one zip per platform and architecture, each holding
// packaging/ssm/{install,uninstall,update}.sh and the RPM for that target.
//
//   npm run ssm-package -- [--out DIR] [--release N] [--rpm TARGET=FILE ...]
//                          [--al2-node-x86_64 PATH --al2-libbpf-x86_64 PATH]
//                          [--al2-node-aarch64 PATH --al2-libbpf-aarch64 PATH]
//                          [--al2-runtimes-of-build-host]
//
// TARGET is al2023-x86_64, al2023-aarch64, al2-x86_64 or al2-aarch64. Each RPM is built with
// scripts/build-rpm.sh unless --rpm names one. Amazon Linux 2 packages bundle a Node.js and a
// libbpf built for its glibc 2.26 (packaging/rpm/README.md): --al2-node-* and --al2-libbpf-*.
// --al2-runtimes-of-build-host takes this host's node and libbpf (x86_64) and Debian 12's arm64
// ones instead: such packages prove the packaging only, they do not start on Amazon Linux 2.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPTS = ['install.sh', 'uninstall.sh', 'update.sh'];
/** Distributor's platform names: the agent's platform, its version, SSM's architecture name. */
const TARGETS = [
  { key: 'al2023-x86_64', target: 'al2023', rpmArch: 'x86_64', platform: 'amazon', version: '2023', arch: 'x86_64' },
  { key: 'al2023-aarch64', target: 'al2023', rpmArch: 'aarch64', platform: 'amazon', version: '2023', arch: 'arm64' },
  { key: 'al2-x86_64', target: 'al2', rpmArch: 'x86_64', platform: 'amazon', version: '2', arch: 'x86_64' },
  { key: 'al2-aarch64', target: 'al2', rpmArch: 'aarch64', platform: 'amazon', version: '2', arch: 'arm64' },
];
/** Distributor's limits per package version. */
const MAX_FILES = 20;
const MAX_FILE_BYTES = 1024 ** 3;

function die(message) {
  console.error(`ssm-package: ${message}`);
  process.exit(1);
}

/** parseArgs, with an unknown or malformed option as one line, not a stack trace. */
function parseOptions(config) {
  try {
    return parseArgs(config);
  } catch (error) {
    return die(error.message);
  }
}

const { values } = parseOptions({
  options: {
    out: { type: 'string', default: join(repo, 'dist-ssm') },
    release: { type: 'string', default: '1' },
    rpm: { type: 'string', multiple: true, default: [] },
    'al2-node-x86_64': { type: 'string' },
    'al2-libbpf-x86_64': { type: 'string' },
    'al2-node-aarch64': { type: 'string' },
    'al2-libbpf-aarch64': { type: 'string' },
    'al2-runtimes-of-build-host': { type: 'boolean', default: false },
  },
});
if (!/^[1-9][0-9]*$/.test(values.release)) die(`--release must be a positive integer, got '${values.release}'`);

const prebuilt = new Map();
for (const spec of values.rpm) {
  const [key, file] = spec.split(/=(.*)/s);
  if (!TARGETS.some((t) => t.key === key)) die(`--rpm ${spec}: the target is one of ${TARGETS.map((t) => t.key)}`);
  if (!file || !existsSync(file)) die(`--rpm ${spec}: no such file`);
  prebuilt.set(key, resolve(file));
}

const run = (command, args) =>
  execFileSync(command, args, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();

/** The node and libbpf an Amazon Linux 2 package bundles, for one architecture. */
function al2Runtime(rpmArch) {
  if (values['al2-runtimes-of-build-host']) {
    if (rpmArch === 'x86_64') return { node: process.execPath, libbpf: '/usr/lib/x86_64-linux-gnu/libbpf.so.1' };
    const prefix = run('bash', [join(repo, 'scripts/fetch-node.sh'), '22', 'arm64']);
    const root = run('bash', [join(repo, 'scripts/vm/fetch-root.sh'), 'bookworm', 'arm64']);
    return { node: join(prefix, 'bin/node'), libbpf: join(root, 'usr/lib/aarch64-linux-gnu/libbpf.so.1') };
  }
  const node = values[`al2-node-${rpmArch}`];
  const libbpf = values[`al2-libbpf-${rpmArch}`];
  if (!node || !libbpf)
    die(
      `Amazon Linux 2 (${rpmArch}) bundles its runtime: pass --al2-node-${rpmArch} and --al2-libbpf-${rpmArch} ` +
        `(built for glibc 2.26, packaging/rpm/README.md), --rpm al2-${rpmArch}=FILE, or --al2-runtimes-of-build-host`,
    );
  for (const file of [node, libbpf]) if (!existsSync(file)) die(`${file} (Amazon Linux 2, ${rpmArch}) does not exist`);
  return { node, libbpf };
}

/** build-rpm.sh's arguments for a target, or null when --rpm brings its RPM. */
function buildArgs({ key, target, rpmArch }) {
  if (prebuilt.has(key)) return null;
  const args = ['--target', target, '--release', values.release, '--arch', rpmArch];
  if (target === 'al2') {
    const { node, libbpf } = al2Runtime(rpmArch);
    args.push('--bundle-node', node, '--bundle-libbpf', libbpf);
  }
  return args;
}

function buildRpm(t, args) {
  if (args === null) return prebuilt.get(t.key);
  console.error(`ssm-package: building the ${t.key} RPM`);
  const printed = run('bash', [join(repo, 'scripts/build-rpm.sh'), ...args]).split('\n');
  return printed.at(-1);
}

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');
const packageVersion = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).version;

// Every target's inputs are settled before the first (minutes-long) build.
const plans = TARGETS.map((t) => ({ t, args: buildArgs(t) }));
const out = resolve(values.out);
const staging = join(out, '.staging');
rmSync(out, { recursive: true, force: true });
mkdirSync(staging, { recursive: true });

const manifest = {
  schemaVersion: '2.0',
  version: `${packageVersion}-${values.release}`,
  publisher: 'imds-analyzer maintainers',
  packages: {},
  files: {},
};
for (const { t, args } of plans) {
  const rpm = buildRpm(t, args);
  const expectedArch = run('rpm', ['-qp', '--queryformat', '%{ARCH}', rpm]);
  if (expectedArch !== t.rpmArch) die(`${rpm} is an ${expectedArch} package, not ${t.rpmArch}`);
  const dir = join(staging, t.key);
  mkdirSync(dir);
  for (const script of SCRIPTS) {
    copyFileSync(join(repo, 'packaging/ssm', script), join(dir, script));
    chmodSync(join(dir, script), 0o755);
  }
  copyFileSync(rpm, join(dir, basename(rpm)));
  chmodSync(join(dir, basename(rpm)), 0o644);
  const zip = `imds-analyzer-${t.platform}-${t.version}-${t.arch}.zip`;
  // -X: no extra attributes (uid, times) beyond the Unix modes; -j: the files at the zip's top.
  run('zip', ['-q', '-X', '-j', join(out, zip), ...[...SCRIPTS, basename(rpm)].map((name) => join(dir, name))]);
  const bytes = statSync(join(out, zip)).size;
  if (bytes > MAX_FILE_BYTES) die(`${zip} is ${bytes} bytes, more than Distributor's 1 GB`);
  manifest.packages[t.platform] ??= {};
  manifest.packages[t.platform][t.version] ??= {};
  manifest.packages[t.platform][t.version][t.arch] = { file: zip };
  manifest.files[zip] = { checksums: { sha256: sha256(join(out, zip)) } };
  console.error(`ssm-package: ${zip} ${bytes} bytes (${basename(rpm)})`);
}
if (Object.keys(manifest.files).length > MAX_FILES) die(`more than ${MAX_FILES} files in one package version`);
rmSync(staging, { recursive: true });
writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
console.log(join(out, 'manifest.json'));
