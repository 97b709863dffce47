// The cut-down BTF a start wrote (./core-btf-cache.ts) is kept only once it is proven: the
// object, loaded against it on the running capture's maps, must give every program the same
// instructions (program tags) as the load against the kernel's BTF.
import type { BpfObject, Libbpf } from '../libbpf/libbpf.js';
import { type CoreBtfCache, writeCoreBtf } from './core-btf-cache.js';
import { describeProgram } from './handover.js';
import { type LoadSetup, configureBeforeLoad } from './load.js';

/** Loads the object against `btfPath` on `running`'s maps; throws unless every program comes out the same. */
async function proveCoreBtf(libbpf: Libbpf, running: BpfObject, setup: LoadSetup, btfPath: string): Promise<void> {
  const trial = libbpf.openObject(setup.objectPath, btfPath);
  try {
    configureBeforeLoad(libbpf, trial, setup);
    const runningMaps = new Map(libbpf.maps(running).map(({ map, name }) => [name, libbpf.mapFd(map)]));
    for (const { map, name } of libbpf.maps(trial)) {
      const fd = runningMaps.get(name);
      // Internal maps (.rodata) are the trial's own: reusing one skips its initial value.
      if (fd !== undefined && !name.includes('.')) libbpf.reuseMapFd(map, fd);
    }
    await libbpf.loadObjectAsync(trial);
    const tags = (obj: BpfObject) =>
      libbpf.programs(obj).map((p) => `${p.name} ${describeProgram(libbpf, libbpf.programFd(p.program)).tag}`);
    const want = tags(running).join(', ');
    const got = tags(trial).join(', ');
    if (got !== want) throw new Error(`cut-down BTF relocates differently: ${got} instead of ${want}`);
  } finally {
    libbpf.closeObject(trial);
  }
}

/**
 * Has `cutDown` write the cut-down copy (in a child process: core-btf-cache.ts), proves it
 * and keeps it for the next start. `isOpen` tells whether the running object is still there.
 */
export async function writeProvenCoreBtf(
  libbpf: Libbpf,
  running: { obj: BpfObject; setup: LoadSetup; isOpen: () => boolean },
  cache: CoreBtfCache,
  cutDown: (objectPath: string, outPath: string) => Promise<void>,
): Promise<void> {
  try {
    await writeCoreBtf(
      cache,
      (candidate) => cutDown(running.setup.objectPath, candidate),
      (candidate) => {
        if (!running.isOpen()) throw new Error('capture closed before the cut-down BTF was proven');
        return proveCoreBtf(libbpf, running.obj, running.setup, candidate);
      },
    );
  } finally {
    // The trial load's heap, as after the first load.
    libbpf.trimHeap();
  }
}
