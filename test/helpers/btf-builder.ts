// Raw BTF from a short description, for the core-btf unit tests: what clang writes for an
// object's .BTF and the kernel exposes in /sys/kernel/btf/vmlinux, in the same format,
// written and read with the product's codec (src/logic/btf.ts).
import { type BtfTypeRecord, KIND, encodeBtf, nameAt, parseBtf, typeAt, vlen } from '../../src/logic/btf.js';

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

/** A struct or union whose members are written as describeBtf prints them: `name:type@bitOffset`. */
export function composite(kind: 'struct' | 'union', name: string, size: number, members: string[]): BtfSpec {
  return {
    kind,
    name,
    size,
    members: members.map((text) => {
      const parsed = /^(\w*):(\d+)@(\d+)$/.exec(text);
      if (!parsed) throw new Error(`member ${text}: not name:type@bitOffset`);
      return { name: parsed[1] ?? '', type: Number(parsed[2]), bitOffset: Number(parsed[3]) };
    }),
  };
}

function record(t: BtfSpec): BtfTypeRecord {
  const info = (n: number) => ((KIND[t.kind] << 24) | n) >>> 0;
  switch (t.kind) {
    case 'int':
      return { name: t.name, info: info(0), sizeOrType: t.size, extra: [(t.size * 8) & 0xff] };
    case 'ptr':
      return { name: '', info: info(0), sizeOrType: t.type, extra: [] };
    case 'typedef':
      return { name: t.name, info: info(0), sizeOrType: t.type, extra: [] };
    case 'array':
      return { name: '', info: info(0), sizeOrType: 0, extra: [t.type, t.index, t.elements] };
    case 'struct':
    case 'union':
      return {
        name: t.name,
        info: info(t.members.length),
        sizeOrType: t.size,
        extra: t.members.flatMap((m) => [m.name, m.type, m.bitOffset]),
      };
  }
}

/** Type ids are 1 + the index in `types`. */
export function buildBtf(types: BtfSpec[]): Uint8Array {
  return encodeBtf(types.map(record));
}

/** Every type of raw BTF as [kind, name, size or type, member names] (what a test compares). */
export function describeBtf(bytes: Uint8Array): Array<[number, string, number, string[]]> {
  const btf = parseBtf(bytes);
  const out: Array<[number, string, number, string[]]> = [];
  for (let id = 1; id < btf.offsets.length; id++) {
    const t = typeAt(btf, id);
    const composite = t.kind === KIND.struct || t.kind === KIND.union;
    const members = composite
      ? Array.from(
          { length: vlen(t) },
          (_, i) => `${nameAt(btf, t.extra[3 * i] ?? 0)}:${t.extra[3 * i + 1]}@${t.extra[3 * i + 2]}`,
        )
      : [];
    out.push([t.kind, nameAt(btf, t.nameOff), t.sizeOrType, members]);
  }
  return out;
}
