// The canary's pure parts: how long one runs, how a target is named, the header line the
// kernel inserts, and which cgroup a target stands for (docs/canary.md).
import {
  CANARY_HEADER_BYTES,
  CANARY_TOKEN_PREFIX,
  type CanaryTarget,
  type SystemdUnitState,
  type TargetState,
} from '../model/canary.js';
import { TOKEN_HEADER } from '../model/imds.js';
import { parseDuration } from './report/duration.js';

/** Without --for a canary ends after this long: nothing stays refused by mistake. */
export const DEFAULT_CANARY_SECONDS = 3600;
/** The longest a canary may run. */
export const MAX_CANARY_SECONDS = 7 * 86400;

/** `--for` in seconds (90s, 30m, 24h, 7d), or a message saying what is wrong. */
export function canaryDuration(text: string | undefined): number | string {
  if (text === undefined) return DEFAULT_CANARY_SECONDS;
  const ms = parseDuration(text);
  if (ms === null || ms <= 0) return `--for takes a duration such as 90s, 30m, 24h or 7d, not "${text}"`;
  const seconds = Math.ceil(ms / 1000);
  if (seconds > MAX_CANARY_SECONDS) return `--for is at most 7d (a canary must end), not "${text}"`;
  return seconds;
}

export function targetLabel(target: CanaryTarget): string {
  switch (target.kind) {
    case 'unit':
      return `unit:${target.name}`;
    case 'cgroup':
      return `cgroup:${target.path}`;
    case 'container':
      return `container:${target.id}`;
  }
}

/** The secret part of the daemon's canary token: 16 lower-case hex digits. */
export function isCanarySecret(secret: string): boolean {
  return /^[0-9a-f]{16}$/.test(secret);
}

/** `X-aws-ec2-metadata-token: imds-analyzer-canary-<secret>\r\n`, as the kernel inserts it. */
export function canaryHeaderLine(secret: string): Uint8Array {
  if (!isCanarySecret(secret)) throw new Error('the canary secret is 16 lower-case hex digits');
  const name = 'X-aws-ec2-metadata-token';
  if (name.toLowerCase() !== TOKEN_HEADER) throw new Error('token header name drifted');
  const line = new TextEncoder().encode(`${name}: ${CANARY_TOKEN_PREFIX}${secret}\r\n`);
  if (line.length !== CANARY_HEADER_BYTES) throw new Error(`canary header is ${line.length} bytes`);
  return line;
}

/** A cgroup path relative to the cgroup2 mount: `/a/b`, no `..`, no empty parts. */
export function normalCgroupPath(path: string): string | null {
  const parts = path.split('/').filter((part) => part !== '');
  if (parts.length === 0 || parts.some((part) => part === '.' || part === '..')) return null;
  return `/${parts.join('/')}`;
}

/**
 * A container's cgroup directory name as docker, containerd (CRI and plain), cri-o and podman
 * make it, under systemd's driver (`docker-<id>.scope`) or cgroupfs (`.../<id>`).
 */
export function namesContainer(directoryName: string, id: string): boolean {
  if (!/^[0-9a-f]{12,64}$/.test(id)) return false;
  const full = /^(?:docker-|cri-containerd-|crio-|libpod-)?([0-9a-f]{64})(?:\.scope)?$/.exec(directoryName);
  return full !== null && (full[1] as string).startsWith(id);
}

/** Is `cgroup` (a request line's) inside the canary's subtree `root`? */
export function inSubtree(cgroup: string | null, root: string): boolean {
  if (cgroup === null) return false;
  return cgroup === root || cgroup.startsWith(`${root}/`);
}

/** The properties `systemctl show` is asked for, to follow a canary's unit. */
export const SYSTEMD_PROPERTIES = ['ActiveState', 'SubState', 'Result', 'NRestarts'] as const;

/**
 * A unit's state from `systemctl show --property=ActiveState,SubState,Result,NRestarts`
 * (`Key=Value` lines), or null when the text names no state. systemd before 235 has no
 * NRestarts: null there.
 */
export function parseSystemdShow(text: string): SystemdUnitState | null {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  const active = values.get('ActiveState');
  if (!active) return null;
  const restarts = values.get('NRestarts');
  return {
    active_state: active,
    sub_state: values.get('SubState') ?? '',
    result: values.get('Result') ?? '',
    n_restarts: restarts !== undefined && /^\d+$/.test(restarts) ? Number(restarts) : null,
  };
}

/** Does `next` say something `previous` did not (a line is written only then)? */
export function targetStateChanged(previous: TargetState | null, next: TargetState): boolean {
  return previous === null || JSON.stringify(previous) !== JSON.stringify(next);
}
