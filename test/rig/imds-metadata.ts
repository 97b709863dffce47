// The metadata tree the test IMDS serves, shaped like the real one closely enough for
// SDK credential providers (botocore, JS v3, Go) to read region and role credentials.
// Pure: no I/O, the clock is passed in.
import type { ImdsOptions } from './imds-options.js';

type Node = string | Tree;
interface Tree {
  [name: string]: Node;
}

export interface MetadataAnswer {
  status: number;
  body: string;
}

const NOT_FOUND: MetadataAnswer = { status: 404, body: 'Not Found' };

/** AWS IMDS API prefixes: `latest`, dated versions, and `1.0`. */
const API_PREFIX = /^\/(latest|\d{4}-\d{2}-\d{2}|1\.0)(\/.*)?$/;

/** Path below the API prefix (`/meta-data/...`), or null for a path outside the AWS API. */
export function apiPath(pathname: string): string | null {
  const match = API_PREFIX.exec(pathname);
  if (!match) return null;
  return match[2] ?? '/';
}

function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function buildTree(options: ImdsOptions, now: Date): Tree {
  const arn = `arn:aws:iam::${options.accountId}`;
  const iam: Tree = {};
  const credentials = options.credentials;
  if (credentials) {
    iam.info = JSON.stringify(
      {
        Code: 'Success',
        LastUpdated: isoSeconds(now),
        InstanceProfileArn: `${arn}:instance-profile/${credentials.roleName}`,
        InstanceProfileId: 'AIPAIMDSANALYZERTEST',
      },
      null,
      2,
    );
    iam['security-credentials'] = {
      [credentials.roleName]: JSON.stringify(
        {
          Code: 'Success',
          LastUpdated: isoSeconds(now),
          Type: 'AWS-HMAC',
          AccessKeyId: credentials.accessKeyId,
          SecretAccessKey: credentials.secretAccessKey,
          Token: credentials.token,
          Expiration: isoSeconds(new Date(now.getTime() + 6 * 3600_000)),
        },
        null,
        2,
      ),
    };
  }
  const metaData: Tree = {
    'ami-id': options.amiId,
    hostname: 'ip-10-0-0-10.ec2.internal',
    'instance-id': options.instanceId,
    'instance-type': options.instanceType,
    'local-ipv4': '10.0.0.10',
    placement: {
      'availability-zone': options.availabilityZone,
      region: options.region,
    },
  };
  if (credentials) metaData.iam = iam;
  const identityDocument = JSON.stringify(
    {
      accountId: options.accountId,
      architecture: 'x86_64',
      availabilityZone: options.availabilityZone,
      imageId: options.amiId,
      instanceId: options.instanceId,
      instanceType: options.instanceType,
      pendingTime: '2026-01-01T00:00:00Z',
      privateIp: '10.0.0.10',
      region: options.region,
      version: '2017-09-30',
    },
    null,
    2,
  );
  const root: Tree = {
    'meta-data': metaData,
    dynamic: { 'instance-identity': { document: identityDocument } },
  };
  if (options.userData !== null) root['user-data'] = options.userData;
  return root;
}

/** Entries in name order, as IMDS lists them. */
function listing(tree: Tree): string {
  return Object.entries(tree)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, node]) => (typeof node === 'string' ? name : `${name}/`))
    .join('\n');
}

/**
 * Answer for a GET of `pathname` (no query string). Directories list their entries
 * (subdirectories with a trailing slash), with or without the trailing slash in the request.
 */
export function resolveMetadata(pathname: string, options: ImdsOptions, now: Date): MetadataAnswer {
  if (pathname === '/') return { status: 200, body: '1.0\n2021-07-15\nlatest' };
  const below = apiPath(pathname);
  if (below === null) return NOT_FOUND;
  let node: Node = buildTree(options, now);
  for (const segment of below.split('/').filter((part) => part !== '')) {
    if (typeof node === 'string') return NOT_FOUND;
    const child: Node | undefined = Object.hasOwn(node, segment) ? node[segment] : undefined;
    if (child === undefined) return NOT_FOUND;
    node = child;
  }
  if (typeof node === 'string') {
    return below.endsWith('/') ? NOT_FOUND : { status: 200, body: node };
  }
  return { status: 200, body: listing(node) };
}
