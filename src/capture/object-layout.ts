// What the BPF object declares, read from its ELF once (bpf/imds_analyzer.bpf.c is the only
// list): every program with the section that says where it attaches, every map, and the
// offsets of the read-only globals user space sets before the load.
import { readFileSync } from 'node:fs';
import { type ElfSymbol, STB_GLOBAL, STT_FUNC, STT_OBJECT, elfSymbols } from './elf.js';

/** Where a program attaches, from its section: `cgroup/...` and `cgroup_skb/...` on the cgroup2 root, `raw_tp/NAME` on a raw tracepoint. */
export type Attach = { kind: 'cgroup' } | { kind: 'raw_tp'; tracepoint: string };

export interface ProgramSpec {
  name: string;
  section: string;
  attach: Attach;
}

/** The maps user space refers to by name (each is checked against the object by a unit test). */
export const MAPS = {
  /** The ring (or perf) buffer of records. */
  events: 'events',
  /** The per-CPU counters (bpf/imds_events.h, enum imds_stat). */
  stats: 'stats',
  /** Every process the kernel remembers: preallocated, so made ahead (./premade-maps.ts). */
  processes: 'processes',
} as const;

export interface ObjectLayout {
  programs: ProgramSpec[];
  /** Every map the object defines (in .maps). */
  maps: string[];
  /** Offsets of the globals in their section (.rodata for the read-only ones). */
  globalOffsets: Map<string, number>;
}

export function attachOf(section: string): Attach {
  const [kind, name] = section.split('/');
  if ((kind === 'cgroup' || kind === 'cgroup_skb') && name) return { kind: 'cgroup' };
  if (kind === 'raw_tp' && name) return { kind: 'raw_tp', tracepoint: name };
  throw new Error(`BPF program section ${section}: no known way to attach it`);
}

const isProgram = (s: ElfSymbol) => s.type === STT_FUNC && s.bind === STB_GLOBAL && s.section.includes('/');

export function objectLayout(elf: Uint8Array): ObjectLayout {
  const symbols = elfSymbols(elf);
  return {
    programs: symbols.filter(isProgram).map((s) => ({ name: s.name, section: s.section, attach: attachOf(s.section) })),
    maps: symbols.filter((s) => s.type === STT_OBJECT && s.section === '.maps').map((s) => s.name),
    globalOffsets: new Map(symbols.filter((s) => s.type === STT_OBJECT).map((s) => [s.name, s.value])),
  };
}

export function readObjectLayout(objectPath: string): ObjectLayout {
  return objectLayout(readFileSync(objectPath));
}
