// The `imds_request` log line (contract: docs/architecture.md), assembled from what
// the connection tracker observed and what enrichment found.
import type { Attribution } from '../model/attribution.js';
import type { RequestLine } from '../model/log-line.js';
import { adviceFor } from './advice.js';
import type { ObservedRequest } from './connections.js';
import type { Fallback } from './fallback.js';
import { sdkFromUserAgent } from './sdk.js';

export function buildRequestLine(
  observed: ObservedRequest,
  who: Attribution,
  fallback: Fallback | null,
  requestTime: string,
): RequestLine {
  const { request, classification } = observed;
  const sdk = sdkFromUserAgent(request.userAgent);
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
    process: who.process,
    ancestors: who.ancestors,
    unit: who.unit,
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
    }),
    connection: { cookie: observed.flow.cookie.toString(), request_index: observed.index },
    request_time: requestTime,
    truncated: [...request.truncated.map((f) => `request.${f}`), ...who.truncated],
  };
}
