// The object's `events` map, read as a ring buffer (kernels from 5.8) or, before that, as
// a per-CPU perf buffer: what differs between the two is here, behind one small interface,
// and nowhere else. The object is compiled for the ring buffer; for a perf buffer the map
// is retyped before the load and the programs branch on the use_ringbuf global.
import { release } from 'node:os';
import {
  BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  BPF_MAP_TYPE_RINGBUF,
  type BpfObject,
  type Libbpf,
  type SampleHandler,
} from '../libbpf/libbpf.js';
import { MAPS } from './object-layout.js';

export type BufferKind = 'ringbuf' | 'perfbuf';

export interface EventBuffer {
  readonly kind: BufferKind;
  /** Readable when records wait. */
  readonly epollFd: number;
  /** Per-CPU perf buffers interleave CPUs: a batch must be put back in kernel time order. */
  readonly ordered: boolean;
  /**
   * A perf buffer's epoll wakeup can go missing (seen under qemu: a connect()'s records sat
   * unread until the next wakeup, which may never come): drained on a timer as well. A
   * ring buffer needs none.
   */
  readonly needsTimedDrain: boolean;
  /** Records the perf buffer reported lost (the kernel counters count them too). */
  readonly lost: bigint;
  /** Hands records available now to the sample handler: up to `budget` (a perf buffer drains its pages). */
  consume(budget: number): void;
  free(): void;
}

function kernelHasRingBuffer(libbpf: Libbpf): boolean {
  const probed = libbpf.probeMapType(BPF_MAP_TYPE_RINGBUF);
  if (probed !== null) return probed;
  const [major = 0, minor = 0] = release()
    .split('.')
    .map((part) => Number.parseInt(part, 10));
  return major > 5 || (major === 5 && minor >= 8);
}

/** An inherited buffer keeps its kind (it holds what was captured meanwhile); else the config, or what the kernel has. */
export function chooseBufferKind(libbpf: Libbpf, asked: 'auto' | BufferKind, inheritedEventsFd?: number): BufferKind {
  if (inheritedEventsFd !== undefined) {
    const type = libbpf.objectInfo(inheritedEventsFd, 4).getUint32(0, true);
    if (type === BPF_MAP_TYPE_RINGBUF) return 'ringbuf';
  }
  if (asked !== 'auto') return asked;
  return kernelHasRingBuffer(libbpf) ? 'ringbuf' : 'perfbuf';
}

/** Shapes the `events` map of an opened object for `kind`, before it is loaded. */
export function configureEventsMap(libbpf: Libbpf, obj: BpfObject, kind: BufferKind, ringSizeKB: number): void {
  const events = libbpf.findMap(obj, MAPS.events);
  if (kind === 'ringbuf') {
    libbpf.setMapMaxEntries(events, ringSizeKB * 1024);
    return;
  }
  libbpf.setMapType(events, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
  libbpf.setMapKeySize(events, 4);
  libbpf.setMapValueSize(events, 4);
  libbpf.setMapMaxEntries(events, libbpf.numPossibleCpus());
}

/** Opens the loaded object's `events` map for reading; `onSample` runs inside libbpf's C callback. */
export function openEventBuffer(
  libbpf: Libbpf,
  obj: BpfObject,
  kind: BufferKind,
  perfPagesPerCpu: number,
  onSample: SampleHandler,
): EventBuffer {
  const eventsFd = libbpf.mapFd(libbpf.findMap(obj, MAPS.events));
  if (kind === 'ringbuf') {
    const ring = libbpf.ringBufferNew(eventsFd, onSample);
    return {
      kind,
      epollFd: libbpf.ringBufferEpollFd(ring),
      ordered: true,
      needsTimedDrain: false,
      lost: 0n,
      consume: (budget) => void libbpf.ringBufferConsume(ring, budget),
      free: () => libbpf.ringBufferFree(ring),
    };
  }
  let lost = 0n;
  const perf = libbpf.perfBufferNew(eventsFd, perfPagesPerCpu, onSample, (_cpu, count) => {
    lost += count;
  });
  return {
    kind,
    epollFd: libbpf.perfBufferEpollFd(perf),
    ordered: false,
    needsTimedDrain: true,
    get lost() {
      return lost;
    },
    consume: () => void libbpf.perfBufferConsume(perf),
    free: () => libbpf.perfBufferFree(perf),
  };
}
