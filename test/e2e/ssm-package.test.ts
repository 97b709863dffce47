// The SSM Distributor package, end to end: `npm run ssm-package` (scripts/ssm-package.mjs)
// builds the four RPMs with scripts/build-rpm.sh and zips them with their scripts; the manifest
// is checked against Distributor's rules and each zip's sha256, and every zip's own install.sh,
// update.sh and uninstall.sh run against a throwaway root (the real rpm, the RPM's scriptlets
// running the real systemctl chrooted), proving the package installed and its unit enabled,
// then removed. Nothing here touches the host's own rpm database or systemd.
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, ThrowawayRoot, wantsLink } from '../rig/rpm-root.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPTS = ['install.sh', 'uninstall.sh', 'update.sh'];
const SHARE_DIR = '/usr/share/imds-analyzer';
const UNIT = '/usr/lib/systemd/system/imds-analyzer.service';
/** Every platform, version and architecture the package serves, with the RPM's dist and arch. */
const ENTRIES = [
  { version: '2023', arch: 'x86_64', dist: 'amzn2023', rpmArch: 'x86_64' },
  { version: '2023', arch: 'arm64', dist: 'amzn2023', rpmArch: 'aarch64' },
  { version: '2', arch: 'x86_64', dist: 'amzn2', rpmArch: 'x86_64' },
  { version: '2', arch: 'arm64', dist: 'amzn2', rpmArch: 'aarch64' },
];
const BUILD_MINUTES = 15;
const notRoot = process.getuid?.() === 0 ? null : 'needs root: rpm --root, chroot and mknod';
const packageVersion = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

