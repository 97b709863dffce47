// The `imds_request` log line (contract: docs/log-contract.md), assembled from what
// the connection tracker observed and what enrichment found.
import type { AncestorFields, Attribution } from '../model/attribution.js';
import type { RequestCanary } from '../model/canary.js';
import type { RequestLine } from '../model/log-line.js';
import { adviceFor } from './advice.js';
import type { ObservedRequest } from './connections.js';
import type { Fallback } from './fallback.js';
import { redactArgv } from './redact.js';
import { sdkFromUserAgent } from './sdk.js';
import { boundedText } from './text.js';

/**
 * Logs Insights discovers at most 200 fields per event and flattens arrays into one field per
 * element (`process.argv.0`, ...). These bounds keep a worst-case line within that budget
 * (test/unit/line-budget.test.ts counts it); `process.cmdline` keeps the whole command line.
 */
export const LINE_ARGV_ELEMENTS = 32;
export const LINE_ANCESTORS = 5;
export const LINE_ANCESTOR_ARGV_ELEMENTS = 8;
/** As many characters as the kernel copies of argv at exec (IMDS_MAX_ARGS bytes). */
export const LINE_CMDLINE_CHARS = 4096;

/**
 * The whole argv joined with spaces, secret-shaped arguments cut out as argv (a secret may be
 * the argument after its name), before argv itself is bounded: the sink's redaction then sees
 * only free text here, and the arguments beyond the bound are in no other field.
 */
export function cmdlineOf(argv: readonly string[]): { cmdline: string; redacted: boolean; truncated: boolean } {
  const { argv: clean, redacted } = redactArgv(argv);
  const bounded = boundedText(clean.join(' '), LINE_CMDLINE_CHARS);
  return { cmdline: bounded.text, redacted, truncated: bounded.truncated };
}

function boundedAncestors(ancestors: readonly AncestorFields[], truncated: string[]): AncestorFields[] {
  if (ancestors.length > LINE_ANCESTORS) truncated.push('ancestors');
  return ancestors.slice(0, LINE_ANCESTORS).map((a) => {
    if (a.argv.length <= LINE_ANCESTOR_ARGV_ELEMENTS) return a;
    truncated.push('ancestors.argv');
    return { ...a, argv: a.argv.slice(0, LINE_ANCESTOR_ARGV_ELEMENTS) };
  });
}

/**
 * What identifies one request across daemons: its connection and the TCP sequence number
 * of its first byte (unique on a connection; the kernel time of the segment that completed
 * it is not: pipelined requests share it). A daemon replaying its predecessor's records
 * skips the requests whose key is already in the log.
 */
export function requestKey(cookie: string, startSeq: number): string {
  return `${cookie}@${startSeq}`;
}

/** The key of a line written before lines had `start_seq`: connection and `kernel_ns`. */
export function requestKeyOfOlderLine(cookie: string, kernelNs: string): string {
  return `${cookie}/${kernelNs}`;
}

export function buildRequestLine(
  observed: ObservedRequest,
  who: Attribution,
  fallback: Fallback | null,
  requestTime: string,
  canary: RequestCanary | null = null,
): RequestLine {
  const { request, classification } = observed;
  const sdk = sdkFromUserAgent(request.userAgent);
  const truncated = [...request.truncated.map((f) => `request.${f}`), ...who.truncated];
  const { argv } = who.process;
  if (argv.length > LINE_ARGV_ELEMENTS) truncated.push('process.argv');
  const cmdline = cmdlineOf(argv);
  if (cmdline.truncated) truncated.push('process.cmdline');
  const ancestors = boundedAncestors(who.ancestors, truncated);
  return {
    event: 'imds_request',
    imds_version: classification.imds_version,
    aws_api: classification.aws_api,
    request: {
      method: request.method,
      path: request.path,
      token_request: classification.token_request,
      user_agent: request.userAgent,
    },
    destination: { address: observed.flow.address, port: observed.flow.port },
    process: { ...who.process, argv: argv.slice(0, LINE_ARGV_ELEMENTS), cmdline: cmdline.cmdline },
    ancestors,
    unit: who.unit,
    user_delegated: who.userDelegated,
    container: who.container,
    cgroup: who.cgroup,
    sdk,
    response: observed.status === null ? null : { status: observed.status },
    fallback,
    advice: adviceFor({
      imds_version: classification.imds_version,
      aws_api: classification.aws_api,
      sdk,
      fallback,
      container: who.container,
      status: observed.status,
      comm: who.process.comm,
      canary: canary !== null,
    }),
    connection: {
      cookie: observed.flow.cookie.toString(),
      request_index: observed.index,
      start_seq: observed.startSeq,
      resume_seq: observed.resumeSeq,
      kernel_ns: observed.seenNs.toString(),
    },
    request_time: requestTime,
    truncated: [...new Set(truncated)],
    redacted: cmdline.redacted ? ['process.cmdline'] : [],
    ...(canary ? { canary } : {}),
  };
}
