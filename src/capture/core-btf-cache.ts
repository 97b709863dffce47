// A cut-down copy of the kernel's BTF for this BPF object (src/logic/core-btf.ts), kept in
// the cache directory (across boots) so that the next start (the next boot) relocates against ~1 KB of
// BTF instead of parsing the kernel's megabytes: about two thirds of a load here.
//
// The file is named after the kernel's build id and the object file (inode, size, change
// time), so a new kernel or a new object never finds an old file. It is written only after a load against it gave
// every program the same instructions (program tags) as the load against the kernel's BTF;
// a file that fails to load is removed and the kernel's BTF used.
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { coreBtfFileName, gnuBuildId } from '../logic/core-btf-key.js';
import { elfSection } from './elf.js';

const KERNEL_NOTES = '/sys/kernel/notes';
const KERNEL_BTF = '/sys/kernel/btf/vmlinux';
const CACHE_DIR = 'core-btf';

export interface CoreBtfCache {
  path: string;
  /** The file is there, ours, and not writable by others. */
  present: boolean;
}

/** Where this kernel's cut-down BTF for this object file lives; null when the kernel has no build id. */
export function coreBtfCache(cacheDir: string, objectPath: string): CoreBtfCache | null {
  let buildId: string | null;
  try {
    buildId = gnuBuildId(readFileSync(KERNEL_NOTES));
  } catch {
    return null;
  }
  if (!buildId) return null;
  const path = join(cacheDir, CACHE_DIR, coreBtfFileName(buildId, statSync(objectPath, { bigint: true })));
  return { path, present: isTrustedFile(path) };
}

function isTrustedFile(path: string): boolean {
  try {
    const st = lstatSync(path);
    return st.isFile() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** Removes a cached file that did not load. */
export function discardCoreBtf(cache: CoreBtfCache): void {
  rmSync(cache.path, { force: true });
}

/**
 * Writes the kernel's BTF cut down to what the object's CO-RE relocations use to `outPath`.
 * The daemon has a child process do it (`imds-analyzer cut-btf`): parsing megabytes of BTF
 * would leave its own heap that much larger for as long as it runs.
 */
export async function cutDownKernelBtf(objectPath: string, outPath: string): Promise<void> {
  const { coreRelocations, minimalCoreBtf, parseBtf } = await import('../logic/core-btf.js');
  const object = readFileSync(objectPath);
  const localBtf = elfSection(object, '.BTF');
  const relocations = coreRelocations(elfSection(object, '.BTF.ext'), parseBtf(localBtf).strings);
  const bytes = minimalCoreBtf(localBtf, relocations, parseBtf(readFileSync(KERNEL_BTF)));
  writeFileSync(outPath, bytes, { mode: 0o600, flag: 'wx' });
}

/**
 * Has `make` write the cut-down BTF, `verify` load the object against it, and keeps it when
 * that load matched; other kernels' and objects' files are removed then.
 */
export async function writeCoreBtf(
  cache: CoreBtfCache,
  make: (candidatePath: string) => Promise<void>,
  verify: (candidatePath: string) => Promise<void>,
): Promise<void> {
  const dir = join(cache.path, '..');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const candidate = `${cache.path}.${process.pid}.tmp`;
  try {
    rmSync(candidate, { force: true });
    await make(candidate);
    await verify(candidate);
    renameSync(candidate, cache.path);
  } finally {
    rmSync(candidate, { force: true });
  }
  const name = cache.path.slice(dir.length + 1);
  for (const other of readdirSync(dir)) if (other !== name) rmSync(join(dir, other), { force: true });
}
