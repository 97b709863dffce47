// NUL-terminated strings, as C writes them: the string tables of ELF and BTF, names in the
// kernel's info structs, libbpf's messages, records from the BPF programs.

const utf8 = new TextDecoder();

/** The bytes from `start` up to the first NUL (to the end when there is none). */
export function untilNul(bytes: Uint8Array, start = 0): Uint8Array {
  const end = bytes.indexOf(0, start);
  return bytes.subarray(start, end < 0 ? bytes.length : end);
}

/** The NUL-terminated string at `start`, as UTF-8. */
export function cString(bytes: Uint8Array, start = 0): string {
  return utf8.decode(untilNul(bytes, start));
}
