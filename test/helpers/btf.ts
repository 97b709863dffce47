// The layout of the object's own structs, from the BTF of its ELF (read with the product's
// codec, src/logic/btf.ts). The ABI test uses it to prove that src/capture/abi.ts agrees with
// bpf/imds_events.h as the compiler laid it out.
import { elfSection } from '../../src/capture/elf.js';
import { type Btf as RawBtf, KIND, nameAt, parseBtf, typeAt, vlen } from '../../src/logic/btf.js';

export interface BtfMember {
  name: string;
  typeId: number;
  /** Offset in bytes from the start of the struct. */
  offset: number;
}

export class Btf {
  private readonly btf: RawBtf;

  constructor(section: Uint8Array) {
    this.btf = parseBtf(section);
  }

  /** Size in bytes and member offsets of a named struct or union. */
  struct(name: string): { size: number; members: BtfMember[] } {
    for (let id = 1; id < this.btf.offsets.length; id++) {
      const type = typeAt(this.btf, id);
      if ((type.kind !== KIND.struct && type.kind !== KIND.union) || nameAt(this.btf, type.nameOff) !== name) continue;
      // With the kind flag set, a member's offset word holds the bitfield size in its top byte.
      const bitfields = type.info >>> 31 === 1;
      const members = Array.from({ length: vlen(type) }, (_, i) => {
        const offset = type.extra[3 * i + 2] ?? 0;
        return {
          name: nameAt(this.btf, type.extra[3 * i] ?? 0),
          typeId: type.extra[3 * i + 1] ?? 0,
          offset: (bitfields ? offset & 0xffffff : offset) / 8,
        };
      });
      return { size: type.sizeOrType, members };
    }
    throw new Error(`BTF has no struct ${name}`);
  }
}

export function readObjectBtf(elf: Uint8Array): Btf {
  return new Btf(elfSection(elf, '.BTF'));
}
