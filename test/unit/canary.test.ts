// The canary's pure parts: durations, targets, the inserted header, how the request
// parser tells the canary's header from a client's token, and the ABI its header defines.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CANARY_STATS } from '../../src/capture/canary.js';
import {
  DEFAULT_CANARY_SECONDS,
  canaryDuration,
  canaryHeaderLine,
  inSubtree,
  namesContainer,
  normalCgroupPath,
  targetLabel,
} from '../../src/logic/canary.js';
import { classifyRequest } from '../../src/logic/classify.js';
import { HttpRequestParser, tokenValuesOf } from '../../src/logic/http-request.js';
import { CANARY_HEADER_BYTES, CANARY_TOKEN_PATTERN, CANARY_TOKEN_PREFIX } from '../../src/model/canary.js';

const SECRET = '0123456789abcdef';
const CANARY_TOKEN = `${CANARY_TOKEN_PREFIX}${SECRET}`;
const encode = (text: string) => new TextEncoder().encode(text);

function parse(text: string) {
  const parser = new HttpRequestParser(false, (value) => value === CANARY_TOKEN);
  const [record] = parser.push({ kind: 'data', bytes: encode(text) });
  if (!record) throw new Error('no record');
  return record;
}

describe('canary', () => {
  it('runs for a bounded time: default 1 h, at most 7 d, never zero', () => {
    expect(canaryDuration(undefined)).toBe(DEFAULT_CANARY_SECONDS);
    expect(canaryDuration('90s')).toBe(90);
    expect(canaryDuration('7d')).toBe(7 * 86400);
    expect(canaryDuration('8d')).toMatch(/at most 7d/);
    expect(canaryDuration('0')).toMatch(/takes a duration/);
    expect(canaryDuration('soon')).toMatch(/takes a duration/);
  });

  it('inserts one header line of the size the kernel object reserves', () => {
    const line = new TextDecoder().decode(canaryHeaderLine(SECRET));
    expect(line).toBe(`X-aws-ec2-metadata-token: ${CANARY_TOKEN}\r\n`);
    expect(line.length).toBe(CANARY_HEADER_BYTES);
    expect(CANARY_TOKEN_PATTERN.test(CANARY_TOKEN)).toBe(true);
    expect(() => canaryHeaderLine('not-hex-at-all!!')).toThrow();
  });

  it('names targets and their cgroups', () => {
    expect(targetLabel({ kind: 'unit', name: 'app.service' })).toBe('unit:app.service');
    expect(targetLabel({ kind: 'container', id: 'abc' })).toBe('container:abc');
    expect(normalCgroupPath('system.slice//app.service/')).toBe('/system.slice/app.service');
    expect(normalCgroupPath('/')).toBeNull();
    expect(normalCgroupPath('/a/../b')).toBeNull();
    const id = 'a'.repeat(12) + 'b'.repeat(52);
    expect(namesContainer(`docker-${id}.scope`, 'aaaaaaaaaaaa')).toBe(true);
    expect(namesContainer(`cri-containerd-${id}.scope`, id)).toBe(true);
    expect(namesContainer(id, 'aaaaaaaaaaaa')).toBe(true);
    expect(namesContainer(`docker-${id}.scope`, 'bbbbbbbbbbbb')).toBe(false);
    expect(namesContainer(`docker-${id}.scope`, 'aaa')).toBe(false);
    expect(inSubtree('/canary/app.service', '/canary')).toBe(true);
    expect(inSubtree('/canary', '/canary')).toBe(true);
    expect(inSubtree('/canary2/app.service', '/canary')).toBe(false);
    expect(inSubtree(null, '/canary')).toBe(false);
  });

  it("a request whose only token is the canary's is the tokenless request the client sent", () => {
    const record = parse(
      `GET /latest/meta-data/ HTTP/1.1\r\nX-aws-ec2-metadata-token: ${CANARY_TOKEN}\r\nHost: x\r\n\r\n`,
    );
    expect(record.canaryHeader).toBe(true);
    expect(record.hasTokenHeader).toBe(false);
    expect(classifyRequest(record).imds_version).toBe('v1');
    // The canary's value is no secret to learn.
    expect(tokenValuesOf(record)).toEqual([]);
  });

  it('a look-alike value (another secret) is a client token, judged as IMDS would', () => {
    const record = parse(`GET / HTTP/1.1\r\nX-aws-ec2-metadata-token: ${CANARY_TOKEN_PREFIX}ffffffffffffffff\r\n\r\n`);
    expect(record.canaryHeader).toBe(false);
    expect(classifyRequest(record).imds_version).toBe('v2');
  });
});

describe('the canary ABI (bpf/imds_canary.h)', () => {
  const header = readFileSync(new URL('../../bpf/imds_canary.h', import.meta.url), 'utf8');
  it('names the counters in the order user space reads them, and the inserted header length', () => {
    const stats = [...header.matchAll(/^\s*CANARY_STAT_(\w+)\s*=\s*(\d+),/gm)].map((m) => [
      m[1]?.toLowerCase(),
      Number(m[2]),
    ]);
    expect(stats).toEqual([...CANARY_STATS.map((name, index) => [name, index]), ['count', CANARY_STATS.length]]);
    expect(Number(/^#define CANARY_HEADER_LEN (\d+)$/m.exec(header)?.[1])).toBe(CANARY_HEADER_BYTES);
  });
});
