// Configuration of the test IMDS server. The server takes it as one JSON argument
// (`--config '<json>'`); the testbed builds it. Unknown keys are rejected so a typo in a
// test never silently runs against the defaults.
import * as z from 'zod';
import { IMDS_IPV4, IMDS_IPV6 } from '../../src/model/imds.js';

export { IMDS_IPV4, IMDS_IPV6 };

const credentialsSchema = z
  .object({
    roleName: z.string().regex(/^[\w+=,.@-]{1,64}$/, 'IAM role names are 1..64 of [A-Za-z0-9_+=,.@-]'),
    accessKeyId: z.string().min(1),
    secretAccessKey: z.string().min(1),
    token: z.string().min(1),
  })
  .strict();

export const imdsOptionsSchema = z
  .object({
    /** "required" is HttpTokens=required: IMDSv1 requests get 401. */
    tokens: z.enum(['optional', 'required']).default('optional'),
    /**
     * How the token PUT is answered. "drop" accepts the connection and never answers,
     * so SDKs time out and fall back to IMDSv1 (the hop-limit-1 container case).
     */
    tokenPut: z
      .union([z.literal('ok'), z.literal(403), z.literal(404), z.literal(405), z.literal('drop')])
      .default('ok'),
    listen: z.array(z.string().min(1)).min(1).default([IMDS_IPV4, IMDS_IPV6]),
    port: z.number().int().min(1).max(65535).default(80),
    /** File the server appends one JSON line to per request it served. */
    logFile: z.string().min(1),
    instanceId: z.string().default('i-0123456789abcdef0'),
    amiId: z.string().default('ami-0abcdef1234567890'),
    instanceType: z.string().default('t3.micro'),
    region: z.string().default('us-east-1'),
    availabilityZone: z.string().default('us-east-1a'),
    accountId: z.string().default('123456789012'),
    /** null: no instance profile, so iam/ paths answer 404 as on a real instance without a role. */
    credentials: credentialsSchema.nullable().default({
      roleName: 'imds-analyzer-test-role',
      accessKeyId: 'ASIAIMDSANALYZERTEST',
      secretAccessKey: 'imds-analyzer-test-secret-access-key',
      token: 'imds-analyzer-test-session-token',
    }),
    /** null: `/latest/user-data` answers 404, as on an instance launched without user data. */
    userData: z.string().nullable().default(null),
  })
  .strict();

/** What callers pass: every key but logFile may be left out. */
export type ImdsOptionsInput = z.input<typeof imdsOptionsSchema>;
export type ImdsOptions = z.output<typeof imdsOptionsSchema>;
export type ImdsCredentials = z.output<typeof credentialsSchema>;

/** Parses and validates the server configuration; throws an Error naming each bad key. */
export function parseImdsOptions(input: unknown): ImdsOptions {
  const result = imdsOptionsSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new Error(`invalid test IMDS config: ${problems.join('; ')}`);
  }
  return result.data;
}

/** One line of the server's request log. Never holds a token value or a response body. */
export interface ServedRequest {
  time: string;
  method: string;
  /** Path as sent, query string included. */
  path: string;
  /** What IMDS itself decides: v2 when either token header is present, else v1. */
  version: 'v1' | 'v2';
  tokenRequest: boolean;
  /** Whether the token header carried a valid, unexpired token; null without the header. */
  tokenValid: boolean | null;
  /** HTTP status sent; null when the request was deliberately left unanswered ("drop"). */
  status: number | null;
  userAgent: string | null;
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  /** Which connection (server-side counter) and the nth request on it, from 0. */
  connection: number;
  requestIndex: number;
  /**
   * The request line and header lines as they arrived (names as sent, in order), the token
   * header's value replaced by "[token]": two requests that differ here did not arrive alike.
   */
  head: string[];
}
