// Secrets that processes put on their own command line (a script's
// `curl -H "X-aws-ec2-metadata-token: $TOKEN"` expands the token into argv) are cut
// out before argv reaches any log.

const REDACTED = '[REDACTED]';

const SECRET_PATTERNS: RegExp[] = [
  // The IMDSv2 token header in any quoting: "X-aws-ec2-metadata-token: v", 'x-aws-ec2-metadata-token': v
  /(x-aws-ec2-metadata-token["']?\s*[:=]\s*["']?)([^\s"',;}]+)/gi,
  // Credential assignments: aws_secret_access_key=..., "SecretAccessKey": "...", AWS_SESSION_TOKEN=...
  /((?:aws_secret_access_key|aws_session_token|secretaccesskey|sessiontoken)["']?\s*[:=]\s*["']?)([^\s"',;}]+)/gi,
];

export function redactSecrets(text: string): { text: string; redacted: boolean } {
  let redacted = false;
  let out = text;
  for (const pattern of SECRET_PATTERNS) {
    out = out.replace(pattern, (_match, prefix: string) => {
      redacted = true;
      return `${prefix}${REDACTED}`;
    });
  }
  return { text: out, redacted };
}

/** An argument that ends where a secret's value starts (`-H 'X-aws-ec2-metadata-token:' "$T"`). */
const SECRET_NAME_AT_END = /(?:x-aws-ec2-metadata-token|aws_secret_access_key|aws_session_token|secretaccesskey|sessiontoken)["']?\s*[:=]\s*["']?$/i;

/** argv with secrets cut out of every element, and a secret given as the next element cut whole. */
export function redactArgv(argv: readonly string[]): { argv: string[]; redacted: boolean } {
  let redacted = false;
  let valueNext = false;
  const out = argv.map((arg) => {
    if (valueNext && arg !== '') {
      valueNext = false;
      redacted = true;
      return REDACTED;
    }
    const r = redactSecrets(arg);
    redacted ||= r.redacted;
    valueNext = SECRET_NAME_AT_END.test(r.text);
    return r.text;
  });
  return { argv: out, redacted };
}
