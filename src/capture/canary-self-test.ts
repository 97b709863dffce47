// Proves on this kernel, before a canary starts, that the canary's sk_msg program rewrites
// exactly as meant: a TCP connection over loopback is put in a freshly loaded canary's
// map and requests are sent through it the ways clients send them (whole, split over
// several writes, pipelined, with a body, with a token); what arrives must be, byte for
// byte, the requests with the canary's header after the request line of the tokenless
// ones and nothing else changed. A kernel whose bpf_msg_push_data, cork or apply_bytes
// misbehaves fails here, and `canary start` refuses instead of corrupting requests.
import { once } from 'node:events';
import { type AddressInfo, createServer, connect, type Socket } from 'node:net';
import type { Libbpf } from '../libbpf/libbpf.js';
import { CanaryProgram, CanaryUnsupportedError } from './canary.js';

interface Case {
  name: string;
  writes: string[];
}

const TOKENLESS = 'GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\nAccept: */*\r\n\r\n';
const TOKENED =
  'GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nX-aws-ec2-metadata-token: c2VsZi10ZXN0\r\n\r\n';
const TOKEN_PUT =
  'PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nx-aws-ec2-metadata-token-ttl-seconds: 21600\r\nContent-Length: 0\r\n\r\n';
const WITH_BODY = 'POST /latest/x HTTP/1.1\r\nHost: 169.254.169.254\r\nContent-Length: 11\r\n\r\nGET / HTTP/';
const SHORT_TOKEN = 'GET / HTTP/1.1\r\nx-aws-ec2-metadata-token: a\r\n\r\n';

/**
 * Each case: the writes a client makes (a pause between them), and the requests the canary
 * changes, by index (the others pass as written). A write that goes on with another request
 * is left alone with the rest of its connection.
 */
const CASES: Array<Case & { requests: string[]; changed: number[] }> = [
  { name: 'one write', writes: [TOKENLESS], requests: [TOKENLESS], changed: [0] },
  {
    name: 'split header block',
    writes: [TOKENLESS.slice(0, 20), TOKENLESS.slice(20, 50), TOKENLESS.slice(50)],
    requests: [TOKENLESS],
    changed: [0],
  },
  {
    name: 'split request line',
    writes: [TOKENLESS.slice(0, 5), TOKENLESS.slice(5)],
    requests: [TOKENLESS],
    changed: [0],
  },
  { name: 'token', writes: [TOKENED, TOKENLESS], requests: [TOKENED, TOKENLESS], changed: [1] },
  { name: 'short token', writes: [SHORT_TOKEN], requests: [SHORT_TOKEN], changed: [] },
  { name: 'token PUT', writes: [TOKEN_PUT, TOKENED], requests: [TOKEN_PUT, TOKENED], changed: [] },
  {
    name: 'body apart',
    writes: [WITH_BODY.slice(0, -5), WITH_BODY.slice(-5), TOKENLESS],
    requests: [WITH_BODY, TOKENLESS],
    changed: [0, 1],
  },
  {
    name: 'pipelined',
    writes: [TOKENLESS + TOKENED, TOKENLESS],
    requests: [TOKENLESS, TOKENED, TOKENLESS],
    changed: [],
  },
  { name: 'body and more', writes: [WITH_BODY + TOKENLESS], requests: [WITH_BODY, TOKENLESS], changed: [] },
];

/** What IMDS must receive: each changed request with the header after its request line. */
function expected(testCase: (typeof CASES)[number], header: string): string {
  return testCase.requests
    .map((request, index) => {
      if (!testCase.changed.includes(index)) return request;
      const eol = request.indexOf('\r\n') + 2;
      return request.slice(0, eol) + header + request.slice(eol);
    })
    .join('');
}

const PAUSE_MS = 30;
const CASE_TIMEOUT_MS = 3000;

function fdOf(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('no file descriptor for the self-test socket');
  return fd;
}

async function runCase(
  canary: CanaryProgram,
  header: string,
  testCase: (typeof CASES)[number],
  key: bigint,
): Promise<void> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    client.setNoDelay(true);
    await once(client, 'connect');
    const [peer] = await accepted;
    try {
      canary.addSocket(fdOf(client), key);
      const want = expected(testCase, header);
      let got = '';
      const arrived = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out')), CASE_TIMEOUT_MS);
        peer.on('data', (chunk: Buffer) => {
          got += chunk.toString('latin1');
          if (got.length >= want.length) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      for (const [index, write] of testCase.writes.entries()) {
        if (index > 0) await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
        await new Promise<void>((resolve, reject) =>
          client.write(write, 'latin1', (err) => (err ? reject(err) : resolve())),
        );
      }
      await arrived.catch((err: Error) => {
        throw new Error(`${testCase.name}: ${err.message} after ${got.length} of ${want.length} bytes`);
      });
      if (got !== want) throw new Error(`${testCase.name}: the bytes that arrived differ from what was meant`);
    } finally {
      client.destroy();
      peer.destroy();
    }
  } finally {
    server.close();
  }
}

/**
 * Loads the canary object, runs every case through it and unloads it. Throws
 * CanaryUnsupportedError with one line saying what failed.
 */
export async function canarySelfTest(libbpf: Libbpf, objectPath: string, headerLine: Uint8Array): Promise<void> {
  const canary = CanaryProgram.load(libbpf, objectPath, headerLine);
  const header = Buffer.from(headerLine).toString('latin1');
  try {
    let key = 1n;
    for (const testCase of CASES) {
      try {
        await runCase(canary, header, testCase, key++);
      } catch (err) {
        throw new CanaryUnsupportedError(
          `this kernel does not rewrite requests correctly (self-test "${(err as Error).message}")`,
        );
      }
    }
  } finally {
    canary.close();
  }
}