interface Manifest {
  schemaVersion: string;
  version: string;
  publisher?: string;
  packages: Record<string, Record<string, Record<string, { file: string }>>>;
  files: Record<string, { checksums: { sha256: string } }>;
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe.skipIf(notRoot !== null)(`SSM Distributor package (${notRoot ?? 'root'})`, () => {
  let work = '';
  let out = '';
  let manifest: Manifest;
  const zipOf = (version: string, arch: string) => join(out, manifest.packages.amazon?.[version]?.[arch]?.file ?? '');

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'imds-analyzer-ssm-test-'));
    out = join(work, 'dist-ssm');
    // Asynchronously: four RPM builds take minutes and the worker must keep answering vitest.
    // This host's runtimes for Amazon Linux 2: they prove the packaging, not the AL2 runtime.
    const { stdout } = await promisify(execFile)(
      'npm',
      ['run', '--silent', 'ssm-package', '--', '--out', out, '--al2-runtimes-of-build-host'],
      { cwd: REPO, encoding: 'utf8', maxBuffer: 64 << 20 },
    );
    expect(stdout.trim().split('\n').at(-1)).toBe(join(out, 'manifest.json'));
    manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Manifest;
  }, BUILD_MINUTES * 60_000);

  afterAll(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  describe('manifest.json', () => {
    it('is schema 2.0, versioned as the RPMs, from a publisher', () => {
      expect(manifest.schemaVersion).toBe('2.0');
      expect(manifest.version).toBe(`${packageVersion}-1`);
      expect(manifest.version).toMatch(/^[a-zA-Z0-9_\-.]{1,128}$/);
      expect(manifest.publisher).toEqual(expect.any(String));
      expect(Object.keys(manifest).sort()).toEqual(['files', 'packages', 'publisher', 'schemaVersion', 'version']);
    });

    it('has one entry per platform and architecture, each naming its own zip', () => {
      expect(Object.keys(manifest.packages)).toEqual(['amazon']);
      const entries = Object.entries(manifest.packages.amazon ?? {}).flatMap(([version, arches]) =>
        Object.entries(arches).map(([arch, entry]) => ({ version, arch, file: entry.file })),
      );
      expect(entries.map(({ version, arch }) => ({ version, arch }))).toEqual(
        expect.arrayContaining(ENTRIES.map(({ version, arch }) => ({ version, arch }))),
      );
      expect(entries).toHaveLength(ENTRIES.length);
      expect(new Set(entries.map((e) => e.file)).size).toBe(ENTRIES.length);
      expect(Object.keys(manifest.files).sort()).toEqual(entries.map((e) => e.file).sort());
    });

    it("lists each zip's sha256, at most 20 files of at most 1 GB, and nothing else in the output", () => {
      const files = Object.entries(manifest.files);
      expect(files.length).toBeLessThanOrEqual(20);
      for (const [file, { checksums }] of files) {
        expect(checksums.sha256, file).toMatch(/^[0-9a-f]{64}$/);
        expect(sha256(join(out, file)), file).toBe(checksums.sha256);
        expect(statSync(join(out, file)).size).toBeLessThan(1024 ** 3);
      }
      expect(readdirSync(out).sort()).toEqual([...files.map(([file]) => file), 'manifest.json'].sort());
    });
  });

  describe.each(ENTRIES)('the amazon $version $arch zip', ({ version, arch, dist, rpmArch }) => {
    let unpacked = '';
    let rpm = '';

    beforeAll(() => {
      unpacked = join(work, `unpacked-${version}-${arch}`);
      mkdirSync(unpacked);
      run('unzip', ['-q', zipOf(version, arch), '-d', unpacked]);
      rpm = readdirSync(unpacked).find((name) => name.endsWith('.rpm')) ?? '';
    });

    it("holds the three scripts (executable, as in packaging/ssm) and this target's RPM, nothing else", () => {
      console.log(`amazon ${version} ${arch}: ${statSync(zipOf(version, arch)).size} bytes`);
      expect(readdirSync(unpacked).sort()).toEqual([...SCRIPTS, rpm].sort());
      for (const script of SCRIPTS) {
        expect(readFileSync(join(unpacked, script), 'utf8')).toBe(
          readFileSync(join(REPO, 'packaging/ssm', script), 'utf8'),
        );
        expect(statSync(join(unpacked, script)).mode & 0o777).toBe(0o755);
      }
      expect(rpm).toBe(`imds-analyzer-${packageVersion}-1.${dist}.${rpmArch}.rpm`);
      expect(run('rpm', ['-qp', '--queryformat', '%{ARCH} %{RELEASE}', join(unpacked, rpm)])).toBe(
        `${rpmArch} 1.${dist}`,
      );
    });

    it('its RPM ships the fleet files: agent fragments, dashboard body, alarm', () => {
      const listed = run('rpm', ['-qpl', join(unpacked, rpm)])
        .trim()
        .split('\n');
      const fleet = readdirSync(join(REPO, 'packaging/fleet')).filter((name) => name.endsWith('.json'));
      expect(fleet.sort()).toEqual([
        'cloudwatch-agent-verdicts.json',
        'cloudwatch-agent.json',
        'cloudwatch-alarm.json',
        'cloudwatch-dashboard.json',
      ]);
      expect(listed).toEqual(expect.arrayContaining(fleet.map((name) => `${SHARE_DIR}/${name}`)));
    });

    describe('install.sh, update.sh and uninstall.sh against a throwaway root', () => {
      let root: ThrowawayRoot;
      const script = (name: string) =>
        run('sh', [join(unpacked, name)], { env: { ...process.env, IMDS_ANALYZER_TEST_ROOT: root.dir } });
      const installed = () => root.rpm('-q', 'imds-analyzer').trim();

      beforeAll(() => {
        root = new ThrowawayRoot(work, `root-${version}-${arch}`);
      });

      it("install.sh installs the zip's RPM and the preset enables the unit", () => {
        script('install.sh');
        expect(installed()).toBe(`imds-analyzer-${packageVersion}-1.${dist}.${rpmArch}`);
        expect(existsSync(root.at(UNIT))).toBe(true);
        expect(root.enabledLinks()).toEqual([root.at(wantsLink(REPO))]);
      });

      it('update.sh installs it again in place: still installed, still enabled', () => {
        script('update.sh');
        expect(installed()).toBe(`imds-analyzer-${packageVersion}-1.${dist}.${rpmArch}`);
        expect(root.enabledLinks()).toEqual([root.at(wantsLink(REPO))]);
      });

      it('uninstall.sh removes it: no package, no unit, nothing enabled', () => {
        script('uninstall.sh');
        const query = spawnSync('rpm', ['--root', root.dir, '--dbpath', '/var/lib/rpm', '-q', 'imds-analyzer']);
        expect(query.status).toBe(1);
        expect(existsSync(root.at(UNIT))).toBe(false);
        expect(root.enabledLinks()).toEqual([]);
      });
    });
  });
});
