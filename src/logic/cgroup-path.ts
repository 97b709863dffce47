// Where a process runs, from its cgroup path: the systemd unit, or the container
// (runtime and id; Kubernetes pod UID). Paths as found in /proc/<pid>/cgroup.
//
// A cgroup subtree can be delegated: systemd hands user@UID.service to that user's own
// manager, and a service with Delegate= owns what is below it. Whoever owns a subtree names
// the cgroups in it, so a name is only believed where root chose it:
// - the unit is the first .service or .scope from the root (systemd puts units only in
//   slices, never below another unit); below user@UID.service, the user's unit is given as
//   `user@UID.service/<unit>` and the placement says it is user-delegated;
// - a container only where its runtime (run by root) puts it: at a fixed place from the root
//   (system.slice/docker-<id>.scope, kubepods.../pod<uid>/..., /docker/<id>, ...), never
//   because a segment somewhere below looks like one.
import type { ContainerPlacement, ContainerRuntime } from '../model/attribution.js';

export interface Placement {
  unit: string | null;
  container: ContainerPlacement | null;
  /** The unit's name was chosen in a subtree delegated to an unprivileged user (user@UID.service). */
  userDelegated: boolean;
}

const SCOPE_RUNTIMES: Array<[RegExp, ContainerRuntime]> = [
  [/^docker-([0-9a-f]{12,64})\.scope$/, 'docker'],
  [/^cri-containerd-([0-9a-f]{12,64})\.scope$/, 'containerd'],
  [/^crio-([0-9a-f]{12,64})\.scope$/, 'cri-o'],
  [/^libpod-([0-9a-f]{12,64})\.scope$/, 'podman'],
];
const HEX_ID = /^[0-9a-f]{64}$/;
/** ECS task slice with cgroup v2 (AL2023 ECS AMIs): ecstasks.slice/ecstasks-<task id>.slice/docker-<id>.scope. */
const ECS_TASK_SLICE = /^ecstasks-([0-9a-f]{32})\.slice$/;
const POD = /^(?:kubepods-(?:besteffort-|burstable-)?)?pod([0-9a-f_-]{36})(?:\.slice)?$/;

function scopeContainer(segment: string): { runtime: ContainerRuntime; id: string } | null {
  for (const [pattern, runtime] of SCOPE_RUNTIMES) {
    const m = pattern.exec(segment);
    if (m?.[1]) return { runtime, id: m[1] };
  }
  return null;
}

/** The cgroup v2 path from /proc/<pid>/cgroup ("0::/...", else the name=systemd line). */
export function cgroupPathFromProcFile(content: string): string | null {
  const lines = content.split('\n');
  const v2 = lines.find((l) => l.startsWith('0::'));
  if (v2 && v2.slice(3) !== '/') return v2.slice(3);
  const systemd = lines.find((l) => /^\d+:name=systemd:/.test(l));
  if (systemd) return systemd.slice(systemd.indexOf(':', systemd.indexOf(':') + 1) + 1);
  return v2 ? v2.slice(3) : null;
}

/**
 * The hierarchy id of the cgroup v1 name=systemd line of /proc/<pid>/cgroup (Amazon Linux 2,
 * or a hybrid host), 0 without one. There units live in v1, while the v2 hierarchy the
 * socket programs attach to may hold every process at its root.
 */
export function systemdV1HierarchyId(procCgroup: string): number {
  const m = /^(\d+):name=systemd:/m.exec(procCgroup);
  return m ? Number(m[1]) : 0;
}

/** Where root's runtimes put a container's scope: the parent segments from the root. */
const SCOPE_PARENTS = [['system.slice'], ['system.slice', 'containerd.service'], ['machine.slice']];
const USER_MANAGER = /^user@\d+\.service$/;
const isUnit = (segment: string) => segment.endsWith('.service') || segment.endsWith('.scope');

function containerOf(segments: readonly string[]): ContainerPlacement | null {
  const [first, second, third] = segments;
  if (first === 'kubepods.slice' || first === 'kubepods') {
    // kubepods[.slice]/[<qos>/]pod<uid>: the QoS level is optional (guaranteed pods).
    const podIndex = [1, 2].find((i) => POD.test(segments[i] ?? ''));
    if (podIndex === undefined) return null;
    const podUid = (POD.exec(segments[podIndex] as string)?.[1] ?? '').replace(/_/g, '-');
    const after = segments[podIndex + 1];
    const inner = after ? scopeContainer(after) : null;
    const id = inner?.id ?? (after && HEX_ID.test(after) ? after : '');
    return { runtime: 'kubernetes', id, pod_uid: podUid };
  }
  if (first === 'ecs' && second && third) return { runtime: 'ecs', id: third, ecs_task: second };
  if (first === 'ecstasks.slice' && second && ECS_TASK_SLICE.test(second)) {
    const inner = third ? scopeContainer(third) : null;
    return { runtime: 'ecs', id: inner?.id ?? '', ecs_task: ECS_TASK_SLICE.exec(second)?.[1] ?? '' };
  }
  if (first === 'docker' && second && HEX_ID.test(second)) return { runtime: 'docker', id: second };
  if (first === 'lxc.payload' || first?.startsWith('lxc.payload.'))
    return { runtime: 'lxc', id: first.replace(/^lxc\.payload\.?/, '') || (second ?? '') };
  for (const parents of SCOPE_PARENTS) {
    const scope = segments[parents.length];
    if (scope && parents.every((p, i) => segments[i] === p)) {
      const found = scopeContainer(scope);
      if (found) return found;
    }
  }
  return null;
}

/**
 * Starts a path the kernel cut to its nearest levels (deeper than it keeps): its top is
 * unknown, so neither a unit nor a container can be told from it (a user could make the cut
 * fall on a segment named like a system service).
 */
export const CUT_PATH = '…';

export function placementFromCgroupPath(path: string): Placement {
  if (path.startsWith(CUT_PATH)) return { unit: null, container: null, userDelegated: false };
  const segments = path.split('/').filter(Boolean);
  const container = containerOf(segments);
  if (container) return { unit: null, container, userDelegated: false };
  const at = segments.findIndex(isUnit);
  const unit = segments[at];
  if (unit === undefined) return { unit: null, container: null, userDelegated: false };
  if (!USER_MANAGER.test(unit)) return { unit, container: null, userDelegated: false };
  const userUnit = segments.slice(at + 1).find(isUnit);
  return { unit: userUnit ? `${unit}/${userUnit}` : unit, container: null, userDelegated: userUnit !== undefined };
}
