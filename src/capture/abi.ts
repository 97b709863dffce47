// The TypeScript mirror of bpf/imds_events.h: record layouts and the decoder that
// turns raw buffer records into the types of ./records.ts. test/unit/abi-btf.test.ts
// compares ABI_LAYOUT with the BTF of the built object, so a change on one side that
// is not made on the other fails the tests.
import { untilNul } from '../logic/c-string.js';
import { formatAddress } from '../logic/destination.js';
import { decodeBytes, splitArgv } from '../logic/text.js';
import type { Flow, KernelRecord, SocketOwner } from '../model/records.js';

export const IMDS_ABI_VERSION = 3;
export const IMDS_MAX_PAYLOAD = 4096;
export const IMDS_MAX_ARGS = 4096;
export const IMDS_CGROUP_LEVELS = 8;
export const IMDS_CGROUP_NAME = 128;
const MAX_ARGV_ELEMENTS = 256;
const MAX_ARG_CHARS = 4096;

export const RecordType = {
  payload: 1,
  response: 2,
  close: 3,
  process: 4,
  cgroup: 5,
} as const;

export const RecordFlag = {
  ownerKnown: 1 << 0,
  reset: 1 << 1,
  argsTruncated: 1 << 2,
  argsUnreadable: 1 << 3,
  streamStartKnown: 1 << 4,
  notExeced: 1 << 5,
  cgroupTruncated: 1 << 6,
} as const;

/** Indices of the per-CPU "stats" map, named as they appear in `stats` log lines. */
export const KERNEL_STATS = [
  'events_lost',
  'process_events_lost',
  'process_store_failed',
  'connects',
  'segments',
  'segments_truncated',
  'segments_no_owner',
  'responses',
  'parse_errors',
  'owner_store_failed',
] as const;
export type KernelStatName = (typeof KERNEL_STATS)[number];
export const KERNEL_STAT_SLOTS = 16;

/** Byte offsets of every field the decoder reads, and each struct's size. */
export const ABI_LAYOUT = {
  imds_record_head: { size: 16, fields: { type: 0, flags: 4, ts_ns: 8 } },
  imds_flow: { size: 32, fields: { cookie: 0, daddr: 8, family: 24, dport: 26 } },
  imds_owner: {
    size: 56,
    fields: {
      pid: 0,
      tid: 4,
      uid: 8,
      gid: 12,
      cgroup_id: 16,
      connect_ns: 24,
      comm: 32,
      stream_start: 48,
      stream_start_known: 52,
    },
  },
  imds_payload_record: {
    size: 128 + IMDS_MAX_PAYLOAD,
    fields: {
      head: 0,
      flow: 16,
      owner: 48,
      socket_cgroup_id: 104,
      socket_uid: 112,
      seq: 116,
      wire_len: 120,
      captured_len: 124,
      data: 128,
    },
  },
  imds_response_record: { size: 64, fields: { head: 0, flow: 16, seq: 48, status: 52, ack: 56 } },
  imds_close_record: { size: 48, fields: { head: 0, flow: 16 } },
  imds_process_record: {
    size: 80,
    fields: {
      head: 0,
      pid: 16,
      ppid: 20,
      uid: 24,
      gid: 28,
      start_ns: 32,
      parent_start_ns: 40,
      exit_ns: 48,
      ns_pid: 56,
      ns_level: 60,
      comm: 64,
    },
  },
  imds_exec_record: {
    size: 344 + IMDS_MAX_ARGS,
    fields: { proc: 0, filename_len: 80, args_len: 84, filename: 88, args: 344 },
  },
  imds_cgroup_record: {
    size: 32 + IMDS_CGROUP_LEVELS * IMDS_CGROUP_NAME,
    fields: { head: 0, pid: 16, levels: 20, start_ns: 24, names: 32 },
  },
} as const;

const HEAD = ABI_LAYOUT.imds_record_head.fields;
const FLOW = ABI_LAYOUT.imds_flow.fields;
const OWNER = ABI_LAYOUT.imds_owner.fields;
const PAYLOAD = ABI_LAYOUT.imds_payload_record.fields;
const RESPONSE = ABI_LAYOUT.imds_response_record.fields;
const CLOSE = ABI_LAYOUT.imds_close_record.fields;
const PROC = ABI_LAYOUT.imds_process_record.fields;
const EXEC = ABI_LAYOUT.imds_exec_record.fields;
const CGROUP = ABI_LAYOUT.imds_cgroup_record.fields;
const COMM_LEN = 16;
const FILENAME_LEN = 256;

export class AbiError extends Error {}

/** A kernel string (comm, a cgroup name): up to its NUL, every byte kept (text.ts). */
function kernelString(bytes: Uint8Array, maxChars: number): string {
  return decodeBytes(untilNul(bytes), maxChars).text;
}

