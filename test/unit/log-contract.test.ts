// The log contract holds the writer, the readers and the docs together: what the sink
// writes parses with src/model/log-line.ts, and docs/log-contract.md lists every field.
// (The e2e capture test parses every line a real daemon wrote with the same schema.)
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openTestSink } from '../helpers/test-sink.js';
import { ReportBuilder } from '../../src/logic/report/aggregate.js';
import { type Counters, logLineSchema, requestLineSchema } from '../../src/model/log-line.js';
import { contractDoc, fieldPaths } from '../helpers/contract-doc.js';
import { daemonDescription } from '../helpers/lifecycle.js';
import { requestLine } from '../helpers/request-line.js';

const dir = mkdtempSync(join(tmpdir(), 'contract-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const description = daemonDescription(42, dir);
const counters: Counters = {
  requests: { v1: 1, v2: 2, unknown: 0 },
  kernel: { events_lost: 0, segments: 3 },
  decode_errors: 0,
  record_errors: 0,
  drain_errors: 0,
  status_write_errors: 0,
  streams: {
    joined_mid_stream: 1,
    holes_skipped: 1,
    hole_bytes: 40,
    bytes_skipped: 12,
    responses_unmatched: 1,
    responses_retransmitted: 2,
  },
  not_imds_records: 0,
  tracked_connections: 1,
  lines_written: 3,
  lines_not_written: 0,
  write_errors: 0,
};

describe('log contract', () => {
  it('every line the sink writes parses with the schema, strictly', async () => {
    const sink = await openTestSink(dir, {
      rotation: { maxSizeMB: 10, frequency: 'daily', maxFiles: 2 },
      identity: { instance_id: 'i-0123456789abcdef0', region: 'us-east-1', boot_id: 'b-1' },
    });
    sink.lifecycle('ready', {
      ...description,
      ...counters,
      uptime_ms: 6400,
      startup_ms: { modules: 40, config: 60, log_sink: 80, bpf_attached: 120, ready: 125 },
      capture_continued: false,
      capture_gap: 'fresh_start',
    });
    sink.request(requestLine());
    sink.request({
      ...requestLine(),
      container: { runtime: 'kubernetes', id: 'c'.repeat(64), pod_uid: 'p-1', pid: 9 },
    });
    sink.lifecycle('stats', { ...description, ...counters, interval_s: 60 });
    sink.lifecycle('error', { source: 'libbpf', message: 'x' });
    sink.lifecycle('stopping', { ...description, ...counters, signal: 'SIGTERM', system_shutdown: false });
    await sink.close();
    const lines = readdirSync(dir)
      .filter((name) => name.endsWith('.log'))
      .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean))
      .map((text) => JSON.parse(text) as unknown);
    expect(lines).toHaveLength(6);
    for (const line of lines) expect(logLineSchema.safeParse(line).error?.issues ?? []).toEqual([]);
  });

  it('a field the contract does not know is refused, so a new field cannot slip past the docs', () => {
    const line = {
      ...requestLine(),
      level: 40,
      time: 1,
      timestamp: '1970-01-01T00:00:00.001Z',
      hostname: 'h',
      instance_id: null,
      region: null,
      boot_id: 'b',
      msg: 'm',
    };
    expect(requestLineSchema.safeParse(line).success).toBe(true);
    expect(requestLineSchema.safeParse({ ...line, surprise: 1 }).success).toBe(false);
    expect(requestLineSchema.safeParse({ ...line, process: { ...line.process, env: {} } }).success).toBe(false);
  });

  it('docs/log-contract.md carries the generated field list (run `npm run docs:contract` after a change)', () => {
    const docs = readFileSync(new URL('../../docs/log-contract.md', import.meta.url), 'utf8');
    expect(docs).toContain(contractDoc());
    for (const path of [
      'cgroup',
      'request_time',
      'process.ns_pid',
      'process.cmdline',
      'container.pod_uid',
      'container.ecs_task',
      'instance_id',
      'boot_id',
      'timestamp',
    ]) {
      expect(fieldPaths(requestLineSchema).map(([p]) => p)).toContain(path);
    }
  });

  it('the report reads stored lines through the same schema: older lines pass, a wrongly typed field is corrupt', () => {
    const stored = { ...requestLine(), level: 40, time: Date.parse('2026-11-28T14:04:05Z'), hostname: 'h', msg: 'm' };
    const { cmdline: _cmdline, ...olderProcess } = stored.process;
    const builder = new ReportBuilder();
    builder.addText(JSON.stringify(stored));
    builder.addText(JSON.stringify({ ...stored, process: olderProcess, redacted: undefined })); // written before cmdline existed
    builder.addText(JSON.stringify({ ...stored, future_field: 1 })); // a newer version's field
    builder.addText(JSON.stringify({ ...stored, process: { ...stored.process, argv: 'curl -s' } }));
    builder.addText(JSON.stringify({ ...stored, imds_version: 'v3' }));
    const { input, verdict } = builder.result();
    expect(input).toMatchObject({ lines: 5, corrupt_lines: 2 });
    expect(verdict.imdsv1_requests).toBe(3);
  });
});
