// One sentence an operator can act on, for each IMDSv1 request.
import type { ContainerPlacement } from '../model/attribution.js';
import type { ImdsVersion } from '../model/imds.js';
import type { Stored } from '../model/stored-line.js';
import { type Fallback, followedRefusedPut } from './fallback.js';
import type { SdkInfo } from './sdk.js';

export interface AdviceInput {
  imds_version: ImdsVersion;
  aws_api: boolean;
  sdk: SdkInfo | null;
  fallback: Fallback | null;
  /** Only whether there is one matters (a stored line's may lack fields). */
  container: Stored<ContainerPlacement> | null;
  status: number | null;
  comm: string | null;
  /** A canary made IMDS refuse it (the instance does not require IMDSv2 yet). */
  canary?: boolean;
}

const DISABLE_FALLBACK =
  'set AWS_EC2_METADATA_V1_DISABLED=true (or ec2_metadata_v1_disabled = true in the AWS config, ' +
  'Java: -Daws.disableEc2MetadataV1=true) so the SDK fails loudly instead of falling back';

const TOKEN_FIRST_GENERIC =
  'fetch one first (PUT /latest/api/token with header X-aws-ec2-metadata-token-ttl-seconds: 21600) ' +
  'and send it as X-aws-ec2-metadata-token';
// The PUT written the way each plain HTTP tool's user would write it. Worded so that no part
// looks like a secret (no `NAME=value`, no header with a value): every line is redacted.
const TOKEN_FIRST: Record<string, string> = {
  curl:
    'fetch one first with curl -sX PUT http://169.254.169.254/latest/api/token ' +
    '-H "X-aws-ec2-metadata-token-ttl-seconds: 21600" and send what it prints in the X-aws-ec2-metadata-token header',
  'python-urllib':
    "fetch one first with urllib.request.Request('http://169.254.169.254/latest/api/token', method='PUT', " +
    "headers={'X-aws-ec2-metadata-token-ttl-seconds': '21600'}) and send it as X-aws-ec2-metadata-token",
};

/** Why the token PUT failed, as far as its outcome and the process's placement tell. */
function fallbackCause(fallback: Fallback, container: AdviceInput['container']): string {
  if (followedRefusedPut(fallback)) {
    return 'IMDS or something in between refused the token PUT: check HttpEndpoint and for a proxy adding X-Forwarded-For';
  }
  if (container) {
    return "This process runs in a container: raise HttpPutResponseHopLimit to 2 so the token PUT's answer reaches it";
  }
  return 'Find what drops the token PUT or its answer (a proxy, a firewall rule, a network namespace behind NAT)';
}

export function adviceFor(input: AdviceInput): string | null {
  if (input.imds_version !== 'v1' || !input.aws_api) return null;
  const rejected = input.canary
    ? ' A canary made IMDS refuse it (401), as HttpTokens=required will.'
    : input.status === 401
      ? ' IMDS already rejects it (HttpTokens=required).'
      : '';
  const { sdk } = input;
  if (input.fallback) return `${fallbackCause(input.fallback, input.container)}; ${DISABLE_FALLBACK}.${rejected}`;
  if (sdk?.supports_imdsv2 === false) {
    return `${sdk.name} ${sdk.version} predates IMDSv2 support (${sdk.min_imdsv2_version}): upgrade it.${rejected}`;
  }
  if (sdk?.supports_imdsv2 === true) {
    return `${sdk.name} ${sdk.version} supports IMDSv2 but sent IMDSv1: check its configuration; ${DISABLE_FALLBACK}.${rejected}`;
  }
  const tool = sdk?.name ?? input.comm ?? 'this program';
  return `${tool} calls IMDS without a token; ${TOKEN_FIRST[sdk?.name ?? ''] ?? TOKEN_FIRST_GENERIC}.${rejected}`;
}
