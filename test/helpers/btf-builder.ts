// Raw BTF from a short description, for the core-btf unit tests: what clang writes for an
// object's .BTF and the kernel exposes in /sys/kernel/btf/vmlinux, in the same format.
export type BtfSpec =
  | { kind: 'int'; name: string; size: number }
  | { kind: 'ptr'; type: number }
  | { kind: 'typedef'; name: string; type: number }
  | { kind: 'array'; type: number; index: number; elements: number }
  | {
      kind: 'struct' | 'union';
      name: string;
      size: number;
      members: Array<{ name: string; type: number; bitOffset: number }>;
    };

const KINDS = { int: 1, ptr: 2, array: 3, struct: 4, union: 5, typedef: 8 } as const;

/** Type ids are 1 + the index in `types`. */
export function buildBtf(types: BtfSpec[]): Uint8Array {
  const strings: number[] = [0];
  const str = (s: string): number => {
    if (!s) return 0;
    const at = strings.length;
    strings.push(...new TextEncoder().encode(s), 0);
    return at;
  };
  const words: number[] = [];
  for (const t of types) {
    const info = (n: number) => ((KINDS[t.kind] << 24) | n) >>> 0;
    switch (t.kind) {
      case 'int':
        words.push(str(t.name), info(0), t.size, (t.size * 8) & 0xff);
        break;
      case 'ptr':
        words.push(0, info(0), t.type);
        break;
      case 'typedef':
        words.push(str(t.name), info(0), t.type);
        break;
      case 'array':
        words.push(0, info(0), 0, t.type, t.index, t.elements);
        break;
      case 'struct':
      case 'union':
        words.push(str(t.name), info(t.members.length), t.size);
        for (const m of t.members) words.push(str(m.name), m.type, m.bitOffset);
        break;
    }
  }
  const out = new Uint8Array(24 + words.length * 4 + strings.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, 0xeb9f, true);
  view.setUint8(2, 1);
  view.setUint32(4, 24, true);
  view.setUint32(12, words.length * 4, true);
  view.setUint32(16, words.length * 4, true);
  view.setUint32(20, strings.length, true);
  for (const [i, w] of words.entries()) view.setUint32(24 + 4 * i, w, true);
  out.set(strings, 24 + words.length * 4);
  return out;
}

/** Every type of raw BTF as [kind, name, size or type, member names] (what a test compares). */
export function describeBtf(bytes: Uint8Array): Array<[number, string, number, string[]]> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const typeLen = view.getUint32(12, true);
  const strOff = 24 + view.getUint32(16, true);
  const name = (off: number) => {
    const end = bytes.indexOf(0, strOff + off);
    return new TextDecoder().decode(bytes.subarray(strOff + off, end));
  };
  const out: Array<[number, string, number, string[]]> = [];
  for (let at = 24; at < 24 + typeLen; ) {
    const info = view.getUint32(at + 4, true);
    const kind = (info >>> 24) & 0x1f;
    const n = info & 0xffff;
    const members: string[] = [];
    let extra = 0;
    if (kind === 1) extra = 1;
    if (kind === 3) extra = 3;
    if (kind === 4 || kind === 5) {
      extra = 3 * n;
      for (let i = 0; i < n; i++) {
        const m = at + 12 + 12 * i;
        members.push(`${name(view.getUint32(m, true))}:${view.getUint32(m + 4, true)}@${view.getUint32(m + 8, true)}`);
      }
    }
    out.push([kind, name(view.getUint32(at, true)), view.getUint32(at + 8, true), members]);
    at += 12 + 4 * extra;
  }
  return out;
}
