// A small reader for the BTF section of a BPF ELF object: enough to learn the layout
// of the object's own structs. The ABI test uses it to prove that src/capture/abi.ts
// agrees with bpf/imds_events.h as the compiler laid it out.
import { elfSection } from '../../src/capture/elf.js';

const BTF_MAGIC = 0xeb9f;

enum Kind {
  Int = 1,
  Ptr = 2,
  Array = 3,
  Struct = 4,
  Union = 5,
  Enum = 6,
  Fwd = 7,
  Typedef = 8,
  Volatile = 9,
  Const = 10,
  Restrict = 11,
  Func = 12,
  FuncProto = 13,
  Var = 14,
  DataSec = 15,
  Float = 16,
  DeclTag = 17,
  TypeTag = 18,
  Enum64 = 19,
}

export interface BtfMember {
  name: string;
  typeId: number;
  /** Offset in bytes from the start of the struct. */
  offset: number;
}

export interface BtfType {
  id: number;
  kind: Kind;
  name: string;
  /** Size in bytes for sized kinds; referenced type id for modifiers, pointers, vars. */
  sizeOrType: number;
  members: BtfMember[];
  /** For arrays: element type and count. */
  array?: { elemType: number; count: number };
}

export class Btf {
  private readonly types = new Map<number, BtfType>();

  constructor(section: Uint8Array) {
    const view = new DataView(section.buffer, section.byteOffset, section.byteLength);
    if (view.getUint16(0, true) !== BTF_MAGIC) throw new Error('not a little-endian BTF section');
    const hdrLen = view.getUint32(4, true);
    const typeOff = hdrLen + view.getUint32(8, true);
    const typeLen = view.getUint32(12, true);
    const strOff = hdrLen + view.getUint32(16, true);
    const strLen = view.getUint32(20, true);
    const strings = section.subarray(strOff, strOff + strLen);
    const nameAt = (off: number): string => {
      const end = strings.indexOf(0, off);
      return new TextDecoder().decode(strings.subarray(off, end < 0 ? strings.length : end));
    };

    let pos = typeOff;
    let id = 1;
    while (pos < typeOff + typeLen) {
      const nameOff = view.getUint32(pos, true);
      const info = view.getUint32(pos + 4, true);
      const sizeOrType = view.getUint32(pos + 8, true);
      const kind = ((info >>> 24) & 0x1f) as Kind;
      const vlen = info & 0xffff;
      const bitfieldOffsets = (info >>> 31) === 1;
      pos += 12;
      const type: BtfType = { id, kind, name: nameAt(nameOff), sizeOrType, members: [] };
      switch (kind) {
        case Kind.Int:
        case Kind.Var:
        case Kind.DeclTag:
          pos += 4;
          break;
        case Kind.Array:
          type.array = { elemType: view.getUint32(pos, true), count: view.getUint32(pos + 8, true) };
          pos += 12;
          break;
        case Kind.Struct:
        case Kind.Union:
          for (let i = 0; i < vlen; i++, pos += 12) {
            const rawOffset = view.getUint32(pos + 8, true);
            const bits = bitfieldOffsets ? rawOffset & 0xffffff : rawOffset;
            type.members.push({
              name: nameAt(view.getUint32(pos, true)),
              typeId: view.getUint32(pos + 4, true),
              offset: bits / 8,
            });
          }
          break;
        case Kind.Enum:
        case Kind.FuncProto:
          pos += vlen * 8;
          break;
        case Kind.DataSec:
        case Kind.Enum64:
          pos += vlen * 12;
          break;
        default:
          break;
      }
      this.types.set(id, type);
      id++;
    }
  }

  /** Size in bytes and member offsets of a named struct or union. */
  struct(name: string): { size: number; members: BtfMember[] } {
    for (const type of this.types.values()) {
      if ((type.kind === Kind.Struct || type.kind === Kind.Union) && type.name === name) {
        return { size: type.sizeOrType, members: type.members };
      }
    }
    throw new Error(`BTF has no struct ${name}`);
  }

}

export function readObjectBtf(elf: Uint8Array): Btf {
  return new Btf(elfSection(elf, '.BTF'));
}
