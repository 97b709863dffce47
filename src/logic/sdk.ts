// Which AWS SDK or tool made a request, from its User-Agent alone, and whether that
// version supports IMDSv2 (minimum versions: docs/imds.md, from AWS's
// "Use a supported AWS SDK" page). No User-Agent, no guess.

export interface SdkInfo {
  name: string;
  version: string | null;
  min_imdsv2_version: string | null;
  supports_imdsv2: boolean | null;
}

interface Rule {
  /** Token names in the User-Agent, each matched case-insensitively as `<token>/<version>`. */
  tokens: readonly string[];
  name: string | ((version: string) => string);
  /** Minimum version with IMDSv2; 'all' when every release supports it, null for plain HTTP tools. */
  min: string | 'all' | null | ((version: string) => string | 'all' | null);
}

const BOTOCORE_MIN = '1.13.25';

/** Tools that speak plain HTTP to IMDS, named by their token in lower case: no SDK minimum applies. */
const PLAIN_HTTP_TOOLS = [
  'amazon-ssm-agent',
  'Cloud-Init',
  'amazon-ec2-net-utils',
  'curl',
  'Wget',
  'Python-urllib',
  'python-requests',
  'Go-http-client',
];

// Order matters: the first rule whose token appears wins (an AWS CLI v1 UA also names botocore).
const RULES: Rule[] = [
  {
    tokens: ['aws-cli'],
    name: (v) => (major(v) >= 2 ? 'aws-cli-v2' : 'aws-cli'),
    min: (v) => (major(v) >= 2 ? 'all' : '1.16.289'),
  },
  { tokens: ['botocore'], name: 'botocore', min: BOTOCORE_MIN },
  {
    tokens: ['aws-sdk-java'],
    name: (v) => (major(v) >= 2 ? 'aws-sdk-java-v2' : 'aws-sdk-java'),
    min: (v) => (major(v) >= 2 ? '2.10.21' : '1.11.678'),
  },
  { tokens: ['aws-sdk-go-v2'], name: 'aws-sdk-go-v2', min: '0.19.0' },
  { tokens: ['aws-sdk-go'], name: 'aws-sdk-go', min: '1.25.38' },
  { tokens: ['aws-sdk-nodejs'], name: 'aws-sdk-js', min: '2.722.0' },
  { tokens: ['aws-sdk-js'], name: 'aws-sdk-js-v3', min: 'all' },
  { tokens: ['aws-sdk-php'], name: 'aws-sdk-php', min: '3.147.7' },
  { tokens: ['aws-sdk-ruby3', 'aws-sdk-ruby2'], name: 'aws-sdk-ruby', min: '3.79.0' },
  { tokens: ['aws-sdk-cpp'], name: 'aws-sdk-cpp', min: '1.7.229' },
  // PowerShell's UA also names the .NET SDK it bundles: the module is what gets upgraded.
  { tokens: ['AWSPowerShell', 'AWSPowerShell.NetCore'], name: 'aws-tools-powershell', min: '4.0.1.0' },
  {
    tokens: ['aws-sdk-dotnet-coreclr', 'aws-sdk-dotnet-45', 'aws-sdk-dotnet-35'],
    name: 'aws-sdk-dotnet',
    min: '3.3.634.1',
  },
  ...PLAIN_HTTP_TOOLS.map((token) => ({ tokens: [token], name: token.toLowerCase(), min: null })),
];

function major(version: string): number {
  return Number.parseInt(version, 10) || 0;
}

/** Compares dotted versions numerically, component by component. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/).map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split(/[.+-]/).map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}

/** The version after `<token>/` in the User-Agent, or null when the token is not there. */
function versionOf(userAgent: string, token: string): string | null {
  const m = new RegExp(`(?:^|[\\s(;])${escapeRegExp(token)}/([0-9][0-9A-Za-z.+_-]*)`, 'i').exec(userAgent);
  return m?.[1] ?? null;
}

/** The version after the first of `tokens` the User-Agent names. */
function firstVersionOf(userAgent: string, tokens: readonly string[]): string | null {
  for (const token of tokens) {
    const version = versionOf(userAgent, token);
    if (version !== null) return version;
  }
  return null;
}

export function sdkFromUserAgent(userAgent: string | null): SdkInfo | null {
  if (!userAgent) return null;
  for (const rule of RULES) {
    const version = firstVersionOf(userAgent, rule.tokens);
    if (version === null) continue;
    const name = typeof rule.name === 'function' ? rule.name(version) : rule.name;
    const min = typeof rule.min === 'function' ? rule.min(version) : rule.min;
    if (min === null) return { name, version, min_imdsv2_version: null, supports_imdsv2: null };
    if (min === 'all') return { name, version, min_imdsv2_version: null, supports_imdsv2: true };
    // AWS CLI v1 talks to IMDS through the botocore it names: that version decides.
    const botocore = name === 'aws-cli' ? versionOf(userAgent, 'botocore') : null;
    const supports = botocore ? compareVersions(botocore, BOTOCORE_MIN) >= 0 : compareVersions(version, min) >= 0;
    return { name, version, min_imdsv2_version: min, supports_imdsv2: supports };
  }
  return null;
}
