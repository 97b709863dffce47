// Proves that src/capture/abi.ts mirrors bpf/imds_events.h: struct layouts against the
// BTF the compiler wrote into the committed object, constants against the header text.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ABI_LAYOUT,
  IMDS_ABI_VERSION,
  IMDS_CGROUP_LEVELS,
  IMDS_CGROUP_NAME,
  IMDS_MAX_ARGS,
  IMDS_MAX_PAYLOAD,
  KERNEL_STATS,
  KERNEL_STAT_SLOTS,
  RecordFlag,
  RecordType,
  decodeRecord,
} from '../../src/capture/abi.js';
import { readObjectBtf } from '../helpers/btf.js';

const header = readFileSync(new URL('../../bpf/imds_events.h', import.meta.url), 'utf8');
const btf = readObjectBtf(readFileSync(new URL('../../bpf/imds_analyzer.bpf.o', import.meta.url)));

/** NAME = value pairs of the header's enums and #defines. */
function headerConstants(): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of header.matchAll(/^#define\s+(IMDS_\w+)\s+(\d+)\s*$/gm)) out.set(m[1]!, Number(m[2]));
  for (const m of header.matchAll(/^\s*(IMDS_\w+)\s*=\s*([^,]+),/gm)) {
    const shift = /^1\s*<<\s*(\d+)/.exec(m[2]!.trim());
    out.set(m[1]!, shift ? 1 << Number(shift[1]) : Number(m[2]));
  }
  return out;
}

describe('kernel/user ABI', () => {
  for (const [name, layout] of Object.entries(ABI_LAYOUT)) {
    it(`${name} has the layout the compiler gave it`, () => {
      const actual = btf.struct(name);
      expect(actual.size).toBe(layout.size);
      const offsets = Object.fromEntries(actual.members.map((m) => [m.name, m.offset]));
      for (const [field, offset] of Object.entries(layout.fields)) {
        expect({ field, offset: offsets[field] }).toEqual({ field, offset });
      }
    });
  }

  it('constants match the header', () => {
    const c = headerConstants();
    expect(c.get('IMDS_ABI_VERSION')).toBe(IMDS_ABI_VERSION);
    expect(c.get('IMDS_MAX_PAYLOAD')).toBe(IMDS_MAX_PAYLOAD);
    expect(c.get('IMDS_MAX_ARGS')).toBe(IMDS_MAX_ARGS);
    expect(c.get('IMDS_CGROUP_LEVELS')).toBe(IMDS_CGROUP_LEVELS);
    expect(c.get('IMDS_CGROUP_NAME')).toBe(IMDS_CGROUP_NAME);
    expect(c.get('IMDS_STAT_COUNT')).toBe(KERNEL_STAT_SLOTS);
    for (const [kind, value] of Object.entries(RecordType)) {
      expect({ kind, value: c.get(`IMDS_RECORD_${kind.toUpperCase()}`) }).toEqual({ kind, value });
    }
    const flagNames = {
      ownerKnown: 'OWNER_KNOWN',
      reset: 'RESET',
      argsTruncated: 'ARGS_TRUNCATED',
      argsUnreadable: 'ARGS_UNREADABLE',
      streamStartKnown: 'STREAM_START_KNOWN',
      notExeced: 'NOT_EXECED',
      cgroupTruncated: 'CGROUP_TRUNCATED',
    };
    for (const [flag, value] of Object.entries(RecordFlag)) {
      const cName = `IMDS_FLAG_${flagNames[flag as keyof typeof flagNames]}`;
      expect({ cName, value: c.get(cName) }).toEqual({ cName, value });
    }
    KERNEL_STATS.forEach((stat, index) => {
      expect({ stat, index: c.get(`IMDS_STAT_${stat.toUpperCase()}`) }).toEqual({ stat, index });
    });
  });

  it('decodes a payload record laid out as the header says', () => {
    const L = ABI_LAYOUT.imds_payload_record.fields;
    const body = new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n');
    const raw = new Uint8Array(L.data + body.length);
    const v = new DataView(raw.buffer);
    v.setUint32(0, RecordType.payload, true);
    v.setUint32(4, RecordFlag.ownerKnown | RecordFlag.streamStartKnown, true);
    v.setBigUint64(8, 42n, true);
    v.setBigUint64(L.flow, 7n, true);
    raw.set([169, 254, 169, 254], L.flow + ABI_LAYOUT.imds_flow.fields.daddr);
    v.setUint16(L.flow + ABI_LAYOUT.imds_flow.fields.family, 4, true);
    v.setUint16(L.flow + ABI_LAYOUT.imds_flow.fields.dport, 80, true);
    v.setUint32(L.owner, 1234, true);
    raw.set(new TextEncoder().encode('curl'), L.owner + ABI_LAYOUT.imds_owner.fields.comm);
    v.setUint32(L.owner + ABI_LAYOUT.imds_owner.fields.stream_start, 0xffffffe0, true);
    v.setUint32(L.seq, 0xfffffff0, true);
    v.setUint32(L.wire_len, 9000, true);
    v.setUint32(L.captured_len, body.length, true);
    raw.set(body, L.data);
    const rec = decodeRecord(raw);
    expect(rec).toMatchObject({
      kind: 'payload',
      tsNs: 42n,
      flow: { cookie: 7n, family: 'ipv4', address: '169.254.169.254', port: 80 },
      owner: { pid: 1234, comm: 'curl' },
      seq: 0xfffffff0,
      streamStart: 0xffffffe0,
      wireLength: 9000,
    });
    expect(rec.kind === 'payload' && new TextDecoder().decode(rec.bytes)).toBe('GET / HTTP/1.1\r\n\r\n');
  });

  it('decodes a response record with its sequence and acknowledgement numbers', () => {
    const L = ABI_LAYOUT.imds_response_record.fields;
    const raw = new Uint8Array(ABI_LAYOUT.imds_response_record.size);
    const v = new DataView(raw.buffer);
    v.setUint32(0, RecordType.response, true);
    v.setUint16(L.flow + ABI_LAYOUT.imds_flow.fields.family, 4, true);
    v.setUint32(L.seq, 77, true);
    v.setUint32(L.status, 401, true);
    v.setUint32(L.ack, 0xfffffffe, true);
    expect(decodeRecord(raw)).toMatchObject({ kind: 'response', seq: 77, ack: 0xfffffffe, status: 401 });
  });

  it('decodes a cgroup record, sent leaf first, into a path read from the top', () => {
    const L = ABI_LAYOUT.imds_cgroup_record.fields;
    const raw = new Uint8Array(ABI_LAYOUT.imds_cgroup_record.size);
    const v = new DataView(raw.buffer);
    v.setUint32(0, RecordType.cgroup, true);
    v.setUint32(4, RecordFlag.cgroupTruncated, true);
    v.setUint32(L.pid, 4321, true);
    v.setUint32(L.levels, 2, true);
    v.setBigUint64(L.start_ns, 99n, true);
    raw.set(new TextEncoder().encode('foo.service'), L.names);
    raw.set(new TextEncoder().encode('system.slice'), L.names + IMDS_CGROUP_NAME);
    expect(decodeRecord(raw)).toEqual({
      kind: 'cgroup',
      tsNs: 0n,
      pid: 4321,
      startNs: 99n,
      path: '/system.slice/foo.service',
      truncated: true,
    });
  });

  it('rejects a record shorter than its type', () => {
    const raw = new Uint8Array(20);
    new DataView(raw.buffer).setUint32(0, RecordType.response, true);
    expect(() => decodeRecord(raw)).toThrow(/response record of 20 bytes/);
  });
});
