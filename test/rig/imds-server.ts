// The test IMDS: a standalone HTTP server run inside the testbed's IMDS network namespace
// as `node dist-test/test/rig/imds-server.js --config '<json>'`. Protocol behaviour follows
// docs/imds.md (token PUT, v1/v2 by header presence, 401/400/403/404 answers).
// It appends one JSON line per request to `logFile` so tests can compare what the
// analyzer saw with what IMDS saw; token values and bodies never go to that log.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { apiPath, resolveMetadata } from './imds-metadata.js';
import { parseImdsOptions, type ImdsOptions, type ServedRequest } from './imds-options.js';

const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
const TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';
const MAX_TTL_SECONDS = 21600;
/** Bound on live tokens so a load test cannot grow the server without limit. */
const MAX_TOKENS = 100_000;

interface ConnectionState {
  id: number;
  requests: number;
}

interface Answer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

/** Tokens handed out by PUT, with their expiry (ms since epoch). */
class TokenStore {
  private readonly expiries = new Map<string, number>();

  issue(ttlSeconds: number, now: number): string {
    if (this.expiries.size >= MAX_TOKENS) this.dropExpired(now);
    // Oldest first: Map keeps insertion order.
    while (this.expiries.size >= MAX_TOKENS) {
      const oldest = this.expiries.keys().next().value;
      if (oldest === undefined) break;
      this.expiries.delete(oldest);
    }
    const token = randomBytes(42).toString('base64');
    this.expiries.set(token, now + ttlSeconds * 1000);
    return token;
  }

  isValid(token: string, now: number): boolean {
    const expiry = this.expiries.get(token);
    return expiry !== undefined && expiry > now;
  }

  private dropExpired(now: number): void {
    for (const [token, expiry] of this.expiries) if (expiry <= now) this.expiries.delete(token);
  }
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The request as it arrived, token values masked (ServedRequest.head). */
function headLines(request: IncomingMessage): string[] {
  const lines = [`${request.method} ${request.url} HTTP/${request.httpVersion}`];
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    lines.push(`${name}: ${name.toLowerCase() === TOKEN_HEADER ? '[token]' : raw[i + 1]}`);
  }
  return lines;
}

/** TTL in seconds when the header is a whole number in 1..21600, else null. */
function parseTtl(raw: string | undefined): number | null {
  if (raw === undefined || !/^\s*\d{1,6}\s*$/.test(raw)) return null;
  const ttl = Number(raw);
  return ttl >= 1 && ttl <= MAX_TTL_SECONDS ? ttl : null;
}

export class ImdsServer {
  private readonly tokens = new TokenStore();
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly connections = new WeakMap<Socket, ConnectionState>();
  private nextConnection = 0;
  private readonly logFd: number;

  constructor(private readonly options: ImdsOptions) {
    this.logFd = openSync(options.logFile, 'a', 0o600);
  }

