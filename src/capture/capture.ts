// A running capture: the loaded object (./load.ts) with its programs attached
// (./links.ts), its buffer drained on the event loop (./drain.ts), its kernel counters
// (./kernel-stats.ts) and the cut-down BTF for the next start (./core-btf-proof.ts).
// Each job is in its own module; this one holds them together and lets go of them.
import type { Libbpf } from '../libbpf/libbpf.js';
import { openLibbpf } from '../libbpf/libbpf.js';
import type { KernelStatName } from './abi.js';
import { type CaptureGap, takeoverGap } from '../logic/takeover.js';
import { openCgroupRoot } from './cgroup-root.js';
import { writeProvenCoreBtf } from './core-btf-proof.js';
import { Drain, type RecordReceiver } from './drain.js';
import type { BufferKind } from './event-buffer.js';
import { KernelStats } from './kernel-stats.js';
import type { LongestTurn } from './longest-turn.js';
import { type AttachedProgram, type LinkCounts, Links } from './links.js';
import { type CoreBtfSource, type LoadOptions, type LoadedObject, loadObject, loadSettings } from './load.js';

export type { AttachedProgram, BufferKind, CoreBtfSource, LoadedObject, LoadOptions, RecordReceiver };
export { loadObject, loadSettings } from './load.js';
export { LongestTurn } from './longest-turn.js';
export { prepareMaps } from './premade-maps.js';

export interface CaptureOptions extends LoadOptions {
  perfPagesPerCpu: number;
  /** Where a private cgroup2 hierarchy is mounted when the host has none. */
  stateDir: string;
  /** Something (systemd's fd store) will keep the links and buffer past this process: journal what is read. */
  continuity?: boolean;
}

/** How the programs came to be attached, for the ready line. */
export interface Handover extends LinkCounts {
  /** The previous daemon's maps (its buffer, counters, socket owners) were taken over. */
  maps_reused: boolean;
  /** Maps of a previous daemon found among the inherited fds. */
  maps_inherited: number;
  /** Records the previous daemon read, replayed from its journal by the first drain. */
  journaled_records: number;
}

export class Capture {
  readonly libbpfVersion: string;
  readonly bufferKind: BufferKind;
  readonly cgroupRoot: string;
  readonly handover: Handover;
  readonly coreBtf: CoreBtfSource;
  /** Why the cached BTF was not used though it was there (it is removed then), or null. */
  readonly coreBtfProblem: string | null;
  /**
   * Null when this daemon took over its predecessor's capture with no window (the ready
   * line's capture_continued); otherwise why not (logic/takeover.ts).
   */
  readonly captureGap: CaptureGap | null;
  private readonly libbpf: Libbpf;
  private readonly stats: KernelStats;
  private closed = false;

  private constructor(
    private readonly loaded: LoadedObject,
    private readonly links: Links,
    private readonly drainer: Drain,
    cgroupRoot: string,
    previousRingDrained: boolean,
  ) {
    this.libbpf = loaded.libbpf;
    this.libbpfVersion = loaded.libbpf.version;
    this.bufferKind = loaded.setup.bufferKind;
    this.cgroupRoot = cgroupRoot;
    this.coreBtf = loaded.coreBtf;
    this.coreBtfProblem = loaded.coreBtfProblem;
    this.stats = new KernelStats(loaded.libbpf, loaded.obj);
    this.handover = {
      ...links.counts,
      maps_reused: loaded.mapsReused,
      journaled_records: drainer.journaled,
      maps_inherited: loaded.mapsInherited,
    };
    const inherited = loaded.inherited.links;
    this.captureGap = takeoverGap({
      linksInherited: [...inherited.values()].reduce((n, links) => n + links.length, 0),
      programs: links.programs.length,
      programsTakenOver: links.programs.filter((p) => inherited.has(p.name)).length,
      mapsReused: loaded.mapsReused,
      previousRingDrained,
      journal: drainer.journalFacts,
    });
  }

  /** Loads and attaches; on any failure nothing stays attached. */
  static async open(options: CaptureOptions, libbpf: Libbpf = openLibbpf()): Promise<Capture> {
    return Capture.attach(await loadObject(options, libbpf), options);
  }

