// Real node clients whose wire behaviour is too specific for curl: run inside a client
// namespace as `node dist-test/test/rig/probe.js <kind> ...`. Each prints one JSON line
// describing what it did (statuses, local ports); token values are never printed.
import { Agent, request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';

const TOKEN_PATH = '/latest/api/token';

interface Reply {
  status: number;
  body: string;
  localPort: number;
  reusedSocket: boolean;
}

function send(
  host: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  agent: Agent | false,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port: 80, method, path, headers, agent, timeout: 5000 }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          localPort: res.socket?.localPort ?? req.socket?.localPort ?? 0,
          reusedSocket: req.reusedSocket,
        }),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Token from a PUT on a connection of its own; throws unless IMDS answered 200. */
async function fetchToken(host: string): Promise<string> {
  const reply = await send(host, 'PUT', TOKEN_PATH, { 'X-aws-ec2-metadata-token-ttl-seconds': '60' }, false);
  if (reply.status !== 200) throw new Error(`token PUT answered ${reply.status}`);
  return reply.body;
}

/** A v2 GET then a v1 GET on one keep-alive connection (the token PUT goes on its own). */
async function keepAliveV2ThenV1(host: string, path: string): Promise<object> {
  const token = await fetchToken(host);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const v2 = await send(host, 'GET', path, { 'X-aws-ec2-metadata-token': token }, agent);
    const v1 = await send(host, 'GET', path, {}, agent);
    const sameConnection = v1.reusedSocket && v1.localPort === v2.localPort;
    return { statuses: [v2.status, v1.status], localPort: v2.localPort, sameConnection };
  } finally {
    agent.destroy();
  }
}

/** A v2 GET written in three TCP segments; the token header is only in the third. */
async function splitTokenV2(host: string, path: string, pauseMs: number): Promise<object> {
  const token = await fetchToken(host);
  const parts = [
    `GET ${path} HTTP/1.1\r\nHost: ${host.includes(':') ? `[${host}]` : host}\r\n`,
    'Accept: */*\r\nUser-Agent: imds-testbed-split/1\r\n',
    `X-aws-ec2-metadata-token: ${token}\r\nConnection: close\r\n\r\n`,
  ];
  const socket = connect({ host, port: 80 });
  socket.setNoDelay(true);
  const response: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => response.push(chunk));
  const closed = new Promise<void>((resolve, reject) => {
    socket.once('close', () => resolve());
    socket.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const localPort = socket.localPort ?? 0;
  for (const [index, part] of parts.entries()) {
    if (index > 0) await sleep(pauseMs);
    socket.write(part);
  }
  await closed;
  const statusLine = Buffer.concat(response).toString('latin1').split('\r\n')[0] ?? '';
  return { status: Number(statusLine.split(' ')[1] ?? 0), writes: parts.length, localPort };
}

/**
 * `workers` concurrent loops of `requests` sequential GETs each, stopped at the deadline:
 * IMDSv1, or IMDSv2 with a token each worker fetches first (its PUT is not among `completed`).
 */
async function load(
  host: string,
  path: string,
  workers: number,
  requests: number,
  deadlineMs: number,
  keepAlive: boolean,
  version: 'v1' | 'v2',
): Promise<object> {
  const started = Date.now();
  const statuses: Record<string, number> = {};
  let completed = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    const headers: Record<string, string> =
      version === 'v2' ? { 'X-aws-ec2-metadata-token': await fetchToken(host) } : {};
    const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: 1 }) : false;
    try {
      for (let sent = 0; sent < requests && Date.now() - started < deadlineMs; sent++) {
        try {
          const reply = await send(host, 'GET', path, headers, agent);
          statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
          completed += 1;
        } catch {
          failed += 1;
        }
      }
    } finally {
      if (agent) agent.destroy();
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  return { completed, failed, statuses, elapsedMs: Date.now() - started };
}

function positiveInt(raw: string | undefined, name: string, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`${name} must be an integer in 1..${max}`);
  return value;
}

async function main(argv: string[]): Promise<object> {
  const [kind, host = '169.254.169.254', path = '/latest/meta-data/instance-id', ...rest] = argv;
  switch (kind) {
    case 'keepalive-v2-v1':
      return keepAliveV2ThenV1(host, path);
    case 'split-token-v2':
      return splitTokenV2(host, path, positiveInt(rest[0] ?? '100', 'pauseMs', 10_000));
    case 'load-v1':
    case 'load-v2':
      return load(
        host,
        path,
        positiveInt(rest[0], 'workers', 64),
        positiveInt(rest[1], 'requests', 100_000),
        positiveInt(rest[2], 'deadlineMs', 600_000),
        rest[3] === 'keepalive',
        kind === 'load-v2' ? 'v2' : 'v1',
      );
    default:
      throw new Error('usage: probe.js keepalive-v2-v1|split-token-v2|load-v1|load-v2 <host> <path> [args]');
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (report) => process.stdout.write(`${JSON.stringify(report)}\n`),
    (error: unknown) => {
      process.stderr.write(`probe: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