/** Decodes one record; throws AbiError for a record too short for its type. */
export function decodeRecord(raw: Uint8Array): KernelRecord {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const need = (size: number, what: string) => {
    if (raw.byteLength < size) throw new AbiError(`${what} record of ${raw.byteLength} bytes, expected ${size}`);
  };
  need(ABI_LAYOUT.imds_record_head.size, 'short');
  const type = view.getUint32(HEAD.type, true);
  const flags = view.getUint32(HEAD.flags, true);
  const tsNs = view.getBigUint64(HEAD.ts_ns, true);

  const flowAt = (base: number): Flow => {
    const family = view.getUint16(base + FLOW.family, true) === 6 ? 'ipv6' : 'ipv4';
    const daddr = raw.subarray(base + FLOW.daddr, base + FLOW.daddr + (family === 'ipv6' ? 16 : 4));
    return {
      cookie: view.getBigUint64(base + FLOW.cookie, true),
      family,
      address: formatAddress(family, daddr),
      port: view.getUint16(base + FLOW.dport, true),
    };
  };
  const ownerAt = (base: number): SocketOwner => ({
    pid: view.getUint32(base + OWNER.pid, true),
    tid: view.getUint32(base + OWNER.tid, true),
    uid: view.getUint32(base + OWNER.uid, true),
    gid: view.getUint32(base + OWNER.gid, true),
    cgroupId: view.getBigUint64(base + OWNER.cgroup_id, true),
    connectNs: view.getBigUint64(base + OWNER.connect_ns, true),
    comm: kernelString(raw.subarray(base + OWNER.comm, base + OWNER.comm + COMM_LEN), COMM_LEN),
  });
  switch (type) {
    case RecordType.payload: {
      need(PAYLOAD.data, 'payload');
      const captured = Math.min(view.getUint32(PAYLOAD.captured_len, true), raw.byteLength - PAYLOAD.data);
      return {
        kind: 'payload',
        tsNs,
        flow: flowAt(PAYLOAD.flow),
        owner: flags & RecordFlag.ownerKnown ? ownerAt(PAYLOAD.owner) : null,
        socketUid: view.getUint32(PAYLOAD.socket_uid, true),
        socketCgroupId: view.getBigUint64(PAYLOAD.socket_cgroup_id, true),
        seq: view.getUint32(PAYLOAD.seq, true),
        streamStart:
          flags & RecordFlag.streamStartKnown ? view.getUint32(PAYLOAD.owner + OWNER.stream_start, true) : null,
        wireLength: view.getUint32(PAYLOAD.wire_len, true),
        // Copy: the buffer's memory is reused once the callback returns.
        bytes: raw.slice(PAYLOAD.data, PAYLOAD.data + captured),
      };
    }
    case RecordType.response:
      need(ABI_LAYOUT.imds_response_record.size, 'response');
      return {
        kind: 'response',
        tsNs,
        flow: flowAt(RESPONSE.flow),
        seq: view.getUint32(RESPONSE.seq, true),
        ack: view.getUint32(RESPONSE.ack, true),
        status: view.getUint32(RESPONSE.status, true),
      };
    case RecordType.close:
      need(ABI_LAYOUT.imds_close_record.size, 'close');
      return { kind: 'close', tsNs, flow: flowAt(CLOSE.flow), reset: (flags & RecordFlag.reset) !== 0 };
    case RecordType.process: {
      need(EXEC.args, 'process');
      const filenameLen = Math.min(view.getUint32(EXEC.filename_len, true), FILENAME_LEN);
      const argsLen = Math.min(view.getUint32(EXEC.args_len, true), raw.byteLength - EXEC.args);
      const argv = splitArgv(raw.subarray(EXEC.args, EXEC.args + argsLen), MAX_ARGV_ELEMENTS, MAX_ARG_CHARS);
      const exitNs = view.getBigUint64(PROC.exit_ns, true);
      return {
        kind: 'process',
        tsNs,
        pid: view.getUint32(PROC.pid, true),
        ppid: view.getUint32(PROC.ppid, true),
        uid: view.getUint32(PROC.uid, true),
        gid: view.getUint32(PROC.gid, true),
        startNs: view.getBigUint64(PROC.start_ns, true),
        parentStartNs: view.getBigUint64(PROC.parent_start_ns, true),
        exitedNs: exitNs === 0n ? null : exitNs,
        nsPid: view.getUint32(PROC.ns_pid, true),
        nsLevel: view.getUint32(PROC.ns_level, true),
        comm: kernelString(raw.subarray(PROC.comm, PROC.comm + COMM_LEN), COMM_LEN),
        execed: (flags & RecordFlag.notExeced) === 0,
        filename: decodeBytes(raw.subarray(EXEC.filename, EXEC.filename + filenameLen), FILENAME_LEN).text,
        argv: argv.argv,
        argvTruncated: argv.truncated || (flags & RecordFlag.argsTruncated) !== 0,
        argvUnreadable: (flags & RecordFlag.argsUnreadable) !== 0,
      };
    }
    case RecordType.cgroup: {
      need(ABI_LAYOUT.imds_cgroup_record.size, 'cgroup');
      const levels = Math.min(view.getUint32(CGROUP.levels, true), IMDS_CGROUP_LEVELS);
      const names: string[] = [];
      // Sent leaf first; a path reads from the top.
      for (let level = levels - 1; level >= 0; level--) {
        const at = CGROUP.names + level * IMDS_CGROUP_NAME;
        names.push(kernelString(raw.subarray(at, at + IMDS_CGROUP_NAME), IMDS_CGROUP_NAME));
      }
      return {
        kind: 'cgroup',
        tsNs,
        pid: view.getUint32(CGROUP.pid, true),
        startNs: view.getBigUint64(CGROUP.start_ns, true),
        path: `/${names.join('/')}`,
        truncated: (flags & RecordFlag.cgroupTruncated) !== 0,
      };
    }
    default:
      throw new AbiError(`unknown record type ${type}`);
  }
}
