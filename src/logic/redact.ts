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

/** argv with secrets cut out of every element. */
export function redactArgv(argv: readonly string[]): { argv: string[]; redacted: boolean } {
  let redacted = false;
  const out = argv.map((arg) => {
    const r = redactSecrets(arg);
    redacted ||= r.redacted;
    return r.text;
  });
  return { argv: out, redacted };
}
