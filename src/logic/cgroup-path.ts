// Where a process runs, from its cgroup path: the systemd unit, or the container
// (runtime and id; Kubernetes pod UID). Paths as found in /proc/<pid>/cgroup.
import type { ContainerPlacement, ContainerRuntime } from '../model/attribution.js';

export interface Placement {
  unit: string | null;
  container: ContainerPlacement | null;
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

export function placementFromCgroupPath(path: string): Placement {
  const segments = path.split('/').filter(Boolean);
  let container: ContainerPlacement | null = null;

  const podIndex = segments.findIndex((s) => POD.test(s));
  if (segments.some((s) => s.startsWith('kubepods')) && podIndex >= 0) {
    const podUid = (POD.exec(segments[podIndex] as string)?.[1] ?? '').replace(/_/g, '-');
    const after = segments[podIndex + 1];
    const inner = after ? scopeContainer(after) : null;
    const id = inner?.id ?? (after && HEX_ID.test(after) ? after : '');
    container = { runtime: 'kubernetes', id, pod_uid: podUid };
  } else if (segments[0] === 'ecs' && segments.length >= 3) {
    container = { runtime: 'ecs', id: segments[2] as string, ecs_task: segments[1] as string };
  } else if (segments[0] === 'ecstasks.slice' && segments[1] && ECS_TASK_SLICE.test(segments[1])) {
    const inner = segments[2] ? scopeContainer(segments[2]) : null;
    container = { runtime: 'ecs', id: inner?.id ?? '', ecs_task: ECS_TASK_SLICE.exec(segments[1])?.[1] ?? '' };
  } else if (segments[0] === 'docker' && segments[1] && HEX_ID.test(segments[1])) {
    container = { runtime: 'docker', id: segments[1] };
  } else if (segments[0] === 'lxc.payload' || segments[0]?.startsWith('lxc.payload.')) {
    container = { runtime: 'lxc', id: segments[0].replace(/^lxc\.payload\.?/, '') || (segments[1] ?? '') };
  } else {
    for (const s of segments) {
      const found = scopeContainer(s);
      if (found) container = found;
    }
  }

  // The unit: the deepest .service or .scope that is not a container's own scope.
  let unit: string | null = null;
  for (const s of segments) {
    if ((s.endsWith('.service') || s.endsWith('.scope')) && !scopeContainer(s)) unit = s;
  }
  return { unit: container ? null : unit, container };
}
