// The kernel BTF a BPF object's CO-RE relocations need, cut down to the types and members
// they touch (what `bpftool gen min_core_btf` makes). libbpf spends most of a load parsing
// the kernel's full BTF (megabytes, over a hundred thousand types) to relocate a few dozen field offsets;
// given this small BTF instead (btf_custom_path) it relocates to the same offsets.
//
// Field relocations (byte offset, size, existence, sign, shifts) follow libbpf's matching:
// candidates are the kernel types of the same kind whose name equals the local one up to a
// `___flavour` suffix; members are matched by name, through anonymous structs and unions;
// the first candidate that matches is kept, with the members on the path, each member's
// type and, through typedefs, modifiers and arrays, the types under it. Pointers are kept
// as pointers to void: libbpf finds any two pointers compatible. Type-based and enum
// relocations make the whole generation fail (the caller then uses the kernel's BTF): this
// object has none, and a cut-down BTF that might relocate differently is never written.
// Pure: bytes in, bytes out.
import {
  BTF_MAGIC,
  type Btf,
  type BtfType,
  type BtfTypeRecord,
  KIND,
  encodeBtf,
  nameAt,
  parseBtf,
  typeAt,
  vlen,
} from './btf.js';
import { cString } from './c-string.js';

export { type Btf, parseBtf } from './btf.js';

/** Field-based relocation kinds (enum bpf_core_relo_kind 0-5). */
const FIELD_RELOCATIONS = new Set([0, 1, 2, 3, 4, 5]);
/** Deeper nesting than this is refused by libbpf too (BPF_CORE_SPEC_MAX_LEN). */
const MAX_SPEC_LEN = 64;

/** One CO-RE relocation record of an object's .BTF.ext. */
export interface CoreRelocation {
  /** Local (object) type id of the root type. */
  typeId: number;
  /** "0:3:1": the access path, as libbpf's access string. */
  access: string;
  kind: number;
}

/** The CO-RE relocation records of an object's .BTF.ext (strings from its .BTF). */
export function coreRelocations(btfExt: Uint8Array, localStrings: Uint8Array): CoreRelocation[] {
  const view = new DataView(btfExt.buffer, btfExt.byteOffset, btfExt.byteLength);
  if (btfExt.byteLength < 8 || view.getUint16(0, true) !== BTF_MAGIC) throw new Error('not little-endian BTF.ext');
  const hdrLen = view.getUint32(4, true);
  if (hdrLen < 32) return [];
  const start = hdrLen + view.getUint32(24, true);
  const end = start + view.getUint32(28, true);
  if (end > btfExt.byteLength) throw new Error('BTF.ext cut short');
  if (end === start) return [];
  const recordSize = view.getUint32(start, true);
  if (recordSize < 16) throw new Error(`BTF.ext CO-RE record of ${recordSize} bytes`);
  const out: CoreRelocation[] = [];
  for (let at = start + 4; at < end; ) {
    const count = view.getUint32(at + 4, true);
    at += 8;
    for (let i = 0; i < count; i++, at += recordSize) {
      out.push({
        typeId: view.getUint32(at + 4, true),
        access: cString(localStrings, view.getUint32(at + 8, true)),
        kind: view.getUint32(at + 12, true),
      });
    }
  }
  return out;
}

/** The name without a `___flavour` suffix (libbpf's "essential name"). */
function essentialName(name: string): string {
  const at = name.indexOf('___');
  return at < 0 ? name : name.slice(0, at);
}

function skipModsAndTypedefs(btf: Btf, id: number): number {
  for (let i = 0; i < MAX_SPEC_LEN; i++) {
    const t = typeAt(btf, id);
    if (
      t.kind !== KIND.typedef &&
      t.kind !== KIND.volatile &&
      t.kind !== KIND.const &&
      t.kind !== KIND.restrict &&
      t.kind !== KIND.typeTag
    )
      return id;
    id = t.sizeOrType;
  }
  throw new Error('BTF typedef chain too long');
}

function isComposite(t: BtfType): boolean {
  return t.kind === KIND.struct || t.kind === KIND.union;
}

/** libbpf's bpf_core_fields_are_compat. */
function fieldsCompatible(local: Btf, localId: number, target: Btf, targetId: number): boolean {
  for (let depth = 0; depth < MAX_SPEC_LEN; depth++) {
    const l = typeAt(local, skipModsAndTypedefs(local, localId));
    const t = typeAt(target, skipModsAndTypedefs(target, targetId));
    if (isComposite(l) && isComposite(t)) return true;
    const enumLike = (k: number) => k === KIND.enum || k === KIND.enum64;
    if (l.kind !== t.kind && !(enumLike(l.kind) && enumLike(t.kind))) return false;
    switch (l.kind) {
      case KIND.ptr:
      case KIND.float:
        return true;
      case KIND.fwd:
      case KIND.enum:
      case KIND.enum64:
        return essentialName(nameAt(local, l.nameOff)) === essentialName(nameAt(target, t.nameOff));
      case KIND.int:
        // bit offsets inside an int (a deprecated bitfield encoding) are never compatible
        return ((l.extra[0] ?? 0) & 0x00ff0000) === 0 && ((t.extra[0] ?? 0) & 0x00ff0000) === 0;
      case KIND.array:
        localId = l.extra[0] ?? 0;
        targetId = t.extra[0] ?? 0;
        continue;
      default:
        return false;
    }
  }
  return false;
}

