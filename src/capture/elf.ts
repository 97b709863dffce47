// Just enough ELF (64-bit, little-endian: every BPF object) to find a section's bytes and
// the object's symbols: the programs (functions in their own sections), the maps (objects
// in .maps) and each global's offset in its section. Offsets of globals come from the
// symbol table: in an object file the BTF of data sections does not hold them yet (libbpf
// fills them in when it opens the object).
import { cString } from '../logic/c-string.js';

interface SectionHeader {
  name: string;
  offset: number;
  size: number;
}

export interface ElfSymbol {
  name: string;
  /** The name of the section it is defined in ('' when undefined or special). */
  section: string;
  value: number;
  /** STT_FUNC, STT_OBJECT, ... */
  type: number;
  /** STB_LOCAL, STB_GLOBAL, ... */
  bind: number;
}

export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STB_GLOBAL = 1;

function sections(elf: Uint8Array): SectionHeader[] {
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  if (view.getUint32(0, false) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) {
    throw new Error('not a 64-bit little-endian ELF file');
  }
  const shoff = Number(view.getBigUint64(0x28, true));
  const shentsize = view.getUint16(0x3a, true);
  const shnum = view.getUint16(0x3c, true);
  const shstrndx = view.getUint16(0x3e, true);
  const raw = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * shentsize;
    return {
      nameOff: view.getUint32(at, true),
      offset: Number(view.getBigUint64(at + 24, true)),
      size: Number(view.getBigUint64(at + 32, true)),
    };
  });
  const names = raw[shstrndx];
  if (!names) throw new Error('ELF file has no section name table');
  return raw.map((h) => ({ name: cString(elf, names.offset + h.nameOff), offset: h.offset, size: h.size }));
}

function bytesOf(elf: Uint8Array, section: SectionHeader): Uint8Array {
  return elf.subarray(section.offset, section.offset + section.size);
}

/** The bytes of one named section. */
export function elfSection(elf: Uint8Array, wanted: string): Uint8Array {
  const found = sections(elf).find((s) => s.name === wanted);
  if (!found) throw new Error(`ELF file has no ${wanted} section`);
  return bytesOf(elf, found);
}

/** Every named symbol of the symbol table. */
export function elfSymbols(elf: Uint8Array): ElfSymbol[] {
  const all = sections(elf);
  const find = (name: string) => {
    const found = all.find((s) => s.name === name);
    if (!found) throw new Error(`ELF file has no ${name} section`);
    return bytesOf(elf, found);
  };
  const symtab = find('.symtab');
  const strtab = find('.strtab');
  const view = new DataView(symtab.buffer, symtab.byteOffset, symtab.byteLength);
  const out: ElfSymbol[] = [];
  for (let at = 0; at + 24 <= symtab.byteLength; at += 24) {
    const name = cString(strtab, view.getUint32(at, true));
    if (!name) continue;
    const info = view.getUint8(at + 4);
    const index = view.getUint16(at + 6, true);
    out.push({
      name,
      section: all[index]?.name ?? '',
      value: Number(view.getBigUint64(at + 8, true)),
      type: info & 0xf,
      bind: info >> 4,
    });
  }
  return out;
}
