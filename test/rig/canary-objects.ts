// What the kernel holds of the canary (bpf/imds_canary.bpf.c), machine-wide, by name: its
// programs and maps are named in the object's ELF (read once here, the C source is the
// only list), and a link is the canary's when its program is. bpftool is the kernel's view,
// not the daemon's: after a canary ends, none of these may be left.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { STB_GLOBAL, STT_FUNC, STT_OBJECT, elfSymbols } from '../../src/capture/elf.js';
import { REPO_ROOT } from './compiled.js';

export const CANARY_OBJECT = join(REPO_ROOT, 'bpf/imds_canary.bpf.o');

/** The kernel keeps this many characters of a map's name (BPF_OBJ_NAME_LEN less its NUL). */
const KERNEL_NAME_CHARS = 15;

function canaryNames(): { programs: string[]; maps: string[] } {
  const symbols = elfSymbols(readFileSync(CANARY_OBJECT));
  return {
    programs: symbols
      .filter((s) => s.type === STT_FUNC && s.bind === STB_GLOBAL && s.section !== '' && s.section !== '.text')
      .map((s) => s.name),
    maps: symbols.filter((s) => s.type === STT_OBJECT && s.section === '.maps').map((s) => s.name),
  };
}

export const CANARY_NAMES = canaryNames();

export interface KernelObject {
  id: number;
  name: string;
}

export interface CanaryObjects {
  programs: KernelObject[];
  maps: KernelObject[];
  /** Links whose program is one of the canary's (the sockops program's cgroup link). */
  links: Array<{ id: number; prog_id: number }>;
}

/** bpftool shows a program's full name (from its BTF), a map's cut to the kernel's length. */
const isOneOf = (names: string[], shown: string | undefined) =>
  shown !== undefined && names.some((name) => shown === name || shown === name.slice(0, KERNEL_NAME_CHARS));

function bpftool(what: 'prog' | 'map' | 'link'): Array<{ id: number; name?: string; prog_id?: number }> {
  return JSON.parse(
    execFileSync('bpftool', ['-j', what, 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
  );
}

/**
 * The canary's objects the kernel holds now. bpftool fails when an object goes away while it
 * lists them: asked again then (up to 3 s).
 */
export async function canaryObjects(): Promise<CanaryObjects> {
  const deadline = Date.now() + 3000;
  for (;;) {
    try {
      const programs = bpftool('prog')
        .filter((p) => isOneOf(CANARY_NAMES.programs, p.name))
        .map((p) => ({ id: p.id, name: p.name ?? '' }));
      const maps = bpftool('map')
        .filter((m) => isOneOf(CANARY_NAMES.maps, m.name))
        .map((m) => ({ id: m.id, name: m.name ?? '' }));
      const ids = new Set(programs.map((p) => p.id));
      const links = bpftool('link')
        .filter((l) => l.prog_id !== undefined && ids.has(l.prog_id))
        .map((l) => ({ id: l.id, prog_id: l.prog_id as number }));
      return { programs, maps, links };
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

export const noCanaryObjects = (o: CanaryObjects) => o.programs.length + o.maps.length + o.links.length === 0;

/**
 * Waits (up to `ms`: the kernel frees a closed object's programs and maps after an RCU grace
 * period) until none of the canary's objects is left; returns what was left last and how long it took.
 */
export async function canaryObjectsGone(ms = 3000): Promise<{ left: CanaryObjects; ms: number }> {
  const started = Date.now();
  for (;;) {
    const left = await canaryObjects();
    if (noCanaryObjects(left) || Date.now() - started > ms) return { left, ms: Date.now() - started };
    await sleep(50);
  }
}

/** What is left, for a failure message. */
export function describeCanaryObjects(o: CanaryObjects): string {
  const list = (kind: string, objects: KernelObject[]) => objects.map((x) => `${kind} ${x.id} ${x.name}`);
  return [
    ...list('prog', o.programs),
    ...list('map', o.maps),
    ...o.links.map((l) => `link ${l.id} (prog ${l.prog_id})`),
  ].join(', ');
}
