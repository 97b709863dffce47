// A throwaway root for installing our RPM with the real rpm (`rpm --root`): just what the
// package's scriptlets and launcher use, so they run for real, chrooted, without touching the
// host's rpm database or systemd. Used by the RPM and the SSM Distributor package tests.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  symlinkSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): string {
  // stderr is kept: a failure's message carries it (and Debian's rpm nags there on every call).
  return execFileSync(command, args, {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
  });
}

/** Where `systemctl enable` puts the link: the target named by the unit's WantedBy=. */
export function wantsLink(repo: string): string {
  const unit = readFileSync(join(repo, 'packaging/systemd/imds-analyzer.service'), 'utf8');
  const target = /^WantedBy=(\S+)/m.exec(unit)?.[1];
  if (target === undefined) throw new Error('packaging/systemd/imds-analyzer.service has no WantedBy=');
  return `/etc/systemd/system/${target}.wants/imds-analyzer.service`;
}
/**
 * A throwaway root with just what the scriptlets and the launcher use: /bin/sh, systemctl,
 * /dev/null, and the given binaries, each with the shared libraries it loads.
 */
export class ThrowawayRoot {
  readonly dir: string;

  constructor(parent: string, name: string) {
    this.dir = join(parent, name);
    for (const dir of ['usr/bin', 'usr/lib', 'usr/lib64', 'dev', 'etc'])
      mkdirSync(this.at(`/${dir}`), { recursive: true });
    for (const link of ['bin', 'lib', 'lib64']) symlinkSync(`usr/${link}`, this.at(`/${link}`));
    run('mknod', ['-m', '666', this.at('/dev/null'), 'c', '1', '3']);
    this.copyWithLibraries('/bin/sh', run('sh', ['-c', 'command -v systemctl']).trim());
    this.rpm('--initdb');
  }

  at(path: string): string {
    return join(this.dir, path);
  }

  /** Copies each binary to the same path in the root, with everything ldd says it loads. */
  copyWithLibraries(...binaries: string[]): void {
    this.copyLibrariesOf(...binaries);
    this.copySamePath(binaries);
  }

  /** Copies only the shared libraries the binaries load. */
  copyLibrariesOf(...binaries: string[]): void {
    this.copySamePath(
      binaries.flatMap((binary) => [...run('ldd', [binary]).matchAll(/(\/\S+) \(0x/g)].map((match) => match[1] ?? '')),
    );
  }

  private copySamePath(paths: readonly string[]): void {
    for (const path of paths) {
      const real = realpathSync(path);
      mkdirSync(dirname(this.at(real)), { recursive: true });
      if (!existsSync(this.at(real))) copyFileSync(real, this.at(real));
      if (real !== path && !existsSync(this.at(path))) {
        mkdirSync(dirname(this.at(path)), { recursive: true });
        symlinkSync(real, this.at(path));
      }
    }
  }

  /** rpm against this root's own database; scriptlets run chrooted into it. */
  rpm(...args: string[]): string {
    return run('rpm', ['--root', this.dir, '--dbpath', '/var/lib/rpm', ...args]);
  }

  chroot(...argv: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync('chroot', [this.dir, ...argv], {
      encoding: 'utf8',
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  /** Every systemd "wants"/"requires" link in the root's /etc that points at our unit. */
  enabledLinks(): string[] {
    const found: string[] = [];
    const walk = (dir: string): void => {
      if (!existsSync(dir)) return;
      for (const entry of readdirSync(dir)) {
        const path = join(dir, entry);
        const stat = lstatSync(path);
        if (stat.isDirectory()) walk(path);
        else if (stat.isSymbolicLink() && readlinkSync(path).endsWith('imds-analyzer.service')) found.push(path);
      }
    };
    walk(this.at('/etc/systemd'));
    return found;
  }
}
