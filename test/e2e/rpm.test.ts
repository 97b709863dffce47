// The RPM, end to end: scripts/build-rpm.sh builds it from this tree with the real rpmbuild,
// rpm and rpmlint read it, and it is installed, upgraded and erased with the real rpm into
// throwaway roots where its scriptlets run the real systemctl. Nothing here touches the
// host's own rpm database or systemd.
import { execFile, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, DEFAULT_CONFIG } from '../../src/config/index.js';
import { run, ThrowawayRoot, wantsLink } from '../rig/rpm-root.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const APP_DIR = '/usr/lib/imds-analyzer';
const SHARE_DIR = '/usr/share/imds-analyzer';
const UNIT = '/usr/lib/systemd/system/imds-analyzer.service';
const CONFIG = '/etc/imds-analyzer/config.json';
const HOST_LIBBPF = '/usr/lib/x86_64-linux-gnu/libbpf.so.1';
const HOST_LIBSYSTEMD = '/usr/lib/x86_64-linux-gnu/libsystemd.so.0';
// AL2023 packages are built for nodejs22; build-rpm.sh fetches that Node.js (headers and
// binary) from the npm registry into its cache, where this test finds it too.
const AL2023_NODE_MAJOR = '22';
const AL2023_NODE = join(
  process.env.IMDS_ANALYZER_NODE_CACHE ?? '/var/cache/imds-analyzer',
  `node-${AL2023_NODE_MAJOR}-linux-x64/package/bin/node`,
);
// The AL2 test build bundles the node running this test (this host's).
const BUNDLED_NODE_MAJOR = process.versions.node.split('.')[0] ?? '';
const BUILD_MINUTES = 9;
/** The bundle: the whole app in one ES module (scripts/bundle.mjs), started with its source map. */
const BUNDLE = `${APP_DIR}/bundle/imds-analyzer.mjs`;
/** What the package's node_modules may hold: the bundle's two native externals and their dependencies. */
const EXTERNAL_MODULES = ['@koromix/koffi-linux-x64', 'bindings', 'file-uri-to-path', 'koffi', 'sd-notify'];
/** The Graviton build: cross-built on this x86_64 host, checked under qemu-user. */
const crossTools = spawnSync('sh', [
  '-c',
  'command -v aarch64-linux-gnu-g++ && command -v qemu-aarch64-static && command -v file',
]);
const noCross =
  crossTools.status === 0 ? null : 'needs g++-aarch64-linux-gnu, qemu-user-static and file (scripts/install-deps.sh)';
const notRoot = process.getuid?.() === 0 ? null : 'needs root: rpm --root, chroot and mknod';

