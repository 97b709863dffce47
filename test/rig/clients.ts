// Ready-made real IMDS clients for `testbed.run(client.argv)`. Each says which requests
// IMDS should see from it, so a test can hold the server's log (and the analyzer's) to it.
import { existsSync } from 'node:fs';
import { compiledScript } from './compiled.js';
import { IMDS_IPV4, IMDS_IPV6 } from './imds-options.js';

export interface ExpectedRequest {
  method: 'GET' | 'PUT';
  path: string;
  /** As IMDS decides it: v2 when a token header is present. */
  version: 'v1' | 'v2';
  tokenRequest: boolean;
  /** Requests with the same number travel on one TCP connection (numbered per client). */
  connection: number;
  /** argv of the process that sends the request, when it is not `Client.argv` itself. */
  senderArgv?: readonly string[];
}

export interface Client {
  name: string;
  argv: string[];
  family: 'ipv4' | 'ipv6';
  /** Requests in the order the client sends them (for the load client: across workers). */
  expects: ExpectedRequest[];
  expected: { total: number; v1: number; v2: number };
}

export interface ClientOptions {
  /** Metadata path to GET. Default `/latest/meta-data/instance-id`. */
  path?: string;
  /** Talk to [fd00:ec2::254] instead of 169.254.169.254. */
  ipv6?: boolean;
}

const DEFAULT_PATH = '/latest/meta-data/instance-id';
const TOKEN_PATH = '/latest/api/token';
const TTL_HEADER = 'X-aws-ec2-metadata-token-ttl-seconds: 21600';
/** Bounds every curl client: a hung test IMDS cannot hang the test. */
const CURL = ['curl', '-sS', '--max-time', '10'];
/** Debian's interpreter: the one python3-botocore belongs to, not a shim earlier in PATH. */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function hostOf(ipv6: boolean | undefined): string {
  return ipv6 ? IMDS_IPV6 : IMDS_IPV4;
}

function url(path: string, ipv6: boolean | undefined): string {
  return `http://${ipv6 ? `[${IMDS_IPV6}]` : IMDS_IPV4}${path}`;
}

const get = (
  path: string,
  version: 'v1' | 'v2',
  connection: number,
  senderArgv?: readonly string[],
): ExpectedRequest => ({
  method: 'GET',
  path,
  version,
  tokenRequest: false,
  connection,
  ...(senderArgv ? { senderArgv } : {}),
});

const tokenPut = (connection: number, senderArgv?: readonly string[]): ExpectedRequest => ({
  method: 'PUT',
  path: TOKEN_PATH,
  version: 'v2',
  tokenRequest: true,
  connection,
  ...(senderArgv ? { senderArgv } : {}),
});

function client(name: string, argv: string[], ipv6: boolean | undefined, expects: ExpectedRequest[]): Client {
  const v1 = expects.filter((request) => request.version === 'v1').length;
  return {
    name,
    argv,
    family: ipv6 ? 'ipv6' : 'ipv4',
    expects,
    expected: { total: expects.length, v1, v2: expects.length - v1 },
  };
}

/** `curl URL`: one IMDSv1 GET. */
export function curlV1(opts: ClientOptions = {}): Client {
  const path = opts.path ?? DEFAULT_PATH;
  // -g: the brackets of an IPv6 URL are not a glob.
  const argv = [...CURL, ...(opts.ipv6 ? ['-g'] : []), url(path, opts.ipv6)];
  return client(opts.ipv6 ? 'curl-v1-ipv6' : 'curl-v1', argv, opts.ipv6, [get(path, 'v1', 0)]);
}

export function curlV1Ipv6(opts: Omit<ClientOptions, 'ipv6'> = {}): Client {
  return curlV1({ ...opts, ipv6: true });
}

/**
 * IMDSv2 the way shell scripts do it: a token PUT piped into the GET's headers
 * (`-H @-` reads them from stdin), so the token never appears in any argv.
 */