/** One step of a local access path: a named member, or an index into an array. */
type LocalAccess = { member: string; memberType: number } | { index: number };

/** libbpf's bpf_core_parse_spec for field relocations; anonymous members are walked through. */
function localAccesses(local: Btf, rootId: number, access: string): LocalAccess[] {
  const indices = access.split(':').map((s) => Number(s));
  if (indices.length === 0 || indices.some((n) => !Number.isInteger(n) || n < 0))
    throw new Error(`bad CO-RE access string "${access}"`);
  const out: LocalAccess[] = [{ index: indices[0] ?? 0 }];
  let id = rootId;
  for (const index of indices.slice(1)) {
    const t = typeAt(local, skipModsAndTypedefs(local, id));
    if (isComposite(t)) {
      if (index >= vlen(t)) throw new Error(`CO-RE access "${access}" past the members of ${nameAt(local, t.nameOff)}`);
      const memberType = t.extra[3 * index + 1] ?? 0;
      const name = nameAt(local, t.extra[3 * index] ?? 0);
      if (name) out.push({ member: name, memberType });
      id = memberType;
    } else if (t.kind === KIND.array) {
      out.push({ index });
      id = t.extra[0] ?? 0;
    } else {
      throw new Error(`CO-RE access "${access}" goes through a ${t.kind}-kind type`);
    }
  }
  return out;
}

/** What to keep: types, and for structs and unions the member indices. */
class Marks {
  readonly types = new Set<number>();
  readonly members = new Map<number, Set<number>>();

  /** bpftool's btfgen_mark_type with pointers not followed. */
  type(btf: Btf, id: number): void {
    for (let depth = 0; depth < MAX_SPEC_LEN && id !== 0; depth++) {
      const t = typeAt(btf, id);
      this.types.add(id);
      switch (t.kind) {
        case KIND.typedef:
        case KIND.volatile:
        case KIND.const:
        case KIND.restrict:
        case KIND.typeTag:
          id = t.sizeOrType;
          continue;
        case KIND.array:
          this.type(btf, t.extra[1] ?? 0);
          id = t.extra[0] ?? 0;
          continue;
        default:
          return;
      }
    }
  }

  member(structId: number, index: number): void {
    const set = this.members.get(structId) ?? new Set<number>();
    set.add(index);
    this.members.set(structId, set);
  }
}

/**
 * Walks one local access path through a target candidate; on a match, marks what it went
 * through and returns true (libbpf's bpf_core_spec_match plus bpftool's field marking).
 */
function matchAndMark(local: Btf, target: Btf, accesses: LocalAccess[], rootId: number, marks: Marks): boolean {
  const pending = new Marks();
  pending.type(target, rootId);
  let id = rootId;
  for (const [i, access] of accesses.entries()) {
    if ('index' in access) {
      if (i === 0) continue;
      const arrayId = skipModsAndTypedefs(target, id);
      const t = typeAt(target, arrayId);
      if (t.kind !== KIND.array) return false;
      const elements = t.extra[2] ?? 0;
      // flexible arrays (no elements, last member) take any index
      if (elements !== 0 && access.index >= elements) return false;
      id = t.extra[0] ?? 0;
      continue;
    }
    const found = findMember(local, target, access, skipModsAndTypedefs(target, id), pending, 0);
    if (found === null) return false;
    id = found;
  }
  for (const t of pending.types) marks.types.add(t);
  for (const [s, members] of pending.members) for (const m of members) marks.member(s, m);
  return true;
}

/** The target member named like the local one (through anonymous members), its type id, or null. */
function findMember(
  local: Btf,
  target: Btf,
  access: { member: string; memberType: number },
  structId: number,
  marks: Marks,
  depth: number,
): number | null {
  const t = typeAt(target, structId);
  if (!isComposite(t) || depth > MAX_SPEC_LEN) return null;
  for (let i = 0; i < vlen(t); i++) {
    const name = nameAt(target, t.extra[3 * i] ?? 0);
    const memberType = t.extra[3 * i + 1] ?? 0;
    if (!name) {
      const inner = skipModsAndTypedefs(target, memberType);
      const attempt = new Marks();
      const found = findMember(local, target, access, inner, attempt, depth + 1);
      if (found !== null) {
        marks.member(structId, i);
        marks.type(target, memberType);
        for (const id of attempt.types) marks.types.add(id);
        for (const [s, members] of attempt.members) for (const m of members) marks.member(s, m);
        return found;
      }
    } else if (name === access.member) {
      if (!fieldsCompatible(local, access.memberType, target, memberType)) return null;
      marks.member(structId, i);
      marks.type(target, memberType);
      return memberType;
    }
  }
  return null;
}

