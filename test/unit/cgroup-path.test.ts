// cgroup path -> systemd unit or container, from paths as real hosts write them in
// /proc/<pid>/cgroup (Debian/AL2023 cgroup v2, Amazon Linux 2 cgroup v1).
import { describe, expect, it } from 'vitest';
import {
  CUT_PATH,
  cgroupPathFromProcFile,
  systemdV1HierarchyId,
  placementFromCgroupPath,
} from '../../src/logic/cgroup-path.js';

const ID = '4b825dc642cb6eb9a060e54bf8d69288fbee4904e2c3d4f5a6b7c8d9e0f1a2b3';
const POD = '9f0e3b27-1c4d-4e8a-b6f1-2a3c4d5e6f70';
const POD_ = POD.replace(/-/g, '_');

describe('placementFromCgroupPath', () => {
  it.each([
    ['/system.slice/amazon-ssm-agent.service', 'amazon-ssm-agent.service'],
    ['/system.slice/cloud-init.service', 'cloud-init.service'],
    ['/system.slice/system-getty.slice/getty@tty1.service', 'getty@tty1.service'],
    ['/user.slice/user-1000.slice/session-3.scope', 'session-3.scope'],
    ['/user.slice/user-1000.slice/user@1000.service', 'user@1000.service'],
    ['/init.scope', 'init.scope'],
    // Below a service is its own (possibly delegated) subtree: the service is the unit.
    ['/system.slice/runner.service/job/amazon-ssm-agent.service', 'runner.service'],
  ])('unit of %s', (path, unit) => {
    expect(placementFromCgroupPath(path)).toEqual({ unit, container: null, userDelegated: false });
  });

  it.each([
    ['/user.slice/user-1000.slice/user@1000.service/app.slice/backup.service', 'user@1000.service/backup.service'],
    // A user naming a unit (systemd-run --user) or a cgroup like a system service is still the user's.
    [
      '/user.slice/user-1000.slice/user@1000.service/app.slice/amazon-ssm-agent.service',
      'user@1000.service/amazon-ssm-agent.service',
    ],
    ['/user.slice/user-1001.slice/user@1001.service/cloud-init.service', 'user@1001.service/cloud-init.service'],
    [
      `/user.slice/user-1000.slice/user@1000.service/user.slice/docker-${ID}.scope`,
      `user@1000.service/docker-${ID}.scope`,
    ],
    [`/user.slice/user-1000.slice/user@1000.service/app.slice/kubepods/pod${POD}/${ID}`, 'user@1000.service'],
  ])('a user-delegated unit: %s', (path, unit) => {
    expect(placementFromCgroupPath(path)).toEqual({ unit, container: null, userDelegated: unit.includes('/') });
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
    expect(placementFromCgroupPath(path)).toEqual({ unit: null, container, userDelegated: false });
  });

  it('a path the kernel cut (its top unknown) names neither a unit nor a container', () => {
    expect(placementFromCgroupPath(`${CUT_PATH}/amazon-ssm-agent.service/d0/d1/d2/d3/d4/d5/d6`)).toEqual({
      unit: null,
      container: null,
      userDelegated: false,
    });
    expect(placementFromCgroupPath(`${CUT_PATH}/docker/${ID}`).container).toBeNull();
  });

  it('a container only where its root-owned runtime puts it, not any look-alike segment below', () => {
    const user = '/user.slice/user-1000.slice/user@1000.service/app.slice';
    expect(placementFromCgroupPath(`${user}/docker-${ID}.scope`).container).toBeNull();
    expect(placementFromCgroupPath(`${user}/kubepods/burstable/pod${POD}/${ID}`).container).toBeNull();
    expect(placementFromCgroupPath(`/system.slice/ci.service/docker-${ID}.scope`)).toEqual({
      unit: 'ci.service',
      container: null,
      userDelegated: false,
    });
    expect(placementFromCgroupPath(`/system.slice/ci.service/docker/${ID}`).container).toBeNull();
    expect(placementFromCgroupPath(`/system.slice/ci.service/ecs/t/${ID}`).container).toBeNull();
  });

  it('names nothing for the root, odd paths, or look-alikes', () => {
    const none = { unit: null, container: null, userDelegated: false };
    expect(placementFromCgroupPath('/')).toEqual(none);
    expect(placementFromCgroupPath('')).toEqual(none);
    expect(placementFromCgroupPath('/docker/not-an-id')).toEqual(none);
    expect(placementFromCgroupPath('/system.slice/docker-xyz.scope')).toEqual({ ...none, unit: 'docker-xyz.scope' });
    expect(placementFromCgroupPath('/system.slice/docker.service')).toEqual({ ...none, unit: 'docker.service' });
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
