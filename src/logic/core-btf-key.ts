// What names a cached cut-down kernel BTF (src/capture/core-btf-cache.ts): the running
// kernel's build id and the BPF object file. Kept apart from core-btf.ts, which only
// the writer needs, so that a start loads none of it.

import { cString } from './c-string.js';

/** The kernel's GNU build id (hex) from its ELF notes (/sys/kernel/notes), or null. */
export function gnuBuildId(notes: Uint8Array): string | null {
  const view = new DataView(notes.buffer, notes.byteOffset, notes.byteLength);
  const align = (n: number) => (n + 3) & ~3;
  for (let at = 0; at + 12 <= notes.byteLength; ) {
    const nameSize = view.getUint32(at, true);
    const descSize = view.getUint32(at + 4, true);
    const type = view.getUint32(at + 8, true);
    const name = at + 12;
    const desc = name + align(nameSize);
    if (desc + descSize > notes.byteLength) return null;
    if (type === 3 && nameSize === 4 && cString(notes, name) === 'GNU' && descSize > 0)
      return [...notes.subarray(desc, desc + descSize)].map((b) => b.toString(16).padStart(2, '0')).join('');
    at = desc + align(descSize);
  }
  return null;
}

/**
 * The cache file's name: the kernel's build id, the object file's identity (inode, size,
 * change time; a replaced or rewritten object has another: an upgrade never finds an old file)
 * and the libbpf version (another libbpf may relocate otherwise).
 */
export function coreBtfFileName(
  buildId: string,
  object: { ino: bigint; size: bigint; ctimeNs: bigint },
  libbpfVersion: string,
): string {
  const libbpf = libbpfVersion.replace(/[^\w.]/g, '_');
  return `${buildId}-${object.ino.toString(16)}-${object.size.toString(16)}-${object.ctimeNs.toString(16)}-libbpf${libbpf}.btf`;
}
