// Real AWS SDKs and tools as IMDS clients, each run the way an application uses it (reading
// instance metadata or the instance role's credentials), isolated from the host's AWS config.
// What each one sends is the SDK's business: tests compare outcomes, not request lists.
// Installed by scripts/install-deps.sh (Debian: awscli, python3-boto3, golang-go with
// golang-github-aws-aws-sdk-go(-v2)-dev, ruby-aws-sdk-core) and package.json (npm: aws-sdk
// 2.500.0, from before IMDSv2, and @aws-sdk/credential-provider-imds).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './compiled.js';

export interface SdkClient {
  name: string;
  argv: string[];
  /** Sends IMDSv2 when IMDS gives it a token (false: an SDK from before IMDSv2). */
  imdsv2: boolean;
}

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const NODE_MODULES = join(REPO_ROOT, 'node_modules');

/** Nothing of the host's AWS configuration or credentials reaches the client. */
function isolated(argv: string[], home: string): string[] {
  const unset = [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
    'AWS_REGION',
    // Old SDKs take any value, "false" too, as "disabled".
    'AWS_EC2_METADATA_DISABLED',
  ];
  return [
    'env',
    ...unset.flatMap((name) => ['-u', name]),
    'AWS_CONFIG_FILE=/dev/null',
    'AWS_SHARED_CREDENTIALS_FILE=/dev/null',
    `HOME=${home}`,
    ...argv,
  ];
}

/** Where the Go clients are built (kept across runs: a build from cold takes half a minute). */
const GO_BUILD_DIR = join(tmpdir(), 'imds-analyzer-go-clients');

/** Builds a Go client (test/rig/sdk/go-*) against Debian's SDK sources, offline; null without Go. */
function goClient(version: 'v1' | 'v2', outDir = GO_BUILD_DIR): string | null {
  const source = join(REPO_ROOT, 'test/rig/sdk', `go-${version}`, 'main.go');
  const sdk = `/usr/share/gocode/src/github.com/aws/aws-sdk-go${version === 'v2' ? '-v2' : ''}`;
  if (!existsSync('/usr/bin/go') || !existsSync(sdk)) return null;
  const binary = join(outDir, `imds-go-${version}`);
  if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
    mkdirSync(outDir, { recursive: true });
    execFileSync('/usr/bin/go', ['build', '-o', binary, source], {
      env: {
        ...process.env,
        GOPATH: '/usr/share/gocode',
        GO111MODULE: 'off',
        GOFLAGS: '',
        GOCACHE: join(outDir, 'go-cache'),
        GOPROXY: 'off',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 300_000,
    });
  }
  return binary;
}

/** Each SDK client this host has, and the names of those it lacks. */
export function sdkClients(workDir: string): { clients: SdkClient[]; missing: string[] } {
  const home = join(workDir, 'home');
  mkdirSync(home, { recursive: true });
  const clients: SdkClient[] = [];
  const missing: string[] = [];
  const add = (name: string, present: boolean, argv: () => string[], imdsv2 = true) => {
    if (present) clients.push({ name, argv: isolated(argv(), home), imdsv2 });
    else missing.push(name);
  };
  const pythonHas = (module: string) => {
    try {
      execFileSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  add('aws-cli', existsSync('/usr/bin/aws'), () => ['/usr/bin/aws', 'configure', 'list']);
  add('boto3', pythonHas('boto3'), () => [
    PYTHON,
    '-c',
    'import boto3\nc = boto3.Session(region_name="us-east-1").get_credentials()\nprint(c.method if c else "none")',
  ]);
  const goV1 = goClient('v1');
  add('go-sdk-v1', goV1 !== null, () => [goV1 as string]);
  const goV2 = goClient('v2');
  add('go-sdk-v2', goV2 !== null, () => [goV2 as string]);
  const rubyHas =
    existsSync('/usr/bin/ruby') &&
    (() => {
      try {
        execFileSync('/usr/bin/ruby', ['-e', "require 'aws-sdk-core'"], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();
  add('ruby-aws-sdk-core', rubyHas, () => [
    '/usr/bin/ruby',
    '-e',
    "require 'aws-sdk-core'\nc = Aws::InstanceProfileCredentials.new(retries: 0, http_open_timeout: 5, http_read_timeout: 5)\n" +
      "abort('no credentials') unless c.set?\nputs c.credentials.access_key_id",
  ]);
  const jsV2 = join(NODE_MODULES, 'aws-sdk-2500');
  add(
    'js-sdk-v2.500.0',
    existsSync(jsV2),
    () => [
      process.execPath,
      '-e',
      `const AWS = require(${JSON.stringify(jsV2)});` +
        "new AWS.MetadataService({ httpOptions: { timeout: 5000 } }).request('/latest/meta-data/instance-id', (e, d) => {" +
        ' if (e) { console.error(e.statusCode || e.code || e.message || e); process.exit(1); } console.log(d); });',
    ],
    false,
  );
  const jsV3 = join(NODE_MODULES, '@aws-sdk/credential-provider-imds');
  add('js-sdk-v3', existsSync(jsV3), () => [
    process.execPath,
    '-e',
    `const { fromInstanceMetadata } = require(${JSON.stringify(jsV3)});` +
      'fromInstanceMetadata({ timeout: 5000, maxRetries: 0 })().then((c) => console.log(c.accessKeyId),' +
      ' (e) => { console.error(e.name); process.exit(1); });',
  ]);
  return { clients, missing };
}
