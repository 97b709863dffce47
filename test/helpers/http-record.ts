// A parsed request as the HTTP parser makes it for a plain, complete GET: tests spread it and
// change the fields they are about.
import type { HttpRequestRecord } from '../../src/logic/http-request.js';

export const completeGet: HttpRequestRecord = {
  method: 'GET',
  path: '/latest/meta-data/',
  httpVersion: 'HTTP/1.1',
  requestLineValid: true,
  headerBlockComplete: true,
  hasTokenHeader: false,
  hasTokenTtlHeader: false,
  hasForwardedFor: false,
  canaryHeader: false,
  userAgent: null,
  headerCount: 1,
  streamOffset: 0,
  truncated: [],
};