/**
 * The cut-down kernel BTF for these relocations, as raw BTF bytes. Throws on a relocation
 * kind it does not handle.
 */
export function minimalCoreBtf(localBtf: Uint8Array, relocations: CoreRelocation[], kernelBtf: Btf): Uint8Array {
  const local = parseBtf(localBtf);
  // Distinct relocations, and the candidates of their root types: kernel types of the same
  // kind and essential name (compared as bytes: decoding each of the kernel's names costs more).
  const distinct = [...new Map(relocations.map((r) => [`${r.typeId}/${r.access}/${r.kind}`, r])).values()];
  const roots = new Map<string, { kind: number; name: Uint8Array; ids: number[] }>();
  for (const r of distinct) {
    const root = typeAt(local, r.typeId);
    const name = essentialName(nameAt(local, root.nameOff));
    roots.set(`${root.kind}:${name}`, { kind: root.kind, name: new TextEncoder().encode(name), ids: [] });
  }
  const { view, offsets, strings } = kernelBtf;
  const nameIs = (at: number, name: Uint8Array): boolean => {
    for (let i = 0; i < name.length; i++) if (strings[at + i] !== name[i]) return false;
    const next = strings[at + name.length];
    // the whole name, or the essential part of `name___flavour`
    return (
      next === 0 || (next === 0x5f && strings[at + name.length + 1] === 0x5f && strings[at + name.length + 2] === 0x5f)
    );
  };
  const wanted = [...roots.values()];
  for (let id = 1; id < offsets.length; id++) {
    const at = offsets[id] ?? 0;
    const nameOff = view.getUint32(at, true);
    if (!nameOff) continue;
    const kind = (view.getUint32(at + 4, true) >>> 24) & 0x1f;
    for (const root of wanted) if (root.kind === kind && nameIs(nameOff, root.name)) root.ids.push(id);
  }
  const marks = new Marks();
  for (const relocation of distinct) {
    if (!FIELD_RELOCATIONS.has(relocation.kind))
      throw new Error(`CO-RE relocation kind ${relocation.kind} is not handled`);
    const root = typeAt(local, relocation.typeId);
    const rootName = nameAt(local, root.nameOff);
    if (!rootName) throw new Error('CO-RE relocation on an anonymous type');
    const accesses = localAccesses(local, relocation.typeId, relocation.access);
    for (const candidate of roots.get(`${root.kind}:${essentialName(rootName)}`)?.ids ?? []) {
      if (matchAndMark(local, kernelBtf, accesses, candidate, marks)) break;
    }
  }
  return writeBtf(kernelBtf, marks);
}

function writeBtf(btf: Btf, marks: Marks): Uint8Array {
  const kept = [...marks.types].sort((a, b) => a - b);
  const newId = new Map<number, number>(kept.map((id, i) => [id, i + 1]));
  const remap = (id: number) => newId.get(id) ?? 0;
  const records: BtfTypeRecord[] = [];
  for (const id of kept) {
    const t = typeAt(btf, id);
    const extra: Array<number | string> = [...t.extra];
    let info = t.info;
    let sizeOrType = t.sizeOrType;
    switch (t.kind) {
      case KIND.ptr:
      case KIND.typedef:
      case KIND.volatile:
      case KIND.const:
      case KIND.restrict:
      case KIND.typeTag:
        sizeOrType = remap(sizeOrType);
        break;
      case KIND.array:
        extra[0] = remap(t.extra[0] ?? 0);
        extra[1] = remap(t.extra[1] ?? 0);
        break;
      case KIND.struct:
      case KIND.union: {
        const members = [...(marks.members.get(id) ?? [])].sort((a, b) => a - b);
        extra.length = 0;
        for (const m of members) {
          extra.push(nameAt(btf, t.extra[3 * m] ?? 0), remap(t.extra[3 * m + 1] ?? 0), t.extra[3 * m + 2] ?? 0);
        }
        info = (info & ~0xffff) | members.length;
        break;
      }
      case KIND.enum:
      case KIND.enum64: {
        const stride = t.kind === KIND.enum ? 2 : 3;
        for (let i = 0; i < vlen(t); i++) extra[stride * i] = nameAt(btf, t.extra[stride * i] ?? 0);
        break;
      }
      case KIND.int:
      case KIND.float:
      case KIND.fwd:
        break;
      default:
        throw new Error(`BTF kind ${t.kind} in a CO-RE path`);
    }
    records.push({ name: nameAt(btf, t.nameOff), info, sizeOrType, extra });
  }
  return encodeBtf(records);
}
