// The largest request line the daemon can write, built by the real line builder: every bound
// reached, every optional object present, ISO-looking strings wherever a process chooses text.
import type { Attribution } from '../../src/model/attribution.js';
import type { ObservedRequest } from '../../src/logic/connections.js';
import { buildRequestLine } from '../../src/logic/request-line.js';
import { completeGet } from './http-record.js';

const ISO = '2019-01-02T03:04:05.678Z';

/** 256 arguments (the kernel's and /proc's bound) of ISO-looking text. */
function longArgv(name: string): string[] {
  return [name, ...Array.from({ length: 255 }, (_, i) => `--since=${ISO}#${i}`)];
}

export function worstCaseRequestLine(): ReturnType<typeof buildRequestLine> {
  const observed: ObservedRequest = {
    flow: { cookie: 18446744073709551615n, family: 'ipv6', address: 'fd00:ec2::254', port: 80 }, // test data, never dialled
    index: 4294967295,
    request: {
      ...completeGet,
      path: `/latest/meta-data/${ISO}/${'p'.repeat(2000)}`,
      userAgent: `aws-sdk-go/1.20.0 (go1.12; linux; amd64) ${ISO}`,
      headerCount: 100,
      truncated: ['method', 'path', 'user_agent'],
    },
    classification: { imds_version: 'v1', aws_api: true, token_request: false },
    owner: {
      pid: 4194304,
      tid: 4194304,
      uid: 4294967294,
      gid: 4294967294,
      comm: 'worker',
      cgroupId: 1n,
      connectNs: 1n,
    },
    socketUid: 4294967294,
    socketCgroupId: 1n,
    seenNs: 1n,
    startSeq: 1,
    status: 200,
    resumeSeq: null,
  };
  const who: Attribution = {
    key: '4194304:1',
    process: {
      pid: 4194304,
      tid: 4194304,
      comm: 'worker',
      exe: `/opt/app/${ISO}/bin/worker`,
      argv: longArgv('/opt/app/bin/worker'),
      uid: 4294967294,
      user: 'application-user',
      gid: 4294967294,
      start_time: ISO,
      ns_pid: 7,
    },
    ancestors: Array.from({ length: 12 }, (_, i) => ({
      pid: 100 + i,
      comm: `parent-${i}`,
      exe: `/usr/bin/parent-${i}`,
      argv: longArgv(`parent-${i}`),
      uid: 0,
    })),
    unit: `app-${ISO}.service`,
    userDelegated: false,
    container: { runtime: 'containerd', id: 'c'.repeat(64), pod_uid: 'u'.repeat(36), ecs_task: 't'.repeat(32), pid: 7 },
    cgroup: `/kubepods.slice/${ISO}/${'c'.repeat(64)}`,
    truncated: ['process.argv', 'ancestors.argv'],
  };
  return buildRequestLine(observed, who, { reason: `token PUT answered 403 at ${ISO}` }, ISO);
}
