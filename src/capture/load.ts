// Loading the object, the ladder of attempts: against the cached cut-down BTF if there is
// one, else the kernel's; on the maps a previous daemon left (its buffer keeps what was
// captured meanwhile) if they fit this object, else fresh ones (made ahead if they were:
// ./premade-maps.ts). Loads run on a libuv thread; a failed one is done again on this
// thread, where libbpf's messages (the verifier's log) reach the log. Nothing is attached.
import { closeSync, readFileSync } from 'node:fs';
import { type BpfObject, type Libbpf, type PrintHandler, type PrintLevel, openLibbpf } from '../libbpf/libbpf.js';
import { systemdV1HierarchyId } from '../logic/cgroup-path.js';
import { KERNEL_STATS, KERNEL_STAT_SLOTS } from './abi.js';
import { type CoreBtfCache, coreBtfCache, discardCoreBtf, openTrusted } from './core-btf-cache.js';
import { type BufferKind, chooseBufferKind, configureEventsMap } from './event-buffer.js';
import { type Inherited, classifyInherited } from './handover.js';
import { requireKernelSupport } from './kernel-support.js';
import { MAPS, type ObjectLayout, readObjectLayout } from './object-layout.js';

export interface LoadOptions {
  objectPath: string;
  buffer: 'auto' | BufferKind;
  ringSizeKB: number;
  libbpfLog: PrintHandler;
  /** The most detailed libbpf messages given to libbpfLog (default warn: the rest cost start-up time). */
  libbpfLogLevel?: PrintLevel;
  /** Fds a previous daemon left in systemd's fd store (its links and maps). */
  inheritedFds?: number[];
  /** Where the cut-down copy of the kernel's BTF is kept across boots (core-btf-cache.ts); none: not kept. */
  cacheDir?: string;
  /** Maps made ahead of the load (./premade-maps.ts), by name; the load uses them unless inherited. */
  premadeMaps?: Promise<Map<string, number>>;
}

/** What a load depended on, as a string to compare (the fd store's fds included). */
export function loadSettings(options: LoadOptions): string {
  const { objectPath, buffer, ringSizeKB, cacheDir, inheritedFds } = options;
  return JSON.stringify({ objectPath, buffer, ringSizeKB, cacheDir, inheritedFds: inheritedFds ?? [] });
}

/** What CO-RE relocated against: the kernel's BTF, or the cached cut-down copy of it. */
export type CoreBtfSource = 'kernel' | 'cached';

/** How an opened object is set up before its load: the same for every attempt and for the cut-down BTF's proof. */
export interface LoadSetup {
  objectPath: string;
  bufferKind: BufferKind;
  ringSizeKB: number;
  /** Its programs, maps and globals, from the object's ELF (read once). */
  layout: ObjectLayout;
}

/** An object loaded by loadObject(), not attached yet. */
export interface LoadedObject {
  readonly libbpf: Libbpf;
  readonly obj: BpfObject;
  readonly setup: LoadSetup;
  readonly inherited: Inherited;
  readonly mapsReused: boolean;
  readonly mapsInherited: number;
  /**
   * The previous daemon's ring buffer when its maps were not reused, to be drained after
   * the attach (./previous-ring.ts): the caller takes it over, once.
   */
  takePreviousRing(): number | null;
  readonly cache: CoreBtfCache | null;
  readonly coreBtf: CoreBtfSource;
  readonly coreBtfProblem: string | null;
  /** loadSettings() of the options it was loaded with. */
  readonly settings: string;
  close(): void;
}

/**
 * Loads the object: nothing attached, nothing written. Throws UnsupportedHostError (or
 * LibbpfMissingError) when this host can never run it.
 */
