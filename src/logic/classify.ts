// IMDSv1 or IMDSv2, decided per request the way IMDS itself decides it
// (docs/imds.md): a request carrying either token header, or the token
// PUT itself, is IMDSv2; a fully seen request with neither is IMDSv1; a request we did
// not fully see, or that is not HTTP/1.x, is "unknown" — never guessed.
//
// aws_api is true only for AWS IMDS API paths. For any other path (GCP, Azure, OpenStack,
// anything else) imds_version is still reported as seen, but the report, the console and the
// advice treat an aws_api=false request as "other clouds' metadata paths": never an IMDSv1
// caller. A request cut short inside its request line (capture gap, closed connection) is
// judged on the part of the path that was seen: when that part is an AWS API path or the
// beginning of one (`GET /lat` + gap), the request stays an AWS API request (unknown) rather
// than vanishing into "other clouds".
import type { ImdsVersion } from '../model/imds.js';
import type { HttpRequestRecord } from './http-request.js';

export type { ImdsVersion };

export interface Classification {
  imds_version: ImdsVersion;
  /** The path is one of the AWS IMDS API's (not GCP, Azure, OpenStack or anything else). */
  aws_api: boolean;
  token_request: boolean;
}

/** AWS IMDS API paths: `/`, `/latest/...`, `/<YYYY-MM-DD>/...`, `/1.0/...`. */
const AWS_API_PATH = /^\/(?:$|latest(?:\/|$)|\d{4}-\d{2}-\d{2}(?:\/|$)|1\.0(?:\/|$))/;
/** What a target cut short may be the beginning of: an AWS API path, or an absolute-form URL. */
const AWS_API_PATH_STARTS = ['/latest', '/1.0', 'http://', 'https://'];
const DATE_PATH_START = /^\/(?:\d{0,4}|\d{4}-\d{0,2}|\d{4}-\d{2}-\d{0,2})$/;
const TOKEN_PATH = /^\/(?:latest|\d{4}-\d{2}-\d{2})\/api\/token\/?$/;

function pathOnly(target: string): string {
  // An absolute-form target (http://host/path) is reduced to its path.
  const absolute = /^https?:\/\/[^/]*(\/.*)?$/i.exec(target);
  const path = absolute ? (absolute[1] ?? '/') : target;
  return path.split(/[?#]/)[0] ?? '';
}

export function isAwsApiPath(target: string): boolean {
  return AWS_API_PATH.test(pathOnly(target));
}

/** Whether a target cut short could have gone on to be an AWS API path. */
export function mayBeAwsApiPath(cut: string): boolean {
  const lower = cut.toLowerCase();
  return (
    AWS_API_PATH.test(pathOnly(cut)) ||
    DATE_PATH_START.test(cut) ||
    AWS_API_PATH_STARTS.some((start) => start.startsWith(lower))
  );
}

export function classifyRequest(rec: HttpRequestRecord): Classification {
  const path = pathOnly(rec.path);
  // A request line cut short (no valid line, block incomplete): its path may be cut too.
  const cutShort = !rec.requestLineValid && !rec.headerBlockComplete;
  const aws_api = cutShort ? mayBeAwsApiPath(rec.path) : rec.requestLineValid && AWS_API_PATH.test(path);
  const token_request = rec.requestLineValid && rec.method === 'PUT' && TOKEN_PATH.test(path);
  let imds_version: ImdsVersion;
  if (!rec.requestLineValid || !rec.headerBlockComplete || rec.httpVersion === null) imds_version = 'unknown';
  else if (token_request || rec.hasTokenHeader || rec.hasTokenTtlHeader) imds_version = 'v2';
  else imds_version = 'v1';
  return { imds_version, aws_api, token_request };
}
