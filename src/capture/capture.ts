// Opens, loads and attaches the BPF object, then drains its buffer on the Node event
// loop: koffi watches the buffer's epoll fd and, when it is readable, one
// ring_buffer__consume() (or perf_buffer__consume()) hands over every pending record.
// Nothing blocks the event loop and nothing polls on a timer.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import koffi from 'koffi';
import {
  BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  BPF_MAP_TYPE_RINGBUF,
  type BpfLink,
  type BpfObject,
  type Libbpf,
  type PerfBuffer,
  type PrintHandler,
  type RingBuffer,
  openLibbpf,
} from '../libbpf/libbpf.js';
import { AbiError, KERNEL_STATS, KERNEL_STAT_SLOTS, type KernelStatName, decodeRecord } from './abi.js';
import { elfSymbolOffsets } from './elf.js';
import { openCgroupRoot } from './cgroup-root.js';
import type { KernelRecord } from '../model/records.js';

export type BufferKind = 'ringbuf' | 'perfbuf';

export interface CaptureOptions {
  objectPath: string;
  buffer: 'auto' | BufferKind;
  ringSizeKB: number;
  perfPagesPerCpu: number;
  /** Where a private cgroup2 hierarchy is mounted when the host has none. */
  stateDir: string;
  /** Receives every record of one drain, in order, after the drain. */
  onRecords: (records: KernelRecord[]) => void;
  /** Records that could not be decoded (never expected; counted, not fatal). */
  onDecodeError: (err: Error) => void;
  libbpfLog: PrintHandler;
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

function kernelHasRingBuffer(libbpf: Libbpf): boolean {
  const probed = libbpf.probeMapType(BPF_MAP_TYPE_RINGBUF);
  if (probed !== null) return probed;
  const [major = 0, minor = 0] = release().split('.').map((part) => Number.parseInt(part, 10));
  return major > 5 || (major === 5 && minor >= 8);
}

export class Capture {
  readonly libbpfVersion: string;
  readonly bufferKind: BufferKind;
  readonly programs: AttachedProgram[] = [];
  readonly cgroupRoot: string;
  /** Records the perf buffer reported lost (the kernel counters count them too). */
  perfLost = 0n;

  private readonly links: BpfLink[] = [];
  private readonly statsFd: number;
  private readonly cpus: number;
  private ring: RingBuffer | null = null;
  private perf: PerfBuffer | null = null;
  private poller: ReturnType<typeof koffi.node.poll> | null = null;
  private pending: KernelRecord[] = [];
  private closed = false;

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

  /** Loads the object and attaches every program; on any failure nothing stays attached. */
  static open(options: CaptureOptions, libbpf: Libbpf = openLibbpf()): Capture {
    libbpf.setPrint(options.libbpfLog);
    const useRing =
      options.buffer === 'ringbuf' || (options.buffer === 'auto' && kernelHasRingBuffer(libbpf));
    const obj = libbpf.openObject(options.objectPath);
    let capture: Capture | null = null;
    try {
      configureBeforeLoad(libbpf, obj, options, useRing);
      libbpf.loadObject(obj);
      // CO-RE parsed the kernel's BTF (megabytes) and freed it; glibc would keep it.
      libbpf.trimHeap();
      const cgroup = openCgroupRoot(options.stateDir);
      capture = new Capture(libbpf, obj, options, useRing ? 'ringbuf' : 'perfbuf', cgroup.path);
      try {
        capture.attachAll(cgroup.fd);
      } finally {
        cgroup.close();
      }
      capture.openBuffer();
      return capture;
    } catch (err) {
      if (capture) capture.close();
      else libbpf.closeObject(obj);
      throw err;
    }
  }

  private attachAll(cgroupFd: number): void {
    const byName = new Map(this.libbpf.programs(this.obj).map((p) => [p.name, p.program]));
    for (const [name, attach] of Object.entries(PROGRAMS)) {
      const program = byName.get(name);
      if (!program) throw new Error(`BPF object has no program ${name}`);
      const link =
        attach.kind === 'cgroup'
          ? this.libbpf.attachCgroup(program, cgroupFd)
          : this.libbpf.attachRawTracepoint(program, attach.tracepoint);
      this.links.push(link);
      this.programs.push({
        name,
        id: this.libbpf.programId(program),
        attachedTo: attach.kind === 'cgroup' ? `cgroup:${this.cgroupRoot}` : `raw_tp:${attach.tracepoint}`,
      });
    }
  }

  private openBuffer(): void {
    const eventsFd = this.libbpf.mapFd(this.libbpf.findMap(this.obj, 'events'));
    const onSample = (data: Uint8Array) => {
      try {
        this.pending.push(decodeRecord(data));
      } catch (err) {
        this.options.onDecodeError(err instanceof AbiError ? err : new AbiError(String(err)));
      }
    };
    if (this.bufferKind === 'ringbuf') {
      this.ring = this.libbpf.ringBufferNew(eventsFd, onSample);
    } else {
      this.perf = this.libbpf.perfBufferNew(eventsFd, this.options.perfPagesPerCpu, onSample, (_cpu, count) => {
        this.perfLost += count;
      });
    }
  }

  /** Starts draining on the event loop. */
  start(): void {
    const fd = this.ring
      ? this.libbpf.ringBufferEpollFd(this.ring)
      : this.libbpf.perfBufferEpollFd(this.perf as PerfBuffer);
    this.poller = koffi.node.poll(fd, { readable: true }, () => this.drain());
  }

  /** Consumes every record available now and hands them over; returns how many. */
  drain(): number {
    if (this.closed) return 0;
    if (this.ring) this.libbpf.ringBufferConsume(this.ring);
    else if (this.perf) this.libbpf.perfBufferConsume(this.perf);
    const batch = this.pending;
    if (batch.length === 0) return 0;
    this.pending = [];
    // Per-CPU perf buffers interleave CPUs; restore kernel time order.
    if (this.perf) batch.sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
    this.options.onRecords(batch);
    return batch.length;
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
    for (const link of this.links.splice(0)) this.libbpf.destroyLink(link);
  }

  /** Detaches every program and frees the buffer. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.detach();
    this.closed = true;
    this.poller?.close();
    if (this.ring) this.libbpf.ringBufferFree(this.ring);
    if (this.perf) this.libbpf.perfBufferFree(this.perf);
    this.libbpf.closeObject(this.obj);
    this.libbpf.setPrint(null);
  }
}

function configureBeforeLoad(libbpf: Libbpf, obj: BpfObject, options: CaptureOptions, useRing: boolean): void {
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
}
