// BTF, the BPF Type Format, as the kernel (/sys/kernel/btf/vmlinux) and clang (an object's
// .BTF section) write it: an index over the raw bytes whose types are read when asked for,
// and a writer of raw BTF. The cut-down BTF (./core-btf.ts) and the tests' reader and
// builder use this one codec. Pure: bytes in, bytes out.
import { cString } from './c-string.js';

export const BTF_MAGIC = 0xeb9f;
export const KIND = {
  int: 1,
  ptr: 2,
  array: 3,
  struct: 4,
  union: 5,
  enum: 6,
  fwd: 7,
  typedef: 8,
  volatile: 9,
  const: 10,
  restrict: 11,
  func: 12,
  funcProto: 13,
  var: 14,
  datasec: 15,
  float: 16,
  declTag: 17,
  typeTag: 18,
  enum64: 19,
} as const;

export interface BtfType {
  kind: number;
  nameOff: number;
  info: number;
  /** size or type, by kind */
  sizeOrType: number;
  /** Kind-specific data after the 12-byte header, as 32-bit words. */
  extra: number[];
}

export interface Btf {
  view: DataView;
  /** Byte offset of each type's record; [0] (void) is unused. */
  offsets: Uint32Array;
  strings: Uint8Array;
  /** Names, decoded when first asked for. */
  names: Map<number, string>;
}

export function vlen(t: BtfType): number {
  return t.info & 0xffff;
}
function extraWords(kind: number, n: number): number {
  switch (kind) {
    case KIND.int:
    case KIND.var:
    case KIND.declTag:
      return 1;
    case KIND.array:
      return 3;
    case KIND.struct:
    case KIND.union:
    case KIND.datasec:
    case KIND.enum64:
      return 3 * n;
    case KIND.enum:
    case KIND.funcProto:
      return 2 * n;
    case KIND.ptr:
    case KIND.fwd:
    case KIND.typedef:
    case KIND.volatile:
    case KIND.const:
    case KIND.restrict:
    case KIND.func:
    case KIND.float:
    case KIND.typeTag:
      return 0;
    default:
      throw new Error(`BTF type of unknown kind ${kind}`);
  }
}

/**
 * Indexes raw BTF (the format of /sys/kernel/btf/vmlinux and of an object's .BTF section):
 * only where each type starts; a type is read when it is asked for.
 */
export function parseBtf(bytes: Uint8Array): Btf {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 24 || view.getUint16(0, true) !== BTF_MAGIC) throw new Error('not little-endian BTF');
  const hdrLen = view.getUint32(4, true);
  const typeOff = hdrLen + view.getUint32(8, true);
  const typeEnd = typeOff + view.getUint32(12, true);
  const strOff = hdrLen + view.getUint32(16, true);
  const strEnd = strOff + view.getUint32(20, true);
  if (typeEnd > bytes.byteLength || strEnd > bytes.byteLength) throw new Error('BTF cut short');
  const strings = bytes.subarray(strOff, strEnd);
  // At least 12 bytes per type: an upper bound for the index.
  const offsets = new Uint32Array(1 + Math.floor((typeEnd - typeOff) / 12));
  let count = 1;
  for (let at = typeOff; at < typeEnd; count++) {
    offsets[count] = at;
    const info = view.getUint32(at + 4, true);
    at += 12 + 4 * extraWords((info >>> 24) & 0x1f, info & 0xffff);
    if (at > typeEnd) throw new Error('BTF type section cut short');
  }
  return { view, offsets: offsets.subarray(0, count), strings, names: new Map() };
}

/** Type `id` (0: void). */
export function typeAt(btf: Btf, id: number): BtfType {
  if (id === 0) return { kind: 0, nameOff: 0, info: 0, sizeOrType: 0, extra: [] };
  const at = btf.offsets[id];
  if (at === undefined || id >= btf.offsets.length) throw new Error(`BTF type ${id} out of range`);
  const { view } = btf;
  const info = view.getUint32(at + 4, true);
  const kind = (info >>> 24) & 0x1f;
  const extra: number[] = [];
  for (let i = 0, n = extraWords(kind, info & 0xffff); i < n; i++) extra.push(view.getUint32(at + 12 + 4 * i, true));
  return { kind, nameOff: view.getUint32(at, true), info, sizeOrType: view.getUint32(at + 8, true), extra };
}

/** The string at `offset` of the BTF's string section. */
export function nameAt(btf: Btf, offset: number): string {
  if (offset === 0) return '';
  let name = btf.names.get(offset);
  if (name === undefined) {
    name = cString(btf.strings, offset);
    btf.names.set(offset, name);
  }
  return name;
}

/** One type to write: a name and a struct's member names are strings, interned on the way. */
export interface BtfTypeRecord {
  name: string;
  info: number;
  sizeOrType: number;
  /** The words after the 12-byte header; a string stands for the offset of that name. */
  extra: Array<number | string>;
}

/** Raw BTF (header, types, strings) of these types; type ids are 1 + their index. */
export function encodeBtf(types: BtfTypeRecord[]): Uint8Array {
  const encoder = new TextEncoder();
  const strings: number[] = [0];
  const stringAt = new Map<string, number>([['', 0]]);
  const str = (s: string): number => {
    let at = stringAt.get(s);
    if (at === undefined) {
      at = strings.length;
      stringAt.set(s, at);
      strings.push(...encoder.encode(s), 0);
    }
    return at;
  };
  const words: number[] = [];
  for (const t of types) {
    words.push(
      str(t.name),
      t.info >>> 0,
      t.sizeOrType >>> 0,
      ...t.extra.map((w) => (typeof w === 'string' ? str(w) : w)),
    );
  }
  const typeLen = words.length * 4;
  const out = new Uint8Array(24 + typeLen + strings.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, BTF_MAGIC, true);
  view.setUint8(2, 1);
  view.setUint8(3, 0);
  view.setUint32(4, 24, true);
  view.setUint32(8, 0, true);
  view.setUint32(12, typeLen, true);
  view.setUint32(16, typeLen, true);
  view.setUint32(20, strings.length, true);
  for (const [i, w] of words.entries()) view.setUint32(24 + 4 * i, w >>> 0, true);
  out.set(strings, 24 + typeLen);
  return out;
}