  async listen(): Promise<void> {
    for (const address of this.options.listen) {
      // IMDS answers HTTP/1.1 requests without a Host header; Node would refuse them.
      const server = createServer({ keepAlive: true, requireHostHeader: false }, (request, response) =>
        this.handle(request, response),
      );
      server.keepAliveTimeout = 30_000;
      server.on('connection', (socket) => this.track(socket));
      server.on('clientError', (error, socket) => this.rejectMalformed(error, socket));
      this.servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.options.port, address, () => {
          server.off('error', reject);
          resolve();
        });
      });
    }
  }

  close(): void {
    for (const server of this.servers) server.close();
    for (const socket of this.sockets) socket.destroy();
    closeSync(this.logFd);
  }

  private track(socket: Socket): void {
    this.connections.set(socket, { id: this.nextConnection++, requests: 0 });
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const now = Date.now();
    const rawPath = request.url ?? '';
    const pathname = rawPath.split('?')[0] ?? '';
    const token = headerValue(request, TOKEN_HEADER);
    const isTokenRequest = request.method === 'PUT' && apiPath(pathname) === '/api/token';
    const tokenValid = token === undefined ? null : this.tokens.isValid(token, now);
    // Node accepts a request line without a version as HTTP/0.9; IMDS speaks only HTTP/1.x.
    const answer =
      request.httpVersionMajor !== 1
        ? { status: 400, body: 'Bad Request' }
        : isTokenRequest
          ? this.answerTokenPut(request, now)
          : this.answerRead(request.method ?? '', pathname, tokenValid, now);

    const connection = this.connections.get(request.socket) ?? { id: -1, requests: 0 };
    this.log({
      time: new Date(now).toISOString(),
      method: request.method ?? '',
      path: rawPath,
      version: token !== undefined || request.headers[TTL_HEADER] !== undefined ? 'v2' : 'v1',
      tokenRequest: isTokenRequest,
      tokenValid,
      status: answer?.status ?? null,
      userAgent: headerValue(request, 'user-agent') ?? null,
      remoteAddress: request.socket.remoteAddress ?? '',
      remotePort: request.socket.remotePort ?? 0,
      localAddress: request.socket.localAddress ?? '',
      connection: connection.id,
      requestIndex: connection.requests++,
      head: headLines(request),
    });
    // A dropped token PUT is never answered: the client must time out, as behind a hop limit of 1.
    if (answer === null) return;
    const body = answer.body ?? '';
    response.writeHead(answer.status, {
      'Content-Type': 'text/plain',
      'Content-Length': Buffer.byteLength(body),
      Server: 'EC2ws',
      ...answer.headers,
    });
    response.end(request.method === 'HEAD' ? undefined : body);
  }

  private answerTokenPut(request: IncomingMessage, now: number): Answer | null {
    const mode = this.options.tokenPut;
    if (mode === 'drop') return null;
    if (mode !== 'ok') return { status: mode };
    // IMDS refuses token PUTs that went through a proxy.
    if (request.headers['x-forwarded-for'] !== undefined) return { status: 403, body: 'Forbidden' };
    const ttl = parseTtl(headerValue(request, TTL_HEADER));
    if (ttl === null) return { status: 400, body: 'Bad Request' };
    return {
      status: 200,
      body: this.tokens.issue(ttl, now),
      headers: { 'X-aws-ec2-metadata-token-ttl-seconds': String(ttl) },
    };
  }

  private answerRead(method: string, pathname: string, tokenValid: boolean | null, now: number): Answer {
    if (method !== 'GET' && method !== 'HEAD')
      return { status: 405, body: 'Method Not Allowed', headers: { Allow: 'GET' } };
    if (tokenValid === false) return { status: 401, body: 'Unauthorized' };
    if (tokenValid === null && this.options.tokens === 'required') return { status: 401, body: 'Unauthorized' };
    if (apiPath(pathname) === '/api/token')
      return { status: 405, body: 'Method Not Allowed', headers: { Allow: 'PUT' } };
    return resolveMetadata(pathname, this.options, new Date(now));
  }

  /** Bytes Node's parser cannot read as HTTP: answer 400 and close, never crash. */
  private rejectMalformed(error: Error & { code?: string }, socket: Duplex): void {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
    process.stderr.write(`malformed request: ${error.code ?? error.message}\n`);
  }

  private log(line: ServedRequest): void {
    writeSync(this.logFd, `${JSON.stringify(line)}\n`);
  }
}

function configArgument(argv: string[]): string {
  const index = argv.indexOf('--config');
  const value = index >= 0 ? argv[index + 1] : undefined;
  if (value === undefined) throw new Error("usage: imds-server.js --config '<json>'");
  return value;
}

async function main(): Promise<void> {
  const options = parseImdsOptions(JSON.parse(configArgument(process.argv.slice(2))));
  const server = new ImdsServer(options);
  await server.listen();
  const stop = (): void => {
    server.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdout.write('listening\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`imds-server: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