/** Builds with scripts/build-rpm.sh in `tree` and returns the RPM path it printed last. */
async function buildRpm(tree: string, args: readonly string[]): Promise<string> {
  // Asynchronous: a build takes tens of seconds and the test worker must keep answering vitest.
  const { stdout } = await promisify(execFile)('bash', [join(tree, 'scripts/build-rpm.sh'), ...args], {
    cwd: tree,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const printed = stdout.trim().split('\n');
  const rpm = printed.at(-1) ?? '';
  expect(rpm).toMatch(/\.rpm$/);
  expect(existsSync(rpm)).toBe(true);
  return rpm;
}

/** A copy of the working tree as git sees it (tracked and untracked, minus ignored files). */
function copyTree(to: string): void {
  const files = run('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: REPO }).split('\0');
  const wanted = (name: string) => name !== '' && !name.startsWith('dist-rpm/') && existsSync(join(REPO, name));
  for (const file of files.filter(wanted)) {
    mkdirSync(dirname(join(to, file)), { recursive: true });
    copyFileSync(join(REPO, file), join(to, file));
  }
}

interface PackagedFile {
  path: string;
  mode: number;
  user: string;
  group: string;
  flags: string;
}

function packagedFiles(rpm: string): PackagedFile[] {
  const format = '[%{FILEMODES:octal} %{FILEUSERNAME} %{FILEGROUPNAME} |%{FILEFLAGS:fflags}| %{FILENAMES}\n]';
  return run('rpm', ['-qp', '--queryformat', format, rpm])
    .trim()
    .split('\n')
    .map((line) => {
      const match = /^(\d+) (\S+) (\S+) \|(\w*)\| (.+)$/.exec(line);
      if (!match) throw new Error(`unexpected rpm query line: ${line}`);
      const [, mode = '', user = '', group = '', flags = '', path = ''] = match;
      return { path, mode: parseInt(mode, 8), user, group, flags };
    });
}

/** One file's content, read from the RPM's payload. */
function packagedText(rpm: string, path: string): string {
  return run('sh', ['-c', `rpm2cpio '${rpm}' | cpio -i --quiet --to-stdout '.${path}'`]);
}

function requires(rpm: string): string[] {
  return run('rpm', ['-qpR', rpm]).trim().split('\n');
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

describe('default config.json', () => {
  it('is valid and spells out exactly the schema defaults', () => {
    const shipped: unknown = JSON.parse(readFileSync(join(REPO, 'packaging/rpm/config.json'), 'utf8'));
    expect(configSchema.parse(shipped)).toEqual(DEFAULT_CONFIG);
    expect(shipped).toEqual(DEFAULT_CONFIG);
  });
});

describe.skipIf(notRoot !== null)(`RPM (${notRoot ?? 'root'})`, () => {
  let work = '';
  let al2023 = '';
  let al2023Upgrade = '';
  let al2 = '';
  const upgradeConfig = `${JSON.stringify({ ...DEFAULT_CONFIG, statsIntervalSeconds: 30 }, null, 2)}\n`;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'imds-analyzer-rpm-test-'));
    al2023 = await buildRpm(REPO, ['--target', 'al2023', '--release', '1']);
    // Release 2 ships a different default config.json, so rpm has to decide what to keep.
    const tree = join(work, 'tree');
    copyTree(tree);
    writeFileSync(join(tree, 'packaging/rpm/config.json'), upgradeConfig);
    al2023Upgrade = await buildRpm(tree, ['--target', 'al2023', '--release', '2']);
    al2 = await buildRpm(REPO, [
      '--target',
      'al2',
      '--release',
      '1',
      '--bundle-node',
      process.execPath,
      '--bundle-libbpf',
      HOST_LIBBPF,
    ]);
  }, BUILD_MINUTES * 60_000);

  afterAll(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  describe('contents', () => {
    it('has the agreed layout, modes and owners', () => {
      const files = packagedFiles(al2023);
      const byPath = new Map(files.map((file) => [file.path, file]));
      const expectFile = (path: string, mode: number, flags = '') => {
        expect(byPath.get(path), path).toMatchObject({ mode, user: 'root', group: 'root', flags });
      };
      expectFile('/usr/bin/imds-analyzer', S_IFREG | 0o755);
      expectFile(UNIT, S_IFREG | 0o644);
      expectFile('/usr/lib/systemd/system-preset/50-imds-analyzer.preset', S_IFREG | 0o644);
      expectFile(CONFIG, S_IFREG | 0o644, 'cn');
      expectFile('/etc/imds-analyzer', S_IFDIR | 0o755);
      expectFile('/var/log/imds-analyzer', S_IFDIR | 0o750);
      expectFile(BUNDLE, S_IFREG | 0o644);
      expectFile(`${BUNDLE}.map`, S_IFREG | 0o644);
      expectFile(`${APP_DIR}/bundle/THIRD-PARTY-LICENSES.txt`, S_IFREG | 0o644);
      expectFile(`${APP_DIR}/bpf/imds_analyzer.bpf.o`, S_IFREG | 0o644);
      expectFile(`${APP_DIR}/package.json`, S_IFREG | 0o644);
      expectFile('/usr/share/licenses/imds-analyzer/LICENSE', S_IFREG | 0o644, 'l');

      expect(files.filter((file) => file.user !== 'root' || file.group !== 'root')).toEqual([]);
      expect(files.filter((file) => (file.mode & 0o022) !== 0).map((file) => file.path)).toEqual([]);
      const executables = files.filter((file) => (file.mode & S_IFMT) === S_IFREG && (file.mode & 0o111) !== 0);
      expect(executables.map((file) => file.path).sort()).toEqual([
        '/usr/bin/imds-analyzer',
        `${APP_DIR}/node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node`,
        `${APP_DIR}/node_modules/sd-notify/build/Release/notify.node`,
      ]);
    });

    it('ships the fleet files (docs/fleet.md) under /usr/share/imds-analyzer, as they are in the tree', () => {
      const fleet = join(REPO, 'packaging/fleet');
      const inTree = readdirSync(fleet, { recursive: true, encoding: 'utf8' })
        .filter((name) => statSync(join(fleet, name)).isFile())
        .map((name) => `${SHARE_DIR}/${name}`)
        .sort();
      expect(inTree).toEqual(
        expect.arrayContaining(
          [
            'cloudwatch-agent.json',
            'cloudwatch-agent-verdicts.json',
            'cloudwatch-dashboard.json',
            'cloudwatch-alarm.json',
            'fluent-bit.conf',
          ].map((name) => `${SHARE_DIR}/${name}`),
        ),
      );
      for (const rpm of [al2023, al2]) {
        const listed = run('rpm', ['-qpl', rpm]).trim().split('\n');
        expect(
          listed.filter((path) => path.startsWith(`${SHARE_DIR}/`) && !path.endsWith('/insights-queries')).sort(),
        ).toEqual(inTree);
        for (const path of inTree) {
          expect(packagedText(rpm, path), path).toBe(
            readFileSync(join(fleet, path.slice(SHARE_DIR.length + 1)), 'utf8'),
          );
        }
      }
      const byPath = new Map(packagedFiles(al2023).map((file) => [file.path, file]));
      for (const path of inTree)
        expect(byPath.get(path), path).toMatchObject({ mode: S_IFREG | 0o644, user: 'root', group: 'root' });
    });

    it('records the Node.js major the sd-notify addon was built for', () => {
      const modulesVersion = run(AL2023_NODE, ['-p', 'process.versions.modules']).trim();
      const info = JSON.parse(packagedText(al2023, `${APP_DIR}/build-info.json`)) as Record<string, unknown>;
      expect(info).toMatchObject({
        target: 'al2023',
        node_major: Number(AL2023_NODE_MAJOR),
        node_module_version: Number(modulesVersion),
        bundled_node: false,
        bundled_libbpf: false,
      });
    });

    it('ships the bundle, only its native externals in node_modules, no dist/, test rig or dev dependency', () => {
      const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
        packages: Record<string, { dev?: boolean }>;
      };
      const devModules = Object.entries(lock.packages)
        .filter(([path, entry]) => path !== '' && entry.dev === true)
        .map(([path]) => `${APP_DIR}/${path}`);
      expect(devModules.length).toBeGreaterThan(10);
      for (const rpm of [al2023, al2]) {
        const paths = packagedFiles(rpm).map((file) => file.path);
        // Was 3,367 files before the bundle (most of them date-fns locales pulled in by pino-roll);
        // about 100 with the bundle's chunks and their maps.
        expect(paths.length).toBeLessThan(150);
        expect(paths.filter((path) => path.includes('/dist/'))).toEqual([]);
        const topLevel = new Set(
          paths.flatMap(
            (path) => /^\/usr\/lib\/imds-analyzer\/node_modules\/(@[^/]+\/[^/]+|[^@/][^/]*)\//.exec(path)?.[1] ?? [],
          ),
        );
        expect([...topLevel].sort()).toEqual(EXTERNAL_MODULES);
        const modules = paths.filter((path) => path.startsWith(`${APP_DIR}/node_modules/`));
        const fromDev = modules.filter((path) => devModules.some((dev) => path === dev || path.startsWith(`${dev}/`)));
        expect(fromDev).toEqual([]);
        for (const name of ['typescript', 'vitest', 'fast-check', 'esbuild', '@types', 'vite', '@vitest', 'rollup']) {
          expect(
            modules.filter((path) => path.startsWith(`${APP_DIR}/node_modules/${name}/`)),
            name,
          ).toEqual([]);
        }
        const foreign = /(musl|darwin|win32|freebsd|openbsd|android|_arm|-arm|ia32|riscv|loong|ppc)/;
        expect(modules.filter((path) => path.includes('koffi') && foreign.test(path))).toEqual([]);
        expect(paths.filter((path) => path.endsWith('.node'))).toEqual([
          `${APP_DIR}/node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node`,
          `${APP_DIR}/node_modules/sd-notify/build/Release/notify.node`,
        ]);
        expect(paths.filter((path) => path.includes('.build-id') || path.endsWith('.ts'))).toEqual([]);
        // The entry and its chunks (scripts/bundle.mjs splits the daemon, the report and shared code), each with its map.
        const scripts = paths.filter((path) => path.startsWith(`${APP_DIR}/bundle/`) && path.endsWith('.mjs'));
        expect(scripts).toContain(BUNDLE);
        expect(paths.filter((path) => path.endsWith('.map')).sort()).toEqual(
          scripts.map((path) => `${path}.map`).sort(),
        );
        // Test rigs stay with the tests: no test IMDS, network namespaces, bench or watchdog hook ships.
        // (The documentation may talk about benchmarks: /usr/share/doc is not code.)
        const ours = paths.filter((path) => !path.includes('/node_modules/') && !path.startsWith('/usr/share/doc/'));
        expect(ours.filter((path) => /testbed|\/rig\/|bench|test-hooks|watchdog-hook|demo/.test(path))).toEqual([]);
      }
    });

    it('AL2023: requires the versioned Node.js, libbpf 1.x and systemd, and starts node-N directly', () => {
      const required = requires(al2023);
      expect(required).toEqual(
        expect.arrayContaining([
          `nodejs${AL2023_NODE_MAJOR}`,
          'libbpf.so.1()(64bit)',
          'libsystemd.so.0()(64bit)',
          'systemd',
        ]),
      );
      // AutoReqProv is off: nothing of the build host's glibc leaks into the requirements.
      expect(required.filter((name) => name.includes('GLIBC') || name.startsWith('ld-linux'))).toEqual([]);
      const unit = packagedText(al2023, UNIT);
      expect(unit).toMatch(new RegExp(`^ExecStart=/usr/bin/node-${AL2023_NODE_MAJOR} ${BUNDLE} run`, 'm'));
    });

    it("the bundle's source maps lead stack traces back to the TypeScript sources", () => {
      const scripts = packagedFiles(al2023)
        .map((file) => file.path)
        .filter((path) => path.startsWith(`${APP_DIR}/bundle/`) && path.endsWith('.mjs'));
      let mappings = 0;
      const sources = scripts.flatMap((script) => {
        const map = JSON.parse(packagedText(al2023, `${script}.map`)) as {
          sources: string[];
          mappings: string;
          sourcesContent?: unknown;
        };
        expect(map.sourcesContent).toBeUndefined();
        const name = script.slice(script.lastIndexOf('/') + 1).replace(/\./g, '\\.');
        expect(packagedText(al2023, script)).toMatch(new RegExp(`//# sourceMappingURL=${name}\\.map\\s*$`));
        mappings += map.mappings.length;
        return map.sources.map((source) => source.replace(/^(\.\.\/)+/, ''));
      });
      expect(sources).toEqual(
        expect.arrayContaining(['src/cli/main.ts', 'src/daemon/daemon.ts', 'src/capture/capture.ts']),
      );
      expect(mappings).toBeGreaterThan(1000);
    });

    it('AL2: bundles node and libbpf, requires neither, provides no library', () => {
      const required = requires(al2);
      expect(required.filter((name) => name.startsWith('nodejs') || name.startsWith('libbpf'))).toEqual([]);
      expect(required).toEqual(expect.arrayContaining(['libelf.so.1()(64bit)', 'libsystemd.so.0()(64bit)']));
      const provides = run('rpm', ['-qp', '--provides', al2]).trim().split('\n');
      expect(provides.filter((name) => name.includes('.so'))).toEqual([]);
      const paths = new Map(packagedFiles(al2).map((file) => [file.path, file.mode]));
      expect(paths.get(`${APP_DIR}/runtime/bin/node`)).toBe(S_IFREG | 0o755);
      expect(paths.get(`${APP_DIR}/lib/libbpf.so.1`)).toBe(S_IFREG | 0o755);
      // systemd 219's own unit (packaging/systemd/al2/), not the AL2023 one.
      expect(packagedText(al2, UNIT)).toBe(
        readFileSync(join(REPO, 'packaging/systemd/al2/imds-analyzer.service'), 'utf8'),
      );
      expect(JSON.parse(packagedText(al2, `${APP_DIR}/build-info.json`))).toMatchObject({
        target: 'al2',
        node_major: Number(BUNDLED_NODE_MAJOR),
        bundled_node: true,
        bundled_libbpf: true,
      });
    });

    it('can be installed by rpm 4.11 (Amazon Linux 2): xz payload, no newer rpmlib features', () => {
      // What rpm 4.11 knows (its rpmlib() provides); zstd payloads, rich and caret dependencies are newer.
      const known = new Set([
        'CompressedFileNames',
        'FileDigests',
        'PayloadFilesHavePrefix',
        'PayloadIsXz',
        'PartialHardlinkSets',
        'VersionedDependencies',
        'ExplicitPackageProvide',
        'HeaderLoadSortsTags',
      ]);
      for (const rpm of [al2023, al2]) {
        const features = requires(rpm).flatMap((name) => /^rpmlib\((\w+)\)/.exec(name)?.[1] ?? []);
        expect(features).toContain('PayloadIsXz');
        expect(features.filter((feature) => !known.has(feature))).toEqual([]);
        expect(run('rpm', ['-qp', '--queryformat', '%{PAYLOADCOMPRESSOR}', rpm])).toBe('xz');
      }
    });

    it('has hand-written scriptlets for systemd 219 and 252 that cannot fail the transaction', () => {
      const scripts = run('rpm', ['-qp', '--scripts', al2023]);
      const sections = new Map(scripts.split(/^(?=\w+ scriptlet)/m).map((part) => [part.split(' ')[0], part]));
      const post = sections.get('postinstall') ?? '';
      const preun = sections.get('preuninstall') ?? '';
      const postun = sections.get('postuninstall') ?? '';
      expect(post).toContain('preset imds-analyzer.service');
      expect(post).toContain('try-restart imds-analyzer.service');
      expect(post).toContain('daemon-reload');
      expect(preun).toContain('disable imds-analyzer.service');
      expect(preun).toContain('stop imds-analyzer.service');
      expect(postun).toContain('daemon-reload');
      for (const body of [post, preun, postun]) {
        expect(body).toMatch(/exit 0\s*$/);
        const commands = body.replace(/^\s*#.*$/gm, '');
        expect(commands).not.toMatch(/%\{|--now/);
      }
    });

    it('passes rpmlint with zero errors, and every warning left is explained in the README', () => {
      const readme = readFileSync(join(REPO, 'packaging/rpm/README.md'), 'utf8');
      for (const rpm of [al2023, al2]) {
        const result = spawnSync(
          'rpmlint',
          ['-c', join(REPO, 'packaging/rpm/rpmlint.toml'), rpm, join(REPO, 'packaging/rpm/imds-analyzer.spec')],
          { encoding: 'utf8' },
        );
        const output = result.stdout + result.stderr;
        expect(output, output).toMatch(/\b0 errors,/);
        const warnings = new Set([...output.matchAll(/: W: ([\w-]+)/g)].map((match) => match[1] ?? ''));
        expect([...warnings].filter((warning) => !readme.includes(`\`${warning}\``))).toEqual([]);
      }
    });
  });

  describe('install, upgrade and erase with rpm --root', () => {
    let root: ThrowawayRoot;

    beforeAll(() => {
      root = new ThrowawayRoot(work, 'al2023-root');
    });

    it('install: files in place, unit enabled by the preset, launcher asks for its Node.js', () => {
      root.rpm('-i', '--nodeps', al2023);
      expect(root.rpm('-q', 'imds-analyzer').trim()).toBe(`imds-analyzer-${packageVersion()}-1.amzn2023.x86_64`);
      expect(root.enabledLinks()).toEqual([root.at(wantsLink(REPO))]);
      // Debian's systemctl, which runs the scriptlets here, names the unit by its /lib alias.
      expect(readlinkSync(root.at(wantsLink(REPO)))).toMatch(
        /^(\/usr)?\/lib\/systemd\/system\/imds-analyzer\.service$/,
      );
      expect(lstatSync(root.at('/var/log/imds-analyzer')).mode & 0o7777).toBe(0o750);

      const missing = root.chroot('/usr/bin/imds-analyzer', '--version');
      expect(missing.status).toBe(127);
      expect(missing.stderr).toContain(`install nodejs${AL2023_NODE_MAJOR}`);

      // What nodejs22 and systemd-libs bring on AL2023: /usr/bin/node-22 and libsystemd.
      root.copyWithLibraries(AL2023_NODE, HOST_LIBSYSTEMD);
      symlinkSync(AL2023_NODE, root.at(`/usr/bin/node-${AL2023_NODE_MAJOR}`));
      const found = root.chroot('/bin/sh', '-x', '/usr/bin/imds-analyzer', '--version');
      expect(found).toMatchObject({ status: 0, stdout: `imds-analyzer ${packageVersion()}\n` });
      expect(found.stderr).toContain(`exec /usr/bin/node-${AL2023_NODE_MAJOR} ${BUNDLE} --version`);
      expect(found.stderr).not.toContain('IMDS_ANALYZER_LIBBPF');
      const addon = root.chroot(
        `/usr/bin/node-${AL2023_NODE_MAJOR}`,
        '-e',
        `require('${APP_DIR}/node_modules/sd-notify')`,
      );
      expect(addon).toMatchObject({ status: 0, stderr: '' });
      // A command beyond --version runs on the pruned node_modules: the report over a log
      // file without a line yet.
      mkdirSync(root.at('/tmp/no-logs'), { recursive: true });
      writeFileSync(root.at('/tmp/no-logs/imds-analyzer.log'), '');
      const report = root.chroot('/usr/bin/imds-analyzer', 'report', '/tmp/no-logs');
      expect(report.stderr).toBe('');
      // No log line yet: the report cannot vouch for anything (exit 2, UNKNOWN).
      expect(report).toMatchObject({ status: 2 });
      expect(report.stdout).toContain('HttpTokens=required is safe on this host: UNKNOWN');
    });

    it('upgrade: keeps the edited config.json, puts the new default beside it, stays enabled', () => {
      const edited = '{ "edited": "by the admin" }\n';
      writeFileSync(root.at(CONFIG), edited);
      root.rpm('-U', '--nodeps', al2023Upgrade);
      expect(root.rpm('-q', 'imds-analyzer').trim()).toBe(`imds-analyzer-${packageVersion()}-2.amzn2023.x86_64`);
      expect(readFileSync(root.at(CONFIG), 'utf8')).toBe(edited);
      expect(readFileSync(root.at(`${CONFIG}.rpmnew`), 'utf8')).toBe(upgradeConfig);
      expect(root.enabledLinks()).toEqual([root.at(wantsLink(REPO))]);
    });

    it('erase: no unit left enabled, the app is gone, the edited config is saved', () => {
      root.rpm('-e', 'imds-analyzer');
      expect(root.enabledLinks()).toEqual([]);
      expect(existsSync(root.at(APP_DIR))).toBe(false);
      expect(existsSync(root.at(UNIT))).toBe(false);
      expect(existsSync(root.at('/usr/bin/imds-analyzer'))).toBe(false);
      expect(readFileSync(root.at(`${CONFIG}.rpmsave`), 'utf8')).toContain('by the admin');
      expect(spawnSync('rpm', ['--root', root.dir, '--dbpath', '/var/lib/rpm', '-q', 'imds-analyzer']).status).toBe(1);
    });
  });

  describe('AL2 build with bundled node and libbpf, installed with rpm --root', () => {
    let root: ThrowawayRoot;

    beforeAll(() => {
      root = new ThrowawayRoot(work, 'al2-root');
      // What the bundled tree loads from the system: libstdc++ and glibc (node), libsystemd
      // (sd-notify), libelf and zlib (libbpf). The bundled node itself comes from the RPM only.
      root.copyLibrariesOf(process.execPath);
      root.copyWithLibraries(HOST_LIBSYSTEMD, HOST_LIBBPF);
      root.rpm('-i', '--nodeps', al2);
    });

    it('the launcher runs the bundled node and points the daemon at the bundled libbpf', () => {
      expect(existsSync(root.at('/usr/bin/node'))).toBe(false);
      // sh -x traces what the launcher exports and executes.
      const result = root.chroot('/bin/sh', '-x', '/usr/bin/imds-analyzer', '--version');
      expect(result).toMatchObject({ status: 0, stdout: `imds-analyzer ${packageVersion()}\n` });
      expect(result.stderr).toContain(`export IMDS_ANALYZER_LIBBPF`);
      expect(result.stderr).toContain(`IMDS_ANALYZER_LIBBPF=${APP_DIR}/lib/libbpf.so.1`);
      expect(result.stderr).toContain(`exec ${APP_DIR}/runtime/bin/node ${BUNDLE} --version`);
    });

    it('the native externals load beside the bundle, with the bundled libbpf', () => {
      const probe = `
        const { createRequire } = require('node:module');
        const appRequire = createRequire('${BUNDLE}');
        appRequire('sd-notify');
        const koffi = appRequire('koffi');
        const libbpf = koffi.load('${APP_DIR}/lib/libbpf.so.1');
        console.log(libbpf.func('const char *libbpf_version_string(void)')());
      `;
      const result = root.chroot(`${APP_DIR}/runtime/bin/node`, '-e', probe);
      expect(result.stderr).toBe('');
      expect(result.stdout.trim()).toMatch(/^v1\.\d+$/);
    });

    it('erase leaves no unit enabled', () => {
      expect(root.enabledLinks()).toEqual([root.at(wantsLink(REPO))]);
      root.rpm('-e', 'imds-analyzer');
      expect(root.enabledLinks()).toEqual([]);
      expect(existsSync(root.at(`${APP_DIR}/runtime/bin/node`))).toBe(false);
    });
  });

  describe.skipIf(noCross !== null)(
    `aarch64 build, cross-built on x86_64 (${noCross ?? 'cross tools present'})`,
    () => {
      let arm64 = '';
      let payload = '';
      let sysroot = '';
      let arm64Node = '';

      beforeAll(async () => {
        arm64 = await buildRpm(REPO, ['--target', 'al2023', '--release', '1', '--arch', 'aarch64']);
        payload = join(work, 'arm64-payload');
        mkdirSync(payload);
        run('sh', ['-c', `rpm2cpio '${arm64}' | cpio -idm --quiet`], { cwd: payload });
        // Asynchronously: a first fetch takes minutes, and a blocked worker trips vitest's RPC timeout.
        const fetched = (script: string, args: string[]) =>
          promisify(execFile)('bash', [join(REPO, script), ...args], { encoding: 'utf8' }).then((r) => r.stdout.trim());
        sysroot = await fetched('scripts/vm/fetch-root.sh', ['bookworm', 'arm64']);
        arm64Node = join(await fetched('scripts/fetch-node.sh', [AL2023_NODE_MAJOR, 'arm64']), 'bin/node');
      }, BUILD_MINUTES * 60_000);

      it('is an aarch64 package whose every binary is aarch64 code', () => {
        expect(arm64).toMatch(/\.amzn2023\.aarch64\.rpm$/);
        expect(run('rpm', ['-qp', '--queryformat', '%{ARCH}', arm64])).toBe('aarch64');
        const files = packagedFiles(arm64).filter((file) => (file.mode & S_IFMT) === S_IFREG);
        const described = files.map((file) => `${file.path}: ${run('file', ['-b', join(payload, file.path)]).trim()}`);
        // The BPF object is eBPF bytecode, the same for every architecture (CO-RE).
        expect(described).toContain(
          `${APP_DIR}/bpf/imds_analyzer.bpf.o: ${run('file', ['-b', join(REPO, 'bpf/imds_analyzer.bpf.o')]).trim()}`,
        );
        const elf = described.filter((line) => line.includes(': ELF ') && !line.includes(', eBPF,'));
        expect(elf.map((line) => line.split(':')[0])).toEqual([
          `${APP_DIR}/node_modules/@koromix/koffi-linux-arm64/linux_arm64/koffi.node`,
          `${APP_DIR}/node_modules/sd-notify/build/Release/notify.node`,
        ]);
        expect(elf.filter((line) => !line.includes('ARM aarch64'))).toEqual([]);
      });

      it('its sd-notify addon and koffi load in arm64 Node.js 22 (under qemu-user), and the bundle runs', () => {
        const arm64Run = (...args: string[]) =>
          spawnSync('qemu-aarch64-static', ['-L', sysroot, arm64Node, ...args], { encoding: 'utf8', timeout: 120_000 });
        const app = join(payload, APP_DIR);
        const probe = `
        const appRequire = require('node:module').createRequire('${app}/bundle/imds-analyzer.mjs');
        appRequire('sd-notify');
        const koffi = appRequire('koffi');
        const getpid = koffi.load('libc.so.6').func('int getpid(void)');
        console.log(process.arch, getpid() === process.pid);
      `;
        expect(arm64Run('-e', probe)).toMatchObject({ status: 0, stdout: 'arm64 true\n', stderr: '' });
        expect(arm64Run('--enable-source-maps', join(app, 'bundle/imds-analyzer.mjs'), '--version')).toMatchObject({
          status: 0,
          stdout: `imds-analyzer ${packageVersion()}\n`,
        });
        expect(JSON.parse(readFileSync(join(app, 'build-info.json'), 'utf8'))).toMatchObject({ node_major: 22 });
      });
    },
  );
});

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
}
