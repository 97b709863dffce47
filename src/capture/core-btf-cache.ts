// A cut-down copy of the kernel's BTF for this BPF object (src/logic/core-btf.ts), kept in
// the cache directory (across boots) so that the next start (the next boot) relocates against
// a small file instead of parsing the kernel's megabytes of BTF: most of a load
// (docs/benchmarks.md).
//
// The file is named after the kernel's build id, the object file (inode, size, change time)
// and the libbpf version, so a new kernel, object or libbpf never finds an old file. It is
// written only after a load against it gave every program the same instructions (program
// tags) as the load against the kernel's BTF; a file that fails to load is removed and the
// kernel's BTF used. Files are opened without following links and checked on the open
// descriptor (ours, a regular file, writable by nobody else); libbpf reads that descriptor
// through /proc/self/fd/N, never the path again.
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  constants as fs,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { coreBtfFileName, gnuBuildId } from '../logic/core-btf-key.js';
import { elfSection } from './elf.js';

const KERNEL_NOTES = '/sys/kernel/notes';
const KERNEL_BTF = '/sys/kernel/btf/vmlinux';
const CACHE_DIR = 'core-btf';

export interface CoreBtfCache {
  path: string;
}

/** A file opened for libbpf: `path` reads the open descriptor (/proc/self/fd/N). */
export interface OpenedFile {
  path: string;
  close(): void;
}

/** Where this kernel's cut-down BTF for this object file and libbpf lives; null when the kernel has no build id. */
export function coreBtfCache(cacheDir: string, objectPath: string, libbpfVersion: string): CoreBtfCache | null {
  let buildId: string | null;
  try {
    buildId = gnuBuildId(readFileSync(KERNEL_NOTES));
  } catch {
    return null;
  }
  if (!buildId) return null;
  const object = statSync(objectPath, { bigint: true });
  return { path: join(cacheDir, CACHE_DIR, coreBtfFileName(buildId, object, libbpfVersion)) };
}

/** `path` opened without following a link, if it is a regular file of ours that nobody else can write. */
export function openTrusted(path: string): OpenedFile | null {
  let fd: number;
  try {
    fd = openSync(path, fs.O_RDONLY | fs.O_NOFOLLOW | fs.O_NONBLOCK);
  } catch {
    return null;
  }
  const st = fstatSync(fd);
  if (!st.isFile() || st.uid !== process.geteuid?.() || (st.mode & 0o022) !== 0) {
    closeSync(fd);
    return null;
  }
  return { path: `/proc/self/fd/${fd}`, close: () => closeSync(fd) };
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
  // A new file, never through a link (O_EXCL refuses an existing name, a link included).
  const fd = openSync(outPath, fs.O_WRONLY | fs.O_CREAT | fs.O_EXCL | fs.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
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
    const made = openTrusted(candidate);
    if (!made) throw new Error(`${candidate} is not a file of ours after it was written`);
    try {
      await verify(made.path);
    } finally {
      made.close();
    }
    renameSync(candidate, cache.path);
  } finally {
    rmSync(candidate, { force: true });
  }
  const name = cache.path.slice(dir.length + 1);
  for (const other of readdirSync(dir)) if (other !== name) rmSync(join(dir, other), { force: true });
}