  /**
   * Attaches a loaded object, opens its buffer and journal. `options` must be those it was
   * loaded with (the daemon loads early with what the config most likely says).
   */
  static async attach(loaded: LoadedObject, options: CaptureOptions): Promise<Capture> {
    let links: Links | null = null;
    try {
      if (loadSettings(options) !== loaded.settings)
        throw new Error(`loaded with ${loaded.settings}, asked to attach with ${loadSettings(options)}`);
      const cgroup = openCgroupRoot(options.stateDir);
      try {
        const { libbpf, obj, setup, inherited, mapsReused } = loaded;
        links = new Links(libbpf, obj, setup.layout.programs, cgroup, inherited, mapsReused);
      } finally {
        cgroup.close();
      }
      const journal = { keep: options.continuity === true, inheritedFd: loaded.inherited.journalFd };
      const drain = new Drain(loaded.libbpf, loaded.obj, loaded.setup.bufferKind, options.perfPagesPerCpu, journal);
      // Once every link has switched: whatever the previous programs wrote is in that ring now.
      const previousRing = loaded.takePreviousRing();
      const previousRingDrained = previousRing !== null && drain.drainPrevious(loaded.libbpf, previousRing);
      return new Capture(loaded, links, drain, cgroup.path, previousRingDrained);
    } catch (err) {
      links?.detach();
      loaded.close();
      throw err;
    }
  }

  get programs(): AttachedProgram[] {
    return this.links.programs;
  }

  /** Records the perf buffer reported lost (the kernel counters count them too). */
  get perfLost(): bigint {
    return this.drainer.lost;
  }

  /** Drains that threw. */
  get drainErrors(): number {
    return this.drainer.errors;
  }

  /** The longest event-loop turn spent draining records and handing them over. */
  get longestDrainTurn(): LongestTurn {
    return this.drainer.longest;
  }

  /**
   * The fds that keep capture going while no daemon runs: every link and the object's
   * maps (its buffer among them). Only a ring buffer outlives its reader; a perf buffer's
   * per-CPU rings belong to the process that opened them.
   */
  continuityFds(): number[] {
    if (this.bufferKind !== 'ringbuf') return [];
    const maps = this.libbpf
      .maps(this.loaded.obj)
      .filter((m) => !m.name.includes('.'))
      .map((m) => this.libbpf.mapFd(m.map));
    const journal = this.drainer.journalFd;
    return [...this.links.fds, ...maps, ...(journal === null ? [] : [journal])];
  }

  /** Starts draining on the event loop into `receiver`; returns how to stop (close() stops it too). */
  start(receiver: RecordReceiver): () => void {
    return this.drainer.start(receiver);
  }

  /** One drain turn now (what waits at start); returns how many records it handed over. */
  drain(): number {
    return this.drainer.drain();
  }

  /** Drains until the buffer is empty (shutdown: programs are detached, nothing new arrives). */
  drainAll(): void {
    this.drainer.drainAll();
  }

  /** For the watchdog: false when the kernel produced IMDS records since the last check and no drain ran. */
  drainLoopAlive(): boolean {
    const kernel = this.kernelStats();
    return this.drainer.alive(kernel.segments + kernel.responses);
  }

  /** Kernel counters summed over CPUs. */
  kernelStats(): Record<KernelStatName, bigint> {
    return this.stats.read();
  }

  /**
   * After a start against the kernel's BTF: has `cutDown` write the cut-down copy, proves
   * it and keeps it for the next start. Runs beside capture.
   */
  async refreshCoreBtfCache(
    cutDown: (objectPath: string, outPath: string) => Promise<void>,
  ): Promise<'written' | 'current' | 'unavailable'> {
    const { cache, obj, setup } = this.loaded;
    if (this.coreBtf === 'cached') return 'current';
    if (!cache) return 'unavailable';
    await writeProvenCoreBtf(this.libbpf, { obj, setup, isOpen: () => !this.closed }, cache, cutDown);
    return 'written';
  }

  /** Detaches every program: no new record arrives, those in the buffer can still be drained. */
  detach(): void {
    this.links.detach();
  }

  /** Detaches every program and frees the buffer. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.links.detach();
    this.drainer.close();
    this.loaded.close();
    this.libbpf.setPrint(null);
  }
}