export function curlV2(opts: ClientOptions = {}): Client {
  const path = opts.path ?? DEFAULT_PATH;
  const glob = opts.ipv6 ? ['-g'] : [];
  const putArgv = [...CURL, ...glob, '-X', 'PUT', '-H', TTL_HEADER, url(TOKEN_PATH, opts.ipv6)];
  const getArgv = [...CURL, ...glob, '-H', '@-', url(path, opts.ipv6)];
  const quote = (argv: string[]): string => argv.map((arg) => `'${arg}'`).join(' ');
  const script = `{ printf 'X-aws-ec2-metadata-token: '; ${quote(putArgv)}; } | ${quote(getArgv)}`;
  return client('curl-v2', ['sh', '-c', script], opts.ipv6, [tokenPut(0, putArgv), get(path, 'v2', 1, getArgv)]);
}

/** Python's urllib: one IMDSv1 GET (User-Agent `Python-urllib/3.x`). */
export function pythonUrllibV1(opts: ClientOptions = {}): Client {
  const path = opts.path ?? DEFAULT_PATH;
  const script = [
    'import sys, urllib.request',
    `sys.stdout.write(urllib.request.urlopen(${JSON.stringify(url(path, opts.ipv6))}, timeout=10).read().decode())`,
  ].join('\n');
  return client('python-urllib-v1', [PYTHON, '-c', script], opts.ipv6, [get(path, 'v1', 0)]);
}

/** node's http module: one IMDSv1 GET without a User-Agent. */
export function nodeHttpV1(opts: ClientOptions = {}): Client {
  const path = opts.path ?? DEFAULT_PATH;
  const script =
    `require('http').get(${JSON.stringify(url(path, opts.ipv6))}, { timeout: 10000 }, (res) => {` +
    " let body = ''; res.on('data', (c) => { body += c; }); res.on('end', () => process.stdout.write(body));" +
    " }).on('error', (e) => { console.error(e.message); process.exitCode = 1; });";
  return client('node-http-v1', [process.execPath, '-e', script], opts.ipv6, [get(path, 'v1', 0)]);
}

/**
 * A token PUT on its own connection, then a v2 GET and a v1 GET on ONE keep-alive
 * connection. Prints `{ statuses, localPort, sameConnection }`.
 */
export function nodeKeepAliveV2ThenV1(opts: ClientOptions = {}): Client {
  const path = opts.path ?? DEFAULT_PATH;
  const argv = [process.execPath, compiledScript('probe'), 'keepalive-v2-v1', hostOf(opts.ipv6), path];
  return client('node-keepalive-v2-v1', argv, opts.ipv6, [tokenPut(0), get(path, 'v2', 1), get(path, 'v1', 1)]);
}

/**
 * A v2 GET sent in three writes with TCP_NODELAY and pauses between them, the token
 * header only in the third. Prints `{ status, writes, localPort }`.
 */
export function nodeSplitTokenV2(opts: ClientOptions & { pauseMs?: number } = {}): Client {
  const path = opts.path ?? DEFAULT_PATH;
  const pause = String(opts.pauseMs ?? 100);
  const argv = [process.execPath, compiledScript('probe'), 'split-token-v2', hostOf(opts.ipv6), path, pause];
  return client('node-split-token-v2', argv, opts.ipv6, [tokenPut(0), get(path, 'v2', 1)]);
}

/** An IMDSv1 GET whose path holds the header name `X-aws-ec2-metadata-token` (IMDS answers 404). */
export function curlV1TokenNameInPath(opts: Omit<ClientOptions, 'path'> = {}): Client {
  const named = curlV1({ ...opts, path: '/latest/meta-data/X-aws-ec2-metadata-token' });
  return { ...named, name: 'curl-v1-token-name-in-path' };
}

/** A GCP-style metadata GET (`Metadata-Flavor: Google`): not the AWS API, IMDS answers 404. */
export function curlGcpPath(opts: Omit<ClientOptions, 'path'> = {}): Client {
  const path = '/computeMetadata/v1/instance/id';
  const argv = [...CURL, ...(opts.ipv6 ? ['-g'] : []), '-H', 'Metadata-Flavor: Google', url(path, opts.ipv6)];
  return client('curl-gcp-path', argv, opts.ipv6, [get(path, 'v1', 0)]);
}

/** How the test IMDS answers the token PUT (its `tokenPut` setting); decides what an SDK does next. */
export type TokenPutMode = 'ok' | 403 | 404 | 405 | 'drop';