export async function loadObject(options: LoadOptions, libbpf: Libbpf = openLibbpf()): Promise<LoadedObject> {
  requireKernelSupport(libbpf);
  libbpf.setPrint(options.libbpfLog, options.libbpfLogLevel ?? 'warn');
  const inherited = classifyInherited(libbpf, options.inheritedFds ?? []);
  const inheritedMaps = inherited.maps;
  const mapsInherited = inheritedMaps.size;
  const setup: LoadSetup = {
    objectPath: options.objectPath,
    bufferKind: chooseBufferKind(libbpf, options.buffer, inheritedMaps.get(MAPS.events)),
    ringSizeKB: options.ringSizeKB,
    layout: readObjectLayout(options.objectPath),
  };
  const cache =
    options.cacheDir === undefined ? null : coreBtfCache(options.cacheDir, options.objectPath, libbpf.version);
  const premade = (await options.premadeMaps) ?? new Map<string, number>();
  const maps = { inherited: inheritedMaps, premade };
  let loaded: { obj: BpfObject; mapsReused: boolean } | null = null;
  let coreBtf: CoreBtfSource = 'kernel';
  let coreBtfProblem: string | null = null;
  try {
    const cached = cache ? openTrusted(cache.path) : null;
    if (cache && cached) {
      try {
        loaded = await loadOnMaps(libbpf, setup, maps, cached.path);
        coreBtf = 'cached';
      } catch (err) {
        // A file that does not load is never used again: the kernel's BTF below, a new file after.
        discardCoreBtf(cache);
        coreBtfProblem = `${cache.path} did not load (${(err as Error).message}): removed, the kernel's BTF used`;
      } finally {
        cached.close();
      }
    }
    loaded ??= await loadOnMaps(libbpf, setup, maps);
  } finally {
    // The object holds its own copies of the maps it took.
    for (const fd of premade.values()) closeSync(fd);
  }
  const { obj, mapsReused } = loaded;
  let previousRing = mapsReused ? null : (inheritedMaps.get(MAPS.events) ?? null);
  for (const fd of inheritedMaps.values()) if (fd !== previousRing) closeSync(fd);
  inheritedMaps.clear();
  // CO-RE parsed the kernel's BTF (megabytes) and freed it; glibc would keep it.
  libbpf.trimHeap();
  return {
    libbpf,
    obj,
    setup,
    inherited,
    mapsReused,
    mapsInherited,
    takePreviousRing: () => {
      const fd = previousRing;
      previousRing = null;
      return fd;
    },
    cache,
    coreBtf,
    coreBtfProblem,
    settings: loadSettings(options),
    close: () => {
      if (previousRing !== null) closeSync(previousRing);
      previousRing = null;
      libbpf.closeObject(obj);
    },
  };
}

/**
 * Opens and loads the object, on the maps a previous daemon left when they fit this
 * object, else on fresh (or premade) ones.
 */
async function loadOnMaps(
  libbpf: Libbpf,
  setup: LoadSetup,
  maps: { inherited: Map<string, number>; premade: Map<string, number> },
  btfCustomPath?: string,
): Promise<{ obj: BpfObject; mapsReused: boolean }> {
  const attempt = async (reuse: boolean, load: (obj: BpfObject) => Promise<void> | void): Promise<BpfObject> => {
    const obj = libbpf.openObject(setup.objectPath, btfCustomPath);
    try {
      configureBeforeLoad(libbpf, obj, setup);
      for (const { map, name } of libbpf.maps(obj)) {
        const fd = (reuse ? maps.inherited.get(name) : undefined) ?? maps.premade.get(name);
        if (fd !== undefined) libbpf.reuseMapFd(map, fd);
      }
      await load(obj);
      return obj;
    } catch (err) {
      libbpf.closeObject(obj);
      throw err;
    }
  };
  const load = async (reuse: boolean): Promise<BpfObject> => {
    try {
      return await attempt(reuse, (obj) => libbpf.loadObjectAsync(obj));
    } catch (err) {
      // Against a cached BTF the caller falls back to the kernel's: no messages needed.
      if (btfCustomPath !== undefined) throw err;
      return attempt(reuse, (obj) => libbpf.loadObject(obj));
    }
  };
  if (maps.inherited.size > 0) {
    try {
      return { obj: await load(true), mapsReused: true };
    } catch {
      // A changed map layout: fresh maps below.
    }
  }
  return { obj: await load(false), mapsReused: false };
}

/** Sets up an opened object before its load: the buffer's map and the read-only globals. */
export function configureBeforeLoad(libbpf: Libbpf, obj: BpfObject, setup: LoadSetup): void {
  configureEventsMap(libbpf, obj, setup.bufferKind, setup.ringSizeKB);
  if (KERNEL_STATS.length > KERNEL_STAT_SLOTS) throw new Error('more kernel stats than slots');
  const rodataMap = libbpf.maps(obj).find((m) => m.name.endsWith('.rodata'));
  if (!rodataMap) throw new Error('BPF object has no .rodata map');
  const rodata = libbpf.mapInitialValue(rodataMap.map);
  const view = new DataView(rodata.buffer, rodata.byteOffset, rodata.byteLength);
  const at = (name: string): number => {
    const offset = setup.layout.globalOffsets.get(name);
    if (offset === undefined) throw new Error(`BPF object has no read-only global ${name}`);
    return offset;
  };
  view.setUint8(at('use_ringbuf'), setup.bufferKind === 'ringbuf' ? 1 : 0);
  view.setUint32(at('systemd_v1_hierarchy'), systemdV1HierarchyOfThisHost(), true);
}

/** The id of this host's cgroup v1 name=systemd hierarchy, 0 without one (cgroup v2 only). */
function systemdV1HierarchyOfThisHost(): number {
  try {
    return systemdV1HierarchyId(readFileSync('/proc/self/cgroup', 'utf8'));
  } catch {
    return 0;
  }
}
