// A complete `imds_request` line of the log contract, for tests that need one to vary.
import type { RequestLine } from '../../src/model/log-line.js';

export function requestLine(): RequestLine {
  return {
    event: 'imds_request',
    imds_version: 'v1',
    aws_api: true,
    request: {
      method: 'GET',
      path: '/latest/meta-data/iam/security-credentials/',
      token_request: false,
      user_agent: 'curl/8.0',
    },
    destination: { address: '169.254.169.254', port: 80 }, // test data: never dialled
    process: {
      pid: 123,
      tid: 123,
      comm: 'curl',
      exe: '/usr/bin/curl',
      argv: ['curl', '-s', 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'], // test data
      uid: 0,
      user: 'root',
      gid: 0,
      start_time: '2026-11-28T14:04:05.000Z',
      ns_pid: null,
      cmdline: 'curl -s http://169.254.169.254/latest/meta-data/iam/security-credentials/', // test data
    },
    ancestors: [{ pid: 1, comm: 'systemd', exe: '/usr/lib/systemd/systemd', argv: ['/sbin/init'], uid: 0 }],
    unit: 'cloud-init.service',
    user_delegated: false,
    container: null,
    cgroup: '/system.slice/cloud-init.service',
    sdk: null,
    response: { status: 200 },
    fallback: null,
    advice: null,
    connection: { cookie: '4097', request_index: 0, start_seq: 1001, resume_seq: 1060 },
    request_time: '2026-11-28T14:04:05.123Z',
    truncated: [],
    redacted: [],
  };
}
