// Keep-alive connections whose GET requests were sent back to back and never answered, as
// payload records: what makes thousands of requests expire at once (test/unit/expiry-turn.test.ts,
// bench/expiry.ts).
import type { Flow, KernelRecord } from '../../src/model/records.js';

const encoder = new TextEncoder();

export const flowOf = (cookie: number): Flow => ({
  cookie: BigInt(cookie),
  family: 'ipv4',
  address: '169.254.169.254', // data for the records, never dialled
  port: 80,
});

const get = (n: number) => encoder.encode(`GET /latest/meta-data/ami-id?n=${n} HTTP/1.1\r\nHost: imds\r\n\r\n`);

/** Pids above this machine class's pid_max: no real process is read for them. */
const PID_BASE = 4_200_000;

/**
 * `connections[i]` requests on connection i + 1, all at kernel time `atNs`; where each
 * connection's stream ends (an answer acknowledging it all). `owned`: each connection's socket
 * names its own process (one that is gone: the pipeline looks for it in /proc), else none.
 */
export function waitingRequests(
  connections: number[],
  atNs: bigint,
  owned = false,
): { records: KernelRecord[]; endSeq: Map<number, number> } {
  const records: KernelRecord[] = [];
  const endSeq = new Map<number, number>();
  connections.forEach((requests, i) => {
    const cookie = i + 1;
    const pid = PID_BASE + cookie;
    const owner = owned
      ? { pid, tid: pid, uid: 1000, gid: 1000, comm: `p${cookie}`, cgroupId: 0n, connectNs: atNs }
      : null;
    let seq = 1;
    for (let n = 0; n < requests; n++) {
      const bytes = get(n);
      records.push({
        kind: 'payload',
        tsNs: atNs,
        flow: flowOf(cookie),
        owner,
        socketUid: 1000,
        socketCgroupId: 0n,
        seq,
        streamStart: n === 0 ? 1 : null,
        wireLength: bytes.length,
        bytes,
      });
      seq += bytes.length;
    }
    endSeq.set(cookie, seq);
  });
  return { records, endSeq };
}
