// This instance's id and region from IMDSv2, asked by `report --cross-check cloudwatch` only
// when neither the log's lines nor the SDK's configuration name a region (the JS SDK does not
// take the region from IMDS). The daemon never asks IMDS; the report may, with a token, once,
// briefly, and only the instance the answer names is asked in that region. Honours the SDK's
// AWS_EC2_METADATA_DISABLED.
import { request } from 'node:http';
import { isInstanceId, isRegionName } from '../logic/host-identity.js';

const IMDS_HOST = '169.254.169.254';
const TIMEOUT_MS = 1000;
const TOKEN_TTL_S = 60;
/** More than an instance id, a region or a token: a longer answer is not one. */
const MAX_ANSWER_BYTES = 256;

function call(method: 'PUT' | 'GET', path: string, headers: Record<string, string>): Promise<string | null> {
  return new Promise((resolve) => {
    const req = request({ host: IMDS_HOST, port: 80, method, path, headers, timeout: TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (body.length > MAX_ANSWER_BYTES) req.destroy();
      });
      res.on('end', () => resolve(res.statusCode === 200 && body.length <= MAX_ANSWER_BYTES ? body.trim() : null));
      res.on('error', () => resolve(null));
      res.on('close', () => resolve(null)); // after 'end' this changes nothing
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

/** This instance's id and region, or null off EC2, with IMDS turned off, or on any failure. */
export async function localPlacement(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ instanceId: string; region: string } | null> {
  if (env.AWS_EC2_METADATA_DISABLED?.toLowerCase() === 'true') return null;
  const token = await call('PUT', '/latest/api/token', { 'X-aws-ec2-metadata-token-ttl-seconds': String(TOKEN_TTL_S) });
  if (!token) return null;
  const headers = { 'X-aws-ec2-metadata-token': token };
  const instanceId = await call('GET', '/latest/meta-data/instance-id', headers);
  const region = instanceId && (await call('GET', '/latest/meta-data/placement/region', headers));
  return instanceId && region && isInstanceId(instanceId) && isRegionName(region) ? { instanceId, region } : null;
}
