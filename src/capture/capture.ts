// Opens, loads and attaches the BPF object, then drains its buffer on the Node event
// loop: koffi watches the buffer's epoll fd and, when it is readable, one
// ring_buffer__consume() (or perf_buffer__consume()) hands over the pending records, at
// most DRAIN_BUDGET of them per event-loop turn so that a flood of records cannot starve
// timers and the watchdog (the fd stays readable: the next turn takes the rest).
// An exception in a drain is counted and reported, never the end of capture.
// Nothing blocks the event loop; only a perf buffer is also drained on a timer (start()).
import { closeSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import koffi from 'koffi';
import {
  BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  BPF_MAP_TYPE_RINGBUF,
  type BpfObject,
  type Libbpf,
  type PerfBuffer,
  type PrintHandler,
  type PrintLevel,
  type RingBuffer,
  openLibbpf,
} from '../libbpf/libbpf.js';
import { AbiError, KERNEL_STATS, KERNEL_STAT_SLOTS, type KernelStatName, decodeRecord } from './abi.js';
import { type CoreBtfCache, coreBtfCache, discardCoreBtf, openTrusted, writeCoreBtf } from './core-btf-cache.js';
import { elfSymbolOffsets } from './elf.js';
import { openCgroupRoot } from './cgroup-root.js';
import { classifyInherited, describeProgram, type Inherited } from './handover.js';
import { Journal } from './journal.js';
import { drainPreviousRing } from './previous-ring.js';
import { type CaptureGap, type JournalFacts, takeoverGap } from '../logic/takeover.js';
import { systemdV1HierarchyId } from '../logic/cgroup-path.js';
import { requireKernelSupport } from './kernel-support.js';
import type { KernelRecord } from '../model/records.js';

export type BufferKind = 'ringbuf' | 'perfbuf';

/** Where drained records go, from start() on. */
export interface RecordReceiver {
  /** Every record of one drain, in order, after the drain. */
  handle(records: KernelRecord[]): void;
  /** A record that could not be decoded (never expected; counted, not fatal). */
  decodeError(err: Error): void;
  /** A drain that threw, or a journal that could not be written (never expected; capture goes on). */
  captureError(source: 'drain' | 'journal', err: Error): void;
  /**
   * Kernel time of the oldest record the receiver still needs after a restart (the first
   * record of a connection it tracks), null when none: the journal keeps at least those.
   */
  neededSinceNs(): bigint | null;
}

export interface CaptureOptions {
  objectPath: string;
  buffer: 'auto' | BufferKind;
  ringSizeKB: number;
  perfPagesPerCpu: number;
  /** Where a private cgroup2 hierarchy is mounted when the host has none. */
  stateDir: string;
  libbpfLog: PrintHandler;
  /** The most detailed libbpf messages given to libbpfLog (default warn: the rest cost start-up time). */
  libbpfLogLevel?: PrintLevel;
  /** Fds a previous daemon left in systemd's fd store (its links and maps). */
  inheritedFds?: number[];
  /** Something (systemd's fd store) will keep the links and buffer past this process: journal what is read. */
  continuity?: boolean;
  /** Where the cut-down copy of the kernel's BTF is kept across boots (core-btf-cache.ts); none: not kept. */
  cacheDir?: string;
  /** Maps made ahead of the load (Capture.prepare), by name; the load uses them unless inherited. */
  premadeMaps?: Promise<Map<string, number>>;
}

/** Maps the object preallocates: made ahead, while the daemon loads its config and modules. */
const PREMADE_MAPS = ['processes'];

/** What CO-RE relocated against: the kernel's BTF, or the cached cut-down copy of it. */
export type CoreBtfSource = 'kernel' | 'cached';

/** What Capture.load() needs: no state directory, no record handlers. */
export type LoadOptions = Pick<
  CaptureOptions,
  'objectPath' | 'buffer' | 'ringSizeKB' | 'libbpfLog' | 'libbpfLogLevel' | 'inheritedFds' | 'cacheDir' | 'premadeMaps'
>;

/** What a load depended on, as a string to compare (the fd store's fds included). */
export function loadSettings(options: LoadOptions): string {
  const { objectPath, buffer, ringSizeKB, cacheDir, inheritedFds } = options;
  return JSON.stringify({ objectPath, buffer, ringSizeKB, cacheDir, inheritedFds: inheritedFds ?? [] });
}

/** An object loaded by Capture.load(), not attached yet. */
export interface LoadedObject {
  readonly libbpf: Libbpf;
  readonly obj: BpfObject;
  readonly inherited: Inherited;
  readonly useRing: boolean;
  readonly mapsReused: boolean;
  readonly mapsInherited: number;
  /** The previous daemon's ring buffer when its maps were not reused: drained after the attach. */
  readonly previousRing: number | null;
  readonly cache: CoreBtfCache | null;
  readonly coreBtf: CoreBtfSource;
  readonly coreBtfProblem: string | null;
  /** loadSettings() of the options it was loaded with. */
  readonly settings: string;
  close(): void;
}

/** How the programs came to be attached, for the ready line. */
export interface Handover {
  /** Links of a previous daemon kept as they were (same program code, same maps). */
  links_kept: number;
  /** Cgroup links of a previous daemon switched atomically to this object's program. */
  links_updated: number;
  /** Links attached by this daemon. */
  links_attached: number;
  /** The previous daemon's maps (its buffer, counters, socket owners) were taken over. */
  maps_reused: boolean;
  /** Maps of a previous daemon found among the inherited fds. */
  maps_inherited: number;
  /** Records the previous daemon read, replayed from its journal by the first drain. */
  journaled_records: number;
}

export interface AttachedProgram {
  name: string;
  id: number;
  attachedTo: string;
}

type Attach = { kind: 'cgroup' } | { kind: 'raw_tp'; tracepoint: string };

/** Every program in the object and where it attaches. */
const PROGRAMS: Record<string, Attach> = {
  imds_connect4: { kind: 'cgroup' },
  imds_connect6: { kind: 'cgroup' },
  imds_egress: { kind: 'cgroup' },
  imds_ingress: { kind: 'cgroup' },
  imds_exec: { kind: 'raw_tp', tracepoint: 'sched_process_exec' },
  imds_fork: { kind: 'raw_tp', tracepoint: 'sched_process_fork' },
  imds_exit: { kind: 'raw_tp', tracepoint: 'sched_process_exit' },
};

/** Each half of the journal of records read (hundreds of connections with their lineage, thousands of requests). */
const JOURNAL_HALF_BYTES = 2 << 20;
/** Records handed over per event-loop turn (a ring buffer turn; a perf buffer drains its pages). */
export const DRAIN_BUDGET = 4096;
/** How often a perf buffer is drained without a wakeup (see start()). */
const PERF_SAFETY_DRAIN_MS = 1000;

function kernelHasRingBuffer(libbpf: Libbpf): boolean {
  const probed = libbpf.probeMapType(BPF_MAP_TYPE_RINGBUF);
  if (probed !== null) return probed;
  const [major = 0, minor = 0] = release()
    .split('.')
    .map((part) => Number.parseInt(part, 10));
  return major > 5 || (major === 5 && minor >= 8);
}

export class Capture {
  readonly libbpfVersion: string;
  readonly bufferKind: BufferKind;
  readonly programs: AttachedProgram[] = [];
  readonly cgroupRoot: string;
  /** Records the perf buffer reported lost (the kernel counters count them too). */
  perfLost = 0n;
  coreBtf: CoreBtfSource = 'kernel';
  /** Why the cached BTF was not used though it was there (it is removed then), or null. */
  coreBtfProblem: string | null = null;
  /** Where this kernel's cut-down BTF is kept (null: no build id, or no cacheDir). */
  private coreBtfCache: CoreBtfCache | null = null;

  readonly handover: Handover = {
    links_kept: 0,
    links_updated: 0,
    links_attached: 0,
    maps_reused: false,
    journaled_records: 0,
    maps_inherited: 0,
  };
  /**
   * Null when this daemon took over its predecessor's capture with no window (the ready
   * line's capture_continued); otherwise why not (logic/takeover.ts).
   */
  captureGap: CaptureGap | null = 'fresh_start';
  /** What the previous daemon's journal held, for captureGap (null: none taken over). */
  private journalFacts: JournalFacts | null = null;
  /** Every link this daemon holds: its kernel fd and how to let go of it. */
  private readonly links: Array<{ fd: number; release: () => void }> = [];
  private readonly statsFd: number;
  private readonly cpus: number;
  private ring: RingBuffer | null = null;
  private perf: PerfBuffer | null = null;
  private poller: ReturnType<typeof koffi.node.poll> | null = null;
  private perfSafetyDrain: NodeJS.Timeout | null = null;
  private pending: KernelRecord[] = [];
  /** The raw bytes of the records in `pending`, for the journal. */
  private pendingRaw: Uint8Array[] = [];
  private journal: Journal | null = null;
  private receiver: RecordReceiver | null = null;
  /** Records taken before start() (journal, previous ring) that did not decode, told to the receiver then. */
  private journalDecodeErrors: Error[] = [];
  private closed = false;
  /** Drains that completed, and IMDS records the kernel had counted at the last health check. */
  private drains = 0;
  private health = { drains: -1, produced: 0n };
  drainErrors = 0;

  private constructor(
    private readonly libbpf: Libbpf,
    private readonly obj: BpfObject,
    private readonly options: CaptureOptions,
    bufferKind: BufferKind,
    cgroupRoot: string,
  ) {
    this.libbpfVersion = libbpf.version;
    this.bufferKind = bufferKind;
    this.cgroupRoot = cgroupRoot;
    this.cpus = libbpf.numPossibleCpus();
    this.statsFd = libbpf.mapFd(libbpf.findMap(obj, 'stats'));
  }

  /**
   * Loads the object and attaches every program; on any failure nothing stays attached.
   * Throws UnsupportedHostError (or LibbpfMissingError) when this host can never run it.
   */
  /**
   * Starts making the object's preallocated maps on a libuv thread (the processes map takes
   * ~30 ms to allocate), for open() to use. Never throws: open() reports what is wrong.
   */
  static prepare(objectPath: string): Promise<Map<string, number>> | null {
    try {
      const libbpf = openLibbpf();
      const obj = libbpf.openObject(objectPath);
      try {
        const making = PREMADE_MAPS.map((name) => {
          const fd = libbpf.createMapAsync(libbpf.findMap(obj, name), name);
          return fd?.then((made) => [name, made] as const);
        });
        return Promise.allSettled(making).then(
          (results) => new Map(results.flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []))),
        );
      } finally {
        libbpf.closeObject(obj);
      }
    } catch {
      return null;
    }
  }

  static async open(options: CaptureOptions, libbpf: Libbpf = openLibbpf()): Promise<Capture> {
    return Capture.attach(await Capture.load(options, libbpf), options);
  }

  /**
   * The first half of open(): loads the object (nothing attached, nothing written). The
   * daemon starts it before its config is checked and attaches it only if loadSettings()
   * of the checked config are the ones it was loaded with; else it closes it.
   */
  static async load(options: LoadOptions, libbpf: Libbpf = openLibbpf()): Promise<LoadedObject> {
    requireKernelSupport(libbpf);
    libbpf.setPrint(options.libbpfLog, options.libbpfLogLevel ?? 'warn');
    const inherited = classifyInherited(libbpf, options.inheritedFds ?? []);
    const inheritedMaps = inherited.maps;
    const mapsInherited = inheritedMaps.size;
    const inheritedEvents = inheritedMaps.get('events');
    const useRing =
      (inheritedEvents !== undefined &&
        libbpf.objectInfo(inheritedEvents, 4).getUint32(0, true) === BPF_MAP_TYPE_RINGBUF) ||
      options.buffer === 'ringbuf' ||
      (options.buffer === 'auto' && kernelHasRingBuffer(libbpf));
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
          loaded = await loadObject(libbpf, options, useRing, maps, cached.path);
          coreBtf = 'cached';
        } catch (err) {
          // A file that does not load is never used again: the kernel's BTF below, a new file after.
          discardCoreBtf(cache);
          coreBtfProblem = `${cache.path} did not load (${(err as Error).message}): removed, the kernel's BTF used`;
        } finally {
          cached.close();
        }
      }
      loaded ??= await loadObject(libbpf, options, useRing, maps);
    } finally {
      // The object holds its own copies of the maps it took.
      for (const fd of premade.values()) closeSync(fd);
    }
    const { obj, mapsReused } = loaded;
    const previousRing = mapsReused ? null : (inheritedEvents ?? null);
    for (const fd of inheritedMaps.values()) if (fd !== previousRing) closeSync(fd);
    inheritedMaps.clear();
    // CO-RE parsed the kernel's BTF (megabytes) and freed it; glibc would keep it.
    libbpf.trimHeap();
    return {
      libbpf,
      obj,
      inherited,
      useRing,
      mapsReused,
      mapsInherited,
      previousRing,
      cache,
      coreBtf,
      coreBtfProblem,
      settings: loadSettings(options),
      close: () => {
        if (previousRing !== null) closeSync(previousRing);
        libbpf.closeObject(obj);
      },
    };
  }

  /** The second half of open(): attaches a loaded object, opens its buffer and journal. */
  static async attach(loaded: LoadedObject, options: CaptureOptions): Promise<Capture> {
    const { libbpf, obj, inherited } = loaded;
    let capture: Capture | null = null;
    let previousRing = loaded.previousRing;
    try {
      if (loadSettings(options) !== loaded.settings)
        throw new Error(`loaded with ${loaded.settings}, asked to attach with ${loadSettings(options)}`);
      const cgroup = openCgroupRoot(options.stateDir);
      capture = new Capture(libbpf, obj, options, loaded.useRing ? 'ringbuf' : 'perfbuf', cgroup.path);
      capture.handover.maps_reused = loaded.mapsReused;
      capture.handover.maps_inherited = loaded.mapsInherited;
      capture.coreBtfCache = loaded.cache;
      capture.coreBtf = loaded.coreBtf;
      capture.coreBtfProblem = loaded.coreBtfProblem;
      try {
        capture.attachAll(cgroup.fd, inherited);
      } finally {
        cgroup.close();
      }
      capture.openBuffer();
      capture.openJournal(inherited.journalFd);
      // After the journal's records, ahead of this buffer's: the order they were written in.
      const ring = previousRing;
      previousRing = null;
      const previousRingDrained = ring !== null && drainPreviousRing(libbpf, ring, capture.takeSample);
      capture.captureGap = takeoverGap({
        linksInherited: [...inherited.links.values()].reduce((n, links) => n + links.length, 0),
        programs: capture.programs.length,
        programsTakenOver: capture.programs.filter((p) => inherited.links.has(p.name)).length,
        mapsReused: loaded.mapsReused,
        previousRingDrained,
        journal: capture.journalFacts,
      });
      return capture;
    } catch (err) {
      if (capture) {
        capture.close();
        if (previousRing !== null) closeSync(previousRing);
      } else loaded.close();
      throw err;
    }
  }

  /**
   * After a start against the kernel's BTF: has `cutDown` write the cut-down copy (in a
   * child process: core-btf-cache.ts), proves it and keeps it for the next start. Runs
   * beside capture; libbpf's messages are off while it loads.
   */
  async refreshCoreBtfCache(
    cutDown: (objectPath: string, outPath: string) => Promise<void>,
  ): Promise<'written' | 'current' | 'unavailable'> {
    const cache = this.coreBtfCache;
    if (this.coreBtf === 'cached') return 'current';
    if (!cache) return 'unavailable';
    try {
      await writeCoreBtf(
        cache,
        (candidate) => cutDown(this.options.objectPath, candidate),
        (candidate) => this.verifyCoreBtf(candidate),
      );
    } finally {
      // The trial load's heap, as after the first load.
      this.libbpf.trimHeap();
    }
    return 'written';
  }

  /** Loads the object against `btfPath` on this object's maps: every program must come out the same. */
  private async verifyCoreBtf(btfPath: string): Promise<void> {
    const { libbpf } = this;
    if (this.closed) throw new Error('capture closed before the cut-down BTF was proven');
    const trial = libbpf.openObject(this.options.objectPath, btfPath);
    try {
      configureBeforeLoad(libbpf, trial, this.options, this.bufferKind === 'ringbuf');
      const running = new Map(libbpf.maps(this.obj).map(({ map, name }) => [name, libbpf.mapFd(map)]));
      for (const { map, name } of libbpf.maps(trial)) {
        const fd = running.get(name);
        // Internal maps (.rodata) are the trial's own: reusing one skips its initial value.
        if (fd !== undefined && !name.includes('.')) libbpf.reuseMapFd(map, fd);
      }
      await libbpf.loadObjectAsync(trial);
      const tags = (obj: BpfObject) =>
        libbpf.programs(obj).map((p) => `${p.name} ${describeProgram(libbpf, libbpf.programFd(p.program)).tag}`);
      const want = tags(this.obj).join(', ');
      const got = tags(trial).join(', ');
      if (got !== want) throw new Error(`cut-down BTF relocates differently: ${got} instead of ${want}`);
    } finally {
      libbpf.closeObject(trial);
    }
  }

  /**
   * Attaches every program. A link a previous daemon left is kept when it runs the same
   * code on the same maps; a cgroup link is otherwise switched to the new program in one
   * step (no window, no overlap); a raw_tp link cannot be switched, so the new program is
   * attached beside it (process records may then arrive twice: harmless).
   */
  private attachAll(cgroupFd: number, inherited: Inherited): void {
    const byName = new Map(this.libbpf.programs(this.obj).map((p) => [p.name, p.program]));
    for (const [name, attach] of Object.entries(PROGRAMS)) {
      const program = byName.get(name);
      if (!program) throw new Error(`BPF object has no program ${name}`);
      const fresh = describeProgram(this.libbpf, this.libbpf.programFd(program));
      const previous = inherited.links.get(name) ?? [];
      const same = this.handover.maps_reused ? previous.find((l) => l.programTag === fresh.tag) : undefined;
      const switchable = attach.kind === 'cgroup' ? previous[0] : undefined;
      let id = fresh.id;
      let kept: number | null = null;
      if (same) {
        kept = same.fd;
        id = same.programId;
        this.handover.links_kept++;
      } else if (switchable) {
        this.libbpf.linkUpdate(switchable.fd, this.libbpf.programFd(program));
        kept = switchable.fd;
        this.handover.links_updated++;
      } else {
        const link =
          attach.kind === 'cgroup'
            ? this.libbpf.attachCgroup(program, cgroupFd)
            : this.libbpf.attachRawTracepoint(program, attach.tracepoint);
        this.links.push({ fd: this.libbpf.linkFd(link), release: () => this.libbpf.destroyLink(link) });
        this.handover.links_attached++;
      }
      if (kept !== null) {
        const fd = kept;
        this.links.push({ fd, release: () => closeSync(fd) });
      }
      // The others stay attached only as long as systemd's store holds them.
      for (const other of previous) if (other.fd !== kept) closeSync(other.fd);
      this.programs.push({
        name,
        id,
        attachedTo: attach.kind === 'cgroup' ? `cgroup:${this.cgroupRoot}` : `raw_tp:${attach.tracepoint}`,
      });
    }
  }

  /**
   * The fds that keep capture going while no daemon runs: every link and the object's
   * maps (its buffer among them). Only a ring buffer outlives its reader; a perf buffer's
   * per-CPU rings belong to the process that opened them.
   */
  continuityFds(): number[] {
    if (this.bufferKind !== 'ringbuf') return [];
    const maps = this.libbpf
      .maps(this.obj)
      .filter((m) => !m.name.includes('.'))
      .map((m) => this.libbpf.mapFd(m.map));
    return [...this.links.map((l) => l.fd), ...maps, ...(this.journal ? [this.journal.fd] : [])];
  }

  /** One record from a buffer. Runs inside libbpf's C callback: nothing may escape it. */
  private readonly takeSample = (data: Uint8Array): void => {
    try {
      const record = decodeRecord(data);
      this.pending.push(record);
      // Every record is about an IMDS connection now (process records come with its connect()).
      if (this.journal) this.pendingRaw.push(data.slice());
    } catch (err) {
      this.decodeFailed(err);
    }
  };

  /** A record that did not decode: told to the receiver, or kept for it until start(). */
  private decodeFailed(err: unknown): void {
    const error = err instanceof AbiError ? err : new AbiError(String(err));
    if (!this.receiver) {
      this.journalDecodeErrors.push(error);
      return;
    }
    try {
      this.receiver.decodeError(error);
    } catch {
      // Reporting is best effort; the record is already counted as skipped.
    }
  }

  private openBuffer(): void {
    const eventsFd = this.libbpf.mapFd(this.libbpf.findMap(this.obj, 'events'));
    const onSample = this.takeSample;
    if (this.bufferKind === 'ringbuf') {
      this.ring = this.libbpf.ringBufferNew(eventsFd, onSample);
    } else {
      this.perf = this.libbpf.perfBufferNew(eventsFd, this.options.perfPagesPerCpu, onSample, (_cpu, count) => {
        this.perfLost += count;
      });
    }
  }

  private openJournal(inheritedFd: number | null): void {
    if (this.bufferKind !== 'ringbuf' || !this.options.continuity) {
      if (inheritedFd !== null) closeSync(inheritedFd);
      return;
    }
    const adopted = inheritedFd === null ? null : Journal.adopt(inheritedFd);
    if (inheritedFd !== null && !adopted) closeSync(inheritedFd);
    this.journal = adopted?.journal ?? Journal.create(JOURNAL_HALF_BYTES);
    let oldestKeptNs: bigint | null = null;
    // The first drain hands them over ahead of what waits in the buffer.
    for (const raw of adopted?.records ?? []) {
      try {
        const record = decodeRecord(raw);
        this.pending.push(record);
        if (oldestKeptNs === null || record.tsNs < oldestKeptNs) oldestKeptNs = record.tsNs;
        this.handover.journaled_records++;
      } catch (err) {
        this.decodeFailed(err);
      }
    }
    if (adopted) this.journalFacts = { ...adopted, oldestKeptNs };
  }

  /** Starts draining on the event loop into `receiver`; returns how to stop (close() stops it too). */
  start(receiver: RecordReceiver): () => void {
    this.receiver = receiver;
    for (const err of this.journalDecodeErrors.splice(0)) receiver.decodeError(err);
    const fd = this.ring
      ? this.libbpf.ringBufferEpollFd(this.ring)
      : this.libbpf.perfBufferEpollFd(this.perf as PerfBuffer);
    const drainNow = () => {
      try {
        this.drain();
      } catch (err) {
        this.drainErrors++;
        receiver.captureError('drain', err instanceof Error ? err : new Error(String(err)));
      }
    };
    this.poller = koffi.node.poll(fd, { readable: true }, drainNow);
    // A perf buffer's epoll wakeup can go missing: the kernel matrix saw the records of a
    // connect() sit unread under qemu (6.1 arm64, 6.12) until the next wakeup, which may never
    // come. There a drain also runs every second; the ring buffer needs none.
    if (this.perf) this.perfSafetyDrain = setInterval(drainNow, PERF_SAFETY_DRAIN_MS).unref();
    return () => this.stopDraining();
  }

  private stopDraining(): void {
    this.poller?.close();
    this.poller = null;
    if (this.perfSafetyDrain) clearInterval(this.perfSafetyDrain);
    this.perfSafetyDrain = null;
  }

  /** Consumes up to `budget` records available now and hands them over; returns how many. */
  drain(budget = DRAIN_BUDGET): number {
    const receiver = this.receiver;
    if (this.closed || !receiver) return 0;
    try {
      if (this.ring) this.libbpf.ringBufferConsume(this.ring, budget);
      else if (this.perf) this.libbpf.perfBufferConsume(this.perf);
    } finally {
      this.drains++;
    }
    const batch = this.pending;
    if (batch.length === 0) return 0;
    this.pending = [];
    // Journaled before anything acts on them: from here a crash no longer loses them.
    try {
      this.journal?.append(this.pendingRaw, this.oldestNeeded(batch));
    } catch (err) {
      // Capture goes on; only a crash from now on could lose what is in flight.
      receiver.captureError('journal', err as Error);
      this.journal?.giveUp();
      this.journal = null;
    }
    this.pendingRaw = [];
    // Per-CPU perf buffers interleave CPUs; restore kernel time order.
    if (this.perf) batch.sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
    receiver.handle(batch);
    return batch.length;
  }

  /** The oldest kernel time the journal must keep: the receiver's, or this batch's first record. */
  private oldestNeeded(batch: KernelRecord[]): bigint | null {
    let oldest = this.receiver?.neededSinceNs() ?? null;
    for (const record of batch) if (oldest === null || record.tsNs < oldest) oldest = record.tsNs;
    return oldest;
  }

  /** Drains until the buffer is empty (shutdown: programs are detached, nothing new arrives). */
  drainAll(): void {
    while (this.drain() > 0);
  }

  /**
   * For the watchdog: false when the kernel produced IMDS records since the last check and
   * no drain ran in between (the drain loop is dead). A live loop drains within one turn of
   * a record, so a healthy daemon fails at most one check in a row, which systemd forgives.
   */
  drainLoopAlive(): boolean {
    const kernel = this.kernelStats();
    const produced = kernel.segments + kernel.responses;
    const alive = this.drains !== this.health.drains || produced === this.health.produced;
    this.health = { drains: this.drains, produced };
    return alive;
  }

  /** Kernel counters summed over CPUs. */
  kernelStats(): Record<KernelStatName, bigint> {
    const key = new Uint8Array(4);
    const values = new Uint8Array(8 * this.cpus);
    const view = new DataView(values.buffer);
    const out = {} as Record<KernelStatName, bigint>;
    KERNEL_STATS.forEach((name, index) => {
      new DataView(key.buffer).setUint32(0, index, true);
      let sum = 0n;
      if (this.libbpf.lookup(this.statsFd, key, values)) {
        for (let cpu = 0; cpu < this.cpus; cpu++) sum += view.getBigUint64(cpu * 8, true);
      }
      out[name] = sum;
    });
    return out;
  }

  /** Detaches every program: no new record arrives, those in the buffer can still be drained. */
  detach(): void {
    for (const link of this.links.splice(0)) link.release();
  }

  /** Detaches every program and frees the buffer. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.detach();
    this.closed = true;
    this.stopDraining();
    if (this.ring) this.libbpf.ringBufferFree(this.ring);
    if (this.perf) this.libbpf.perfBufferFree(this.perf);
    this.journal?.close();
    this.libbpf.closeObject(this.obj);
    this.libbpf.setPrint(null);
  }
}

/**
 * Opens and loads the object. With maps a previous daemon left, the object uses them
 * (its buffer keeps what was captured meanwhile); when they do not fit this object,
 * it loads with fresh maps instead.
 */