/**
 * Debian's python3-botocore resolving credentials from the instance role, isolated
 * from the host's AWS config. Prints `<method> <access key id>` (method `iam-role`).
 * botocore 1.29 keeps one connection: a token PUT answered 403/404/405 makes it go on
 * in IMDSv1 there; an unanswered PUT ("drop") times out after 1 s and it reconnects in IMDSv1.
 */
export function botocoreCredentials(opts: { tokenPut?: TokenPutMode; roleName?: string } = {}): Client {
  const mode = opts.tokenPut ?? 'ok';
  const role = opts.roleName ?? 'imds-analyzer-test-role';
  const script = [
    'import botocore.session',
    'credentials = botocore.session.get_session().get_credentials()',
    'print(credentials.method, credentials.access_key) if credentials else print("none")',
  ].join('\n');
  const python = [PYTHON, '-c', script];
  const isolation = ['AWS_CONFIG_FILE=/dev/null', 'AWS_SHARED_CREDENTIALS_FILE=/dev/null'];
  const unset = [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
    'AWS_EC2_METADATA_DISABLED',
  ];
  const argv = ['env', ...unset.flatMap((name) => ['-u', name]), ...isolation, ...python];
  const version = mode === 'ok' ? 'v2' : 'v1';
  const readConnection = mode === 'drop' ? 1 : 0;
  return client(`botocore-credentials-token-put-${mode}`, argv, false, [
    tokenPut(0, python),
    get('/latest/meta-data/iam/security-credentials/', version, readConnection, python),
    get(`/latest/meta-data/iam/security-credentials/${role}`, version, readConnection, python),
  ]);
}

export interface LoadOptions extends ClientOptions {
  /** Concurrent workers in one node process (1..64). */
  workers: number;
  /** Sequential GETs per worker. workers × requests is at most 100,000. */
  requests: number;
  /** One keep-alive connection per worker instead of one connection per request. */
  keepAlive?: boolean;
  /** The client stops sending after this long and reports what it completed. Default 20 s (under `run`'s 30 s). */
  deadlineMs?: number;
}

function load(version: 'v1' | 'v2', opts: LoadOptions): Client {
  const { workers, requests } = opts;
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new Error('workers must be 1..64');
  if (!Number.isInteger(requests) || requests < 1 || workers * requests > 100_000) {
    throw new Error('requests must be >= 1 with workers × requests <= 100000');
  }
  const path = opts.path ?? DEFAULT_PATH;
  const argv = [
    process.execPath,
    compiledScript('probe'),
    `load-${version}`,
    hostOf(opts.ipv6),
    path,
    String(workers),
    String(requests),
    String(opts.deadlineMs ?? 20_000),
    opts.keepAlive ? 'keepalive' : 'close',
  ];
  const total = workers * requests;
  // Connections numbered per worker with keepAlive, per request without; a v2 worker's token PUT goes on one of its own.
  const gets = Array.from({ length: total }, (_, index) =>
    get(path, version, opts.keepAlive ? index % workers : index),
  );
  const tokens = version === 'v2' ? Array.from({ length: workers }, (_, worker) => tokenPut(total + worker)) : [];
  return client(`load-${version}-${workers}x${requests}`, argv, opts.ipv6, [...tokens, ...gets]);
}

/**
 * Bounded parallel IMDSv1 load. Prints `{ completed, failed, statuses, elapsedMs }`.
 * `expects` lists every request; with keepAlive its connection numbers are per worker,
 * but how the workers' requests interleave is up to the scheduler.
 */
export function loadV1(opts: LoadOptions): Client {
  return load('v1', opts);
}

/**
 * Bounded parallel IMDSv2 load: each worker PUTs for a token once, then GETs with it.
 * Prints what loadV1 prints (`completed` counts the GETs); `expects` lists the PUTs first.
 */
export function loadV2(opts: LoadOptions): Client {
  return load('v2', opts);
}

/** Every single-shot client above with default options, for tests that run them all. */
export function allBasicClients(): Client[] {
  return [
    curlV1(),
    curlV2(),
    curlV1Ipv6(),
    pythonUrllibV1(),
    nodeHttpV1(),
    nodeKeepAliveV2ThenV1(),
    nodeSplitTokenV2(),
    curlV1TokenNameInPath(),
    curlGcpPath(),
  ];
}
