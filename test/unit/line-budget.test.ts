// What Logs Insights and the CloudWatch agent see of our lines: the worst-case request line
// and every lifecycle line, serialized by the real sink, stay within the 200 discovered
// fields; the ISO `timestamp` is the leftmost ISO string in every raw line (the agent stamps
// events with the leftmost match); `process.cmdline` is joined, redacted and bounded.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestSink } from '../helpers/test-sink.js';
import { LINE_ARGV_ELEMENTS, LINE_CMDLINE_CHARS, cmdlineOf } from '../../src/logic/request-line.js';
import { INSIGHTS_FIELD_LIMIT, flattenedFields } from '../helpers/insights.js';
import { worstCaseRequestLine } from '../helpers/worst-line.js';

const IDENTITY = {
  instance_id: 'i-0123456789abcdef0',
  region: 'eu-west-1',
  boot_id: '0f3c2b1a-9e8d-4c7b-a6f5-e4d3c2b1a098',
};
/** The agent's regex for `%Y-%m-%dT%H:%M:%S.%fZ`, as its translator builds it (checked in fleet-files.test.ts). */
const AGENT_ISO = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{1,9}Z/;

const dir = mkdtempSync(join(tmpdir(), 'imds-line-budget-'));
let raw: string[] = [];
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  const sink = await openTestSink(dir, { hostname: 'ip-10-0-0-1.eu-west-1.compute.internal', identity: IDENTITY });
  sink.request(worstCaseRequestLine());
  sink.lifecycle('error', { source: 'libbpf', message: 'libbpf: failed at 2019-01-02T03:04:05.678Z' });
  await sink.close();
  raw = readdirSync(dir)
    .filter((name) => name.endsWith('.log'))
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n'))
    .filter((line) => line !== '');
});

describe('the worst-case request line', () => {
  it(`has at most ${INSIGHTS_FIELD_LIMIT} fields once Logs Insights flattens it`, () => {
    const line = JSON.parse(raw[0] ?? '{}') as Record<string, unknown>;
    expect(line.event).toBe('imds_request');
    const fields = flattenedFields(line);
    process.stdout.write(`worst-case request line: ${fields.length} flattened fields, ${raw[0]?.length} bytes\n`);
    expect(new Set(fields).size).toBe(fields.length);
    expect(fields.length).toBeLessThanOrEqual(INSIGHTS_FIELD_LIMIT);
    // The bound did cut, and says so; the whole command line is still there.
    expect(fields.filter((f) => f.startsWith('process.argv.'))).toHaveLength(LINE_ARGV_ELEMENTS);
    expect(line.truncated).toEqual(
      expect.arrayContaining(['process.argv', 'ancestors.argv', 'ancestors', 'process.cmdline']),
    );
    expect((line.process as { cmdline: string }).cmdline).toHaveLength(LINE_CMDLINE_CHARS);
  });

  it('carries instance_id, boot_id and the ISO timestamp of the same instant as time', () => {
    for (const text of raw) {
      const line = JSON.parse(text) as Record<string, unknown>;
      expect(line).toMatchObject({ instance_id: IDENTITY.instance_id, boot_id: IDENTITY.boot_id });
      expect(Date.parse(line.timestamp as string)).toBe(line.time);
      expect(line.timestamp).toBe(new Date(line.time as number).toISOString());
    }
  });
});

describe('the ISO timestamp for the CloudWatch agent', () => {
  it('is the leftmost ISO-8601 string in every raw line, before process.start_time and any argument', () => {
    expect(raw.length).toBe(2);
    for (const text of raw) {
      const line = JSON.parse(text) as { timestamp: string };
      const first = AGENT_ISO.exec(text);
      expect(first?.[0]).toBe(line.timestamp);
      // The line does hold other ISO strings the agent would otherwise have taken.
      expect(text.slice((first?.index ?? 0) + line.timestamp.length)).toMatch(AGENT_ISO);
    }
  });
});

describe('process.cmdline', () => {
  it('is argv joined with spaces', () => {
    expect(cmdlineOf(['curl', '-s', 'http://169.254.169.254/latest/meta-data/'])).toEqual({
      cmdline: 'curl -s http://169.254.169.254/latest/meta-data/',
      redacted: false,
      truncated: false,
    });
    expect(cmdlineOf([])).toEqual({ cmdline: '', redacted: false, truncated: false });
  });

  it('is redacted, including a secret that spans two arguments', () => {
    const split = cmdlineOf(['curl', '-H', 'X-aws-ec2-metadata-token:', 'AQAEAsecretTOKEN==', 'http://x/']);
    expect(split.cmdline).not.toContain('AQAEAsecretTOKEN');
    expect(split).toEqual({
      cmdline: 'curl -H X-aws-ec2-metadata-token: [REDACTED] http://x/',
      redacted: true,
      truncated: false,
    });
    expect(cmdlineOf(['env', 'AWS_SESSION_TOKEN=abc123', 'app']).cmdline).toBe('env AWS_SESSION_TOKEN=[REDACTED] app');
  });

  it(`is bounded to ${LINE_CMDLINE_CHARS} characters without splitting a character`, () => {
    const long = cmdlineOf(['x'.repeat(LINE_CMDLINE_CHARS - 2), '😀']);
    expect(long.truncated).toBe(true);
    expect(long.cmdline).toBe(`${'x'.repeat(LINE_CMDLINE_CHARS - 2)} `);
    expect(cmdlineOf(['y'.repeat(LINE_CMDLINE_CHARS)])).toEqual({
      cmdline: 'y'.repeat(LINE_CMDLINE_CHARS),
      redacted: false,
      truncated: false,
    });
  });
});