async function loadObject(
  libbpf: Libbpf,
  options: LoadOptions,
  useRing: boolean,
  maps: { inherited: Map<string, number>; premade: Map<string, number> },
  btfCustomPath?: string,
): Promise<{ obj: BpfObject; mapsReused: boolean }> {
  const inheritedMaps = maps.inherited;
  const attempt = async (reuse: boolean, load: (obj: BpfObject) => Promise<void> | void): Promise<BpfObject> => {
    const obj = libbpf.openObject(options.objectPath, btfCustomPath);
    try {
      configureBeforeLoad(libbpf, obj, options, useRing);
      for (const { map, name } of libbpf.maps(obj)) {
        const fd = (reuse ? inheritedMaps.get(name) : undefined) ?? maps.premade.get(name);
        if (fd !== undefined) libbpf.reuseMapFd(map, fd);
      }
      await load(obj);
      return obj;
    } catch (err) {
      libbpf.closeObject(obj);
      throw err;
    }
  };
  // Off this thread (the daemon loads its modules meanwhile); a failed load is done again on
  // it, where libbpf's messages (the verifier's log) reach the log.
  const load = async (reuse: boolean): Promise<BpfObject> => {
    try {
      return await attempt(reuse, (obj) => libbpf.loadObjectAsync(obj));
    } catch (err) {
      // Against a cached BTF the caller falls back to the kernel's: no messages needed.
      if (btfCustomPath !== undefined) throw err;
      return attempt(reuse, (obj) => libbpf.loadObject(obj));
    }
  };
  if (inheritedMaps.size > 0) {
    try {
      return { obj: await load(true), mapsReused: true };
    } catch {
      // A changed map layout: fresh maps below.
    }
  }
  return { obj: await load(false), mapsReused: false };
}

