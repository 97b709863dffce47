// Just enough ELF (64-bit, little-endian: every BPF object) to find a section's bytes
// and a global's offset in its section. Offsets of globals come from the symbol table:
// in an object file the BTF of data sections does not hold them yet (libbpf fills
// them in when it opens the object).

interface SectionHeader {
  name: string;
  offset: number;
  size: number;
}

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

function cString(bytes: Uint8Array, start: number): string {
  const end = bytes.indexOf(0, start);
  return new TextDecoder().decode(bytes.subarray(start, end < 0 ? bytes.length : end));
}

/** The bytes of one named section. */
export function elfSection(elf: Uint8Array, wanted: string): Uint8Array {
  const found = sections(elf).find((s) => s.name === wanted);
  if (!found) throw new Error(`ELF file has no ${wanted} section`);
  return elf.subarray(found.offset, found.offset + found.size);
}

/** Offset of each named global (symbol value) within its section. */
export function elfSymbolOffsets(elf: Uint8Array): Map<string, number> {
  const symtab = elfSection(elf, '.symtab');
  const strtab = elfSection(elf, '.strtab');
  const view = new DataView(symtab.buffer, symtab.byteOffset, symtab.byteLength);
  const out = new Map<string, number>();
  for (let at = 0; at + 24 <= symtab.byteLength; at += 24) {
    const name = cString(strtab, view.getUint32(at, true));
    if (name) out.set(name, Number(view.getBigUint64(at + 8, true)));
  }
  return out;
}
