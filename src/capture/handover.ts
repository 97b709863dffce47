// What a previous daemon left attached: the link and map fds systemd kept in its file
// descriptor store (FDSTORE=1) and handed back at start (LISTEN_FDS). systemd 219 has no
// fd names, so each fd is identified by asking the kernel what it is.
import { closeSync, readlinkSync } from 'node:fs';
import type { Libbpf } from '../libbpf/libbpf.js';
import { cString } from '../logic/c-string.js';
import { Journal } from './journal.js';

/** A link left attached by a previous daemon, with the program it runs. */
export interface InheritedLink {
  fd: number;
  programName: string;
  /** The program's tag (a hash of its instructions): equal tags mean the same code. */
  programTag: string;
  programId: number;
}

export interface Inherited {
  /**
   * By program name. A name can have several: an upgrade that changed a raw_tp program
   * attaches the new one beside the old, which systemd 219 cannot drop from its store.
   */
  links: Map<string, InheritedLink[]>;
  /** By map name (only the object's own maps, not .rodata/.bss). */
  maps: Map<string, number>;
  /** The previous daemon's journal of records it read (./journal.ts). */
  journalFd: number | null;
  /** Fds that are none of ours, or ours but no longer in use (an older map of a name): closed. */
  foreign: number;
}

const LINK_INFO_SIZE = 48;
const PROG_INFO_SIZE = 80;
const MAP_INFO_SIZE = 40;

/** The name field (char[max]) at `offset` of a kernel info struct. */
function nameAt(view: DataView, offset: number, max: number): string {
  return cString(new Uint8Array(view.buffer, view.byteOffset + offset, max));
}

function hex(view: DataView, offset: number, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++)
    text += view
      .getUint8(offset + i)
      .toString(16)
      .padStart(2, '0');
  return text;
}

/** Kernel facts about one program: struct bpf_prog_info has the tag at 8 and the name at 64. */
export function describeProgram(libbpf: Libbpf, programFd: number): { id: number; name: string; tag: string } {
  const info = libbpf.objectInfo(programFd, PROG_INFO_SIZE);
  return { id: info.getUint32(4, true), tag: hex(info, 8, 8), name: nameAt(info, 64, 16) };
}

/**
 * Sorts inherited fds into our links (keyed by program name) and maps (keyed by name).
 * Anything else is closed: it cannot be ours and must not leak into children.
 */
export function classifyInherited(libbpf: Libbpf, fds: number[]): Inherited {
  const inherited: Inherited = { links: new Map(), maps: new Map(), journalFd: null, foreign: 0 };
  for (const fd of fds) {
    let kind = '';
    try {
      kind = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    try {
      if (sortOne(libbpf, inherited, fd, kind)) continue;
    } catch {
      // Not identifiable: treated as none of ours.
    }
    inherited.foreign++;
    closeSync(fd);
  }
  return inherited;
}

/** Files one inherited fd under what it is; false when it is none of ours. */
function sortOne(libbpf: Libbpf, inherited: Inherited, fd: number, kind: string): boolean {
  // The kernel names link files bpf_link (maps and programs: bpf-map, bpf-prog).
  if (kind === 'anon_inode:bpf_link' || kind === 'anon_inode:bpf-link') {
    // struct bpf_link_info: type, id, prog_id.
    const programId = libbpf.objectInfo(fd, LINK_INFO_SIZE).getUint32(8, true);
    const programFd = libbpf.programFdById(programId);
    try {
      const program = describeProgram(libbpf, programFd);
      const same = inherited.links.get(program.name) ?? [];
      same.push({ fd, programName: program.name, programTag: program.tag, programId });
      inherited.links.set(program.name, same);
      return true;
    } finally {
      closeSync(programFd);
    }
  }
  if (Journal.isJournal(fd) && inherited.journalFd === null) {
    inherited.journalFd = fd;
    return true;
  }
  if (kind === 'anon_inode:bpf-map') {
    // struct bpf_map_info: the id at 4, the name at 24.
    const info = libbpf.objectInfo(fd, MAP_INFO_SIZE);
    const name = nameAt(info, 24, 16);
    if (!name || name.includes('.')) return false;
    // An upgrade that could not take the maps over left the old ones in the store (systemd 219
    // cannot drop them): the newest map of a name (ids only grow) is the one in use.
    const id = info.getUint32(4, true);
    const held = inherited.maps.get(name);
    if (held !== undefined) {
      if (libbpf.objectInfo(held, MAP_INFO_SIZE).getUint32(4, true) > id) return false;
      closeSync(held);
    }
    inherited.maps.set(name, fd);
    return true;
  }
  return false;
}