function configureBeforeLoad(libbpf: Libbpf, obj: BpfObject, options: LoadOptions, useRing: boolean): void {
  const events = libbpf.findMap(obj, 'events');
  const ringBytes = options.ringSizeKB * 1024;
  if (useRing) {
    libbpf.setMapMaxEntries(events, ringBytes);
  } else {
    libbpf.setMapType(events, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
    libbpf.setMapKeySize(events, 4);
    libbpf.setMapValueSize(events, 4);
    libbpf.setMapMaxEntries(events, libbpf.numPossibleCpus());
  }
  if (KERNEL_STATS.length > KERNEL_STAT_SLOTS) throw new Error('more kernel stats than slots');

  const offsets = elfSymbolOffsets(readFileSync(options.objectPath));
  const rodataMap = libbpf.maps(obj).find((m) => m.name.endsWith('.rodata'));
  if (!rodataMap) throw new Error('BPF object has no .rodata map');
  const rodata = libbpf.mapInitialValue(rodataMap.map);
  const view = new DataView(rodata.buffer, rodata.byteOffset, rodata.byteLength);
  const at = (name: string): number => {
    const offset = offsets.get(name);
    if (offset === undefined) throw new Error(`BPF object has no read-only global ${name}`);
    return offset;
  };
  view.setUint8(at('use_ringbuf'), useRing ? 1 : 0);
  view.setUint8(at('capture_processes'), 1);
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
