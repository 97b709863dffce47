// adviceFor: one sentence an operator acts on, for each kind of IMDSv1 caller.
import { describe, expect, it } from 'vitest';
import { type AdviceInput, adviceFor } from '../../src/logic/advice.js';
import { UNANSWERED_PUT_REASON } from '../../src/logic/fallback.js';
import { sdkFromUserAgent } from '../../src/logic/sdk.js';
import { redactText } from '../../src/logic/redact.js';

const v1: AdviceInput = {
  imds_version: 'v1',
  aws_api: true,
  sdk: null,
  fallback: null,
  container: null,
  status: 200,
  comm: 'python3',
};
const fallback = { reason: UNANSWERED_PUT_REASON };
const refused = { reason: 'token PUT was answered 403, then the same process fell back to IMDSv1' };
const DISABLE_KNOBS = [
  'AWS_EC2_METADATA_V1_DISABLED=true',
  'ec2_metadata_v1_disabled = true',
  'aws.disableEc2MetadataV1',
];

describe('adviceFor', () => {
  it('tells to upgrade an SDK that predates IMDSv2, naming the minimum', () => {
    expect(adviceFor({ ...v1, sdk: sdkFromUserAgent('Botocore/1.12.0 Python/3.7') })).toBe(
      'botocore 1.12.0 predates IMDSv2 support (1.13.25): upgrade it.',
    );
    expect(adviceFor({ ...v1, sdk: sdkFromUserAgent('aws-sdk-java/1.11.600 Linux/4.14') })).toBe(
      'aws-sdk-java 1.11.600 predates IMDSv2 support (1.11.678): upgrade it.',
    );
  });

  it('blames the hop limit for a containerised process whose token PUT got no answer', () => {
    const text = adviceFor({
      ...v1,
      sdk: sdkFromUserAgent('Botocore/1.31.0'),
      fallback,
      container: { runtime: 'docker', id: 'a'.repeat(64) },
    });
    expect(text).toContain('raise HttpPutResponseHopLimit to 2');
    for (const knob of DISABLE_KNOBS) expect(text).toContain(knob);
  });

  it('blames what drops the PUT on the host, and names the knobs', () => {
    const text = adviceFor({ ...v1, sdk: sdkFromUserAgent('Botocore/1.31.0'), fallback });
    expect(text).toMatch(/^Find what drops the token PUT or its answer/);
    expect(text).not.toContain('HopLimit');
    for (const knob of DISABLE_KNOBS) expect(text).toContain(knob);
  });

  it('a refused PUT is not the hop limit, even in a container', () => {
    const text = adviceFor({ ...v1, fallback: refused, container: { runtime: 'docker', id: 'a'.repeat(64) } });
    expect(text).toMatch(/^IMDS or something in between refused the token PUT/);
    expect(text).not.toContain('HopLimit');
    expect(text).toContain('AWS_EC2_METADATA_V1_DISABLED=true');
  });

  it('shows curl and urllib users the token PUT to add', () => {
    expect(adviceFor({ ...v1, comm: 'curl', sdk: sdkFromUserAgent('curl/7.88.1') })).toBe(
      'curl calls IMDS without a token; fetch one first with curl -sX PUT http://169.254.169.254/latest/api/token ' +
        '-H "X-aws-ec2-metadata-token-ttl-seconds: 21600" and send what it prints in the X-aws-ec2-metadata-token header.',
    );
    // Every line goes through redaction: the advice must survive it whole.
    for (const sdk of ['curl/7.88.1', 'Python-urllib/3.11', 'Botocore/1.20.0', null]) {
      const text = adviceFor({ ...v1, comm: 'x', sdk: sdkFromUserAgent(sdk) }) ?? '';
      expect(redactText(text)).toEqual({ text, redacted: false });
    }
    expect(adviceFor({ ...v1, sdk: sdkFromUserAgent('Python-urllib/3.11') })).toContain("method='PUT'");
  });

  it('names the program when there is no User-Agent, and says when IMDS already rejects it', () => {
    const text = adviceFor({ ...v1, comm: 'fetch-meta', status: 401 });
    expect(text).toMatch(/^fetch-meta calls IMDS without a token; fetch one first \(PUT \/latest\/api\/token/);
    expect(text).toMatch(/IMDS already rejects it \(HttpTokens=required\)\.$/);
    // A canary's 401 is not the instance requiring IMDSv2: the advice says which it was.
    const inCanary = adviceFor({ ...v1, comm: 'fetch-meta', status: 401, canary: true }) ?? '';
    expect(inCanary).toMatch(/ A canary made IMDS refuse it \(401\), as HttpTokens=required will\.$/);
    expect(inCanary).not.toMatch(/already rejects/);
    expect(redactText(inCanary)).toEqual({ text: inCanary, redacted: false });
  });

  it('an IMDSv2-capable SDK sending v1 without a failed PUT: configuration and knobs', () => {
    const text = adviceFor({ ...v1, sdk: sdkFromUserAgent('aws-sdk-go-v2/1.21.0') });
    expect(text).toMatch(/^aws-sdk-go-v2 1\.21\.0 supports IMDSv2 but sent IMDSv1/);
  });

  it('nothing for v2, unknown, or other clouds', () => {
    expect(adviceFor({ ...v1, imds_version: 'v2' })).toBeNull();
    expect(adviceFor({ ...v1, imds_version: 'unknown' })).toBeNull();
    expect(adviceFor({ ...v1, aws_api: false })).toBeNull();
  });
});
