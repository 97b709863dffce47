// classifyRequest: the v1/v2/unknown and aws_api rules on records built field by field.
import { describe, expect, it } from 'vitest';
import { classifyRequest, isAwsApiPath } from '../../src/logic/classify.js';
import type { HttpRequestRecord } from '../../src/logic/http-request.js';
import { completeGet } from '../helpers/http-record.js';

const classify = (change: Partial<HttpRequestRecord>) => classifyRequest({ ...completeGet, ...change });

describe('classifyRequest', () => {
  it('the token PUT is v2 even without its TTL header (IMDS answers it 400, it is still a v2 attempt)', () => {
    expect(classify({ method: 'PUT', path: '/latest/api/token' })).toEqual({
      imds_version: 'v2',
      aws_api: true,
      token_request: true,
    });
    expect(classify({ method: 'PUT', path: '/2021-07-15/api/token/' }).token_request).toBe(true);
    expect(classify({ method: 'GET', path: '/latest/api/token' })).toEqual({
      imds_version: 'v1',
      aws_api: true,
      token_request: false,
    });
  });

  it('either token header makes a request v2; neither makes a complete request v1', () => {
    expect(classify({ hasTokenHeader: true }).imds_version).toBe('v2');
    expect(classify({ hasTokenTtlHeader: true }).imds_version).toBe('v2');
    expect(classify({}).imds_version).toBe('v1');
  });

  it('an incomplete header block, an invalid request line or no HTTP version is unknown', () => {
    expect(classify({ headerBlockComplete: false, hasTokenHeader: true }).imds_version).toBe('unknown');
    expect(classify({ requestLineValid: false }).imds_version).toBe('unknown');
    expect(classify({ httpVersion: null }).imds_version).toBe('unknown');
  });

  it('a request cut inside its request line is judged on the path seen so far', () => {
    const cut = { requestLineValid: false, headerBlockComplete: false, httpVersion: null };
    expect(classify({ ...cut, path: '/latest/me' })).toEqual({
      imds_version: 'unknown',
      aws_api: true,
      token_request: false,
    });
    expect(classify({ ...cut, path: '/computeMeta' }).aws_api).toBe(false);
    // Cut inside the first segment: any beginning of an AWS API path counts as one.
    for (const path of ['', '/', '/l', '/lat', '/latest', '/1', '/1.', '/20', '/2024-0', '/2024-01-1', 'http://169.2'])
      expect([path, classify({ ...cut, path }).aws_api]).toEqual([path, true]);
    for (const path of ['/c', '/openstack', '/2024-01-01x', '/metadata/inst', 'x'])
      expect([path, classify({ ...cut, path }).aws_api]).toEqual([path, false]);
    // A complete but version-less (HTTP/0.9 style) line is not an IMDS API request.
    expect(classify({ requestLineValid: false, httpVersion: null }).aws_api).toBe(false);
  });

  it('non-AWS paths keep their version but are not the AWS API', () => {
    expect(classify({ path: '/computeMetadata/v1/instance/id' })).toEqual({
      imds_version: 'v1',
      aws_api: false,
      token_request: false,
    });
    expect(classify({ path: '/metadata/instance?api-version=2021-02-01', hasTokenHeader: true })).toEqual({
      imds_version: 'v2',
      aws_api: false,
      token_request: false,
    });
  });
});

describe('isAwsApiPath', () => {
  it.each([
    ['/', true],
    ['/latest', true],
    ['/latest/meta-data/iam/security-credentials/role?x=1', true],
    ['/2009-04-04/meta-data/', true],
    ['/1.0/meta-data/', true],
    ['http://169.254.169.254/latest/meta-data/', true],
    ['/latestx/', false],
    ['/1.01/', false],
    ['/2021-7-15/', false],
    ['/computeMetadata/v1/', false],
    ['/metadata/instance', false],
    ['/openstack/latest/meta_data.json', false],
    ['/?latest', true],
    ['', false],
    ['*', false],
  ])('%s -> %s', (path, expected) => {
    expect(isAwsApiPath(path)).toBe(expected);
  });
});
