// cgroup path -> systemd unit or container, from paths as real hosts write them in
// /proc/<pid>/cgroup (Debian/AL2023 cgroup v2, Amazon Linux 2 cgroup v1).
import { describe, expect, it } from 'vitest';
import { cgroupPathFromProcFile, systemdV1HierarchyId, placementFromCgroupPath } from '../../src/logic/cgroup-path.js';

const ID = '4b825dc642cb6eb9a060e54bf8d69288fbee4904e2c3d4f5a6b7c8d9e0f1a2b3';
const POD = '9f0e3b27-1c4d-4e8a-b6f1-2a3c4d5e6f70';
const POD_ = POD.replace(/-/g, '_');

describe('placementFromCgroupPath', () => {
  it.each([
    ['/system.slice/amazon-ssm-agent.service', 'amazon-ssm-agent.service'],
    ['/system.slice/cloud-init.service', 'cloud-init.service'],
    ['/system.slice/system-getty.slice/getty@tty1.service', 'getty@tty1.service'],
    ['/user.slice/user-1000.slice/session-3.scope', 'session-3.scope'],
    ['/user.slice/user-1000.slice/user@1000.service/app.slice/backup.service', 'backup.service'],
    ['/user.slice/user-1000.slice/user@1000.service', 'user@1000.service'],
    ['/init.scope', 'init.scope'],
  ])('unit of %s', (path, unit) => {
    expect(placementFromCgroupPath(path)).toEqual({ unit, container: null });
  });

  it.each([
    [`/system.slice/docker-${ID}.scope`, { runtime: 'docker', id: ID }],
    [`/docker/${ID}`, { runtime: 'docker', id: ID }],
    [`/system.slice/containerd.service/cri-containerd-${ID}.scope`, { runtime: 'containerd', id: ID }],
    [`/system.slice/crio-${ID}.scope`, { runtime: 'cri-o', id: ID }],
    [`/machine.slice/libpod-${ID}.scope/container`, { runtime: 'podman', id: ID }],
    [
      `/ecs/5a1b2c3d4e5f60718293a4b5c6d7e8f9/${ID}`,
      { runtime: 'ecs', id: ID, ecs_task: '5a1b2c3d4e5f60718293a4b5c6d7e8f9' },
    ],
    [
      `/ecstasks.slice/ecstasks-e95a40efbde84cbc8600660a109ec194.slice/docker-${ID}.scope`,
      { runtime: 'ecs', id: ID, ecs_task: 'e95a40efbde84cbc8600660a109ec194' },
    ],
    [
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_}.slice/cri-containerd-${ID}.scope`,
      { runtime: 'kubernetes', id: ID, pod_uid: POD },
    ],
    [
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD_}.slice/crio-${ID}.scope`,
      { runtime: 'kubernetes', id: ID, pod_uid: POD },
    ],
    [`/kubepods.slice/kubepods-pod${POD_}.slice/docker-${ID}.scope`, { runtime: 'kubernetes', id: ID, pod_uid: POD }],
    [`/kubepods/burstable/pod${POD}/${ID}`, { runtime: 'kubernetes', id: ID, pod_uid: POD }],
    [`/kubepods/pod${POD}/${ID}`, { runtime: 'kubernetes', id: ID, pod_uid: POD }],
    // The pod's own cgroup (its pause process): pod known, no container id.
    [`/kubepods/besteffort/pod${POD}`, { runtime: 'kubernetes', id: '', pod_uid: POD }],
  ])('container of %s', (path, container) => {
    expect(placementFromCgroupPath(path)).toEqual({ unit: null, container });
  });

  it('names nothing for the root, odd paths, or look-alikes', () => {
    expect(placementFromCgroupPath('/')).toEqual({ unit: null, container: null });
    expect(placementFromCgroupPath('')).toEqual({ unit: null, container: null });
    expect(placementFromCgroupPath('/docker/not-an-id')).toEqual({ unit: null, container: null });
    expect(placementFromCgroupPath('/system.slice/docker-xyz.scope')).toEqual({
      unit: 'docker-xyz.scope',
      container: null,
    });
    expect(placementFromCgroupPath('/system.slice/docker.service')).toEqual({
      unit: 'docker.service',
      container: null,
    });
  });
});

describe('cgroupPathFromProcFile', () => {
  it('reads the cgroup v2 line', () => {
    expect(cgroupPathFromProcFile('0::/system.slice/amazon-ssm-agent.service\n')).toBe(
      '/system.slice/amazon-ssm-agent.service',
    );
  });

  it('on a cgroup v1 host (Amazon Linux 2) reads the name=systemd hierarchy', () => {
    const al2 = [
      '11:cpuset:/',
      `10:memory:/docker/${ID}`,
      '4:pids:/system.slice/amazon-ssm-agent.service',
      '1:name=systemd:/system.slice/amazon-ssm-agent.service',
      '',
    ].join('\n');
    expect(cgroupPathFromProcFile(al2)).toBe('/system.slice/amazon-ssm-agent.service');
  });

  it('on a hybrid host prefers name=systemd over an empty v2 line', () => {
    const hybrid = `12:pids:/user.slice\n1:name=systemd:/user.slice/user-0.slice/session-7.scope\n0::/\n`;
    expect(cgroupPathFromProcFile(hybrid)).toBe('/user.slice/user-0.slice/session-7.scope');
    expect(cgroupPathFromProcFile('0::/\n')).toBe('/');
  });

  it('says null for content that names no hierarchy', () => {
    expect(cgroupPathFromProcFile('')).toBeNull();
    expect(cgroupPathFromProcFile('garbage\n\u0000')).toBeNull();
  });
});

describe('systemdV1HierarchyId', () => {
  it("is the name=systemd line's hierarchy id on Amazon Linux 2 (v1 only) and hybrid hosts, 0 on a v2-only host", () => {
    expect(systemdV1HierarchyId('4:pids:/system.slice/x.service\n1:name=systemd:/system.slice/x.service\n')).toBe(1);
    expect(systemdV1HierarchyId('12:pids:/\n13:name=systemd:/\n0::/\n')).toBe(13);
    expect(systemdV1HierarchyId('0::/system.slice/imds-analyzer.service\n')).toBe(0);
    expect(systemdV1HierarchyId('1:name=elogind:/\n0::/\n')).toBe(0);
    expect(systemdV1HierarchyId('')).toBe(0);
  });
});
