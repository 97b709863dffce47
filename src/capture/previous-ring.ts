// The previous daemon's ring buffer when its maps could not be taken over (an upgrade that
// changed a map's layout): its programs wrote there until their links switched to the new
// object's programs, so it is read to its end once every link has switched. Only then is
// it let go: read before, whatever the old programs wrote in between would be lost.
import { closeSync } from 'node:fs';
import { BPF_MAP_TYPE_RINGBUF, type Libbpf } from '../libbpf/libbpf.js';

/** Records read per consume; the loop goes on until the ring is empty. */
const BATCH = 4096;

/**
 * Hands every record left in the ring `fd` to `onSample`, then closes the fd. False when
 * it could not be read (not a ring buffer, or libbpf failed): its records are lost.
 */
export function drainPreviousRing(libbpf: Libbpf, fd: number, onSample: (data: Uint8Array) => void): boolean {
  try {
    if (libbpf.objectInfo(fd, 4).getUint32(0, true) !== BPF_MAP_TYPE_RINGBUF) return false;
    const ring = libbpf.ringBufferNew(fd, onSample);
    try {
      while (libbpf.ringBufferConsume(ring, BATCH) > 0);
    } finally {
      libbpf.ringBufferFree(ring);
    }
    return true;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}
