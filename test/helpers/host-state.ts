// Read-only views of the host for e2e assertions: what exists in the root namespace
// (network namespaces, links, IMDS routes) and whether a process is alive.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseProcStat } from '../../src/logic/proc-stat.js';

/** Skip reason for e2e files, or null when running as root. */
export const notRootReason: string | null =
  process.getuid?.() === 0 ? null : 'needs root: creates network namespaces, veths, cgroups and routes';

function ipJson<T>(args: string[]): T[] {
  const out = execFileSync('ip', ['-j', ...args], { encoding: 'utf8' }).trim();
  return out === '' ? [] : (JSON.parse(out) as T[]);
}

export function networkNamespaces(): string[] {
  return ipJson<{ name: string }>(['netns', 'list']).map((entry) => entry.name);
}

export function rootLinks(): string[] {
  return ipJson<{ ifname: string }>(['link', 'show']).map((entry) => entry.ifname);
}

export function linksIn(namespace: string): string[] {
  return ipJson<{ ifname: string }>(['-n', namespace, 'link', 'show']).map((entry) => entry.ifname);
}

/** Routes of a namespace's main table for one family, as `ip -j route show` gives them. */
export function routesIn(namespace: string | null, family: '-4' | '-6'): Array<{ dst: string; type?: string }> {
  const where = namespace === null ? [] : ['-n', namespace];
  return ipJson<{ dst: string; type?: string }>([...where, family, 'route', 'show', 'table', 'main']);
}

/** Whether the root namespace has the `unreachable` safety route for each IMDS address. */
export function rootImdsRoutes(): { ipv4: boolean; ipv6: boolean } {
  const unreachable = (family: '-4' | '-6', dst: string): boolean =>
    routesIn(null, family).some((route) => route.dst === dst && route.type === 'unreachable');
  return { ipv4: unreachable('-4', '169.254.169.254'), ipv6: unreachable('-6', 'fd00:ec2::254') };
}

/** Whether the process exists and is not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  try {
    const stat = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return stat !== null && stat.state !== 'Z';
  } catch {
    return false;
  }
}
