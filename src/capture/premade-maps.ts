// The object's preallocated maps, made ahead on a libuv thread while the daemon loads its
// config and modules (allocating the processes map is a noticeable part of a start), for
// the load to use (./load.ts).
import { openLibbpf } from '../libbpf/libbpf.js';
import { MAPS } from './object-layout.js';

/** Maps the object preallocates. */
const PREMADE_MAPS = [MAPS.processes];

/** Starts making the maps; null when libbpf or the object cannot be opened (the load says what is wrong). */
export function prepareMaps(objectPath: string): Promise<Map<string, number>> | null {
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
