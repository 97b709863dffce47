// A thin, typed koffi binding over the few libbpf calls imds-analyzer makes. Every
// pointer is a koffi BigInt address wrapped in a branded type; every failing call
// throws LibbpfError carrying errno and libbpf's own message.
import koffi, { type LibraryHandle, type TypeObject } from 'koffi';
import { cString } from '../logic/c-string.js';

export type Pointer<Brand extends string> = bigint & { readonly __brand: Brand };
export type BpfObject = Pointer<'bpf_object'>;
export type BpfMap = Pointer<'bpf_map'>;
export type BpfProgram = Pointer<'bpf_program'>;
export type BpfLink = Pointer<'bpf_link'>;
export type RingBuffer = Pointer<'ring_buffer'>;
export type PerfBuffer = Pointer<'perf_buffer'>;

/** Called for each record, with a view that is only valid during the call. */
export type SampleHandler = (data: Uint8Array, cpu: number) => void;
export type LostHandler = (cpu: number, count: bigint) => void;
export type PrintLevel = 'warn' | 'info' | 'debug';
export type PrintHandler = (level: PrintLevel, message: string) => void;

export const BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4;
export const BPF_MAP_TYPE_RINGBUF = 27;
const LIBBPF_STRICT_ALL = 0xffffffff;
const LIBBPF_CANDIDATES = ['libbpf.so.1', 'libbpf.so.0'];
const MIN_LIBBPF_0 = 6;
/** What the ring buffer sample callback returns to stop a drain at its budget (-EAGAIN). */
const BUDGET_SPENT = -11;

export class LibbpfError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
    detail: string,
  ) {
    super(`${call} failed: ${detail} (errno ${errno})`);
  }
}

export class LibbpfMissingError extends Error {}

function isNull(pointer: unknown): boolean {
  return pointer === null || pointer === undefined || pointer === 0n;
}

export interface Libbpf {
  readonly path: string;
  readonly version: string;
  /** Routes libbpf's messages up to `upTo` (warn < info < debug) to `handler`; the others are never formatted. */
  setPrint(handler: PrintHandler | null, upTo?: PrintLevel): void;
  /**
   * Opens a BPF object file. `btfCustomPath`: the BTF that CO-RE relocates against instead
   * of the kernel's (libbpf then never reads /sys/kernel/btf/vmlinux for this object).
   */
  openObject(path: string, btfCustomPath?: string): BpfObject;
  loadObject(obj: BpfObject): void;
  /**
   * The same on a libuv thread: this one stays free meanwhile (to load modules). libbpf's
   * messages are dropped during it: their callback would have to wait for this thread.
   */
  loadObjectAsync(obj: BpfObject): Promise<void>;
  closeObject(obj: BpfObject): void;
  findMap(obj: BpfObject, name: string): BpfMap;
  maps(obj: BpfObject): Array<{ map: BpfMap; name: string }>;
  mapName(map: BpfMap): string;
  setMapType(map: BpfMap, type: number): void;
  setMapMaxEntries(map: BpfMap, entries: number): void;
  setMapKeySize(map: BpfMap, size: number): void;
  setMapValueSize(map: BpfMap, size: number): void;
  /** The writable bytes of an internal map (.rodata) before load. */
  mapInitialValue(map: BpfMap): Uint8Array;
  mapFd(map: BpfMap): number;
  lookup(mapFd: number, key: Uint8Array, value: Uint8Array): boolean;
  /** bpf_map_update_elem (a sockhash takes a socket fd as its value). */
  update(mapFd: number, key: Uint8Array, value: Uint8Array): void;
  programs(obj: BpfObject): Array<{ program: BpfProgram; name: string }>;
  programFd(program: BpfProgram): number;
  /** Kernel id of a loaded program (what `bpftool prog show id N` takes). */
  programId(program: BpfProgram): number;
  attachCgroup(program: BpfProgram, cgroupFd: number): BpfLink;
  /** bpf_prog_attach: a program attached to a map (sk_msg to a sockhash); it lasts as long as the map. */
  attachToMap(programFd: number, mapFd: number, attachType: number): void;
  /** The kernel fd of a link libbpf holds. */
  linkFd(link: BpfLink): number;
  /** Atomically replaces the program of an attached link (cgroup links; not raw_tp). */
  linkUpdate(linkFd: number, programFd: number): void;
  /** Makes the object use an existing map (by fd) instead of creating its own at load. */
  reuseMapFd(map: BpfMap, fd: number): void;
  /** bpf_obj_get_info_by_fd: the first `size` bytes of a link, prog or map info struct. */
  objectInfo(fd: number, size: number): DataView;
  programFdById(id: number): number;
  attachRawTracepoint(program: BpfProgram, tracepoint: string): BpfLink;
  destroyLink(link: BpfLink): void;
  ringBufferNew(mapFd: number, onSample: SampleHandler): RingBuffer;
  ringBufferEpollFd(rb: RingBuffer): number;
  /**
   * Consumes at most `budget` records (ring_buffer__consume_n where libbpf has it, else the
   * sample callback stops the drain); returns how many were consumed.
   */
  ringBufferConsume(rb: RingBuffer, budget: number): number;
  ringBufferFree(rb: RingBuffer): void;
  perfBufferNew(mapFd: number, pagesPerCpu: number, onSample: SampleHandler, onLost: LostHandler): PerfBuffer;
  perfBufferEpollFd(pb: PerfBuffer): number;
  perfBufferConsume(pb: PerfBuffer): number;
  perfBufferFree(pb: PerfBuffer): void;
  numPossibleCpus(): number;
  /** true supported, false not, null when this libbpf cannot tell. */
  probeMapType(type: number): boolean | null;
  probeProgType(type: number): boolean | null;
  /** Gives the C heap libbpf freed after load (the parsed kernel BTF) back to the system. */
  trimHeap(): void;
  /**
   * Creates, on a libuv thread, a map as the object declares `map` (its fd, to be handed to
   * reuseMapFd): a large preallocated map then costs the load nothing. null when this libbpf
   * cannot (before 0.7).
   */
  createMapAsync(map: BpfMap, name: string): Promise<number> | null;
}

/** Libbpf bound once per process: koffi refuses to declare its types twice. */
const opened = new Map<string, Libbpf>();

/**
 * Opens libbpf: `IMDS_ANALYZER_LIBBPF` when set (a bundled copy), else libbpf.so.1,
 * else libbpf.so.0 when it is 0.6 or newer.
 */
export function openLibbpf(explicitPath = process.env.IMDS_ANALYZER_LIBBPF): Libbpf {
  const key = explicitPath ?? '';
  let libbpf = opened.get(key);
  if (!libbpf) {
    libbpf = findLibbpf(explicitPath);
    opened.set(key, libbpf);
  }
  return libbpf;
}

function findLibbpf(explicitPath: string | undefined): Libbpf {
  const candidates = explicitPath ? [explicitPath] : LIBBPF_CANDIDATES;
  const failures: string[] = [];
  for (const candidate of candidates) {
    let lib: LibraryHandle;
    try {
      lib = koffi.load(candidate);
    } catch (err) {
      failures.push(`${candidate}: ${(err as Error).message}`);
      continue;
    }
    let version: string;
    try {
      version = lib.func('const char *libbpf_version_string(void)')() as string;
    } catch {
      failures.push(`${candidate}: older than 0.6 (no libbpf_version_string)`);
      continue;
    }
    const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
    if (major === 0 && (minor ?? 0) < MIN_LIBBPF_0) {
      failures.push(`${candidate}: version ${version} is older than 0.6`);
      continue;
    }
    return bind(lib, candidate, version.replace(/^v/, ''));
  }
  throw new LibbpfMissingError(
    `libbpf 0.6 or newer is required but none could be loaded (${failures.join('; ')}). ` +
      'Install it: "dnf install libbpf" on Amazon Linux 2023, "apt-get install libbpf1" on Debian/Ubuntu, ' +
      'or set IMDS_ANALYZER_LIBBPF to a bundled libbpf.so.1.',
  );
}

function bind(lib: LibraryHandle, path: string, version: string): Libbpf {
  const libc = koffi.load('libc.so.6');
  const vsnprintf = libc.func('int vsnprintf(uint8_t *buf, size_t size, const char *fmt, void *args)');
  const mallocTrim = libc.func('int malloc_trim(size_t pad)');
  // struct bpf_object_open_opts up to btf_custom_path (libbpf 0.6+); `sz` tells libbpf how much is there.
  const OpenOpts = koffi.struct('imds_bpf_object_open_opts', {
    sz: 'size_t',
    object_name: 'const char *',
    relaxed_maps: 'bool',
    pin_root_path: 'const char *',
    unused_attach_prog_fd: 'uint32_t',
    kconfig: 'const char *',
    btf_custom_path: 'const char *',
  });
  const PrintFn = koffi.proto('int imds_libbpf_print_fn(int level, const char *fmt, void *args)');
  const SampleFn = koffi.proto('int imds_ring_buffer_sample_fn(void *ctx, void *data, size_t size)');
  const PerfSampleFn = koffi.proto('void imds_perf_buffer_sample_fn(void *ctx, int cpu, void *data, uint32_t size)');
  const PerfLostFn = koffi.proto('void imds_perf_buffer_lost_fn(void *ctx, int cpu, uint64_t count)');

  const fn = {
    strerror: lib.func('int libbpf_strerror(int err, uint8_t *buf, size_t size)'),
    setPrint: lib.func('void *libbpf_set_print(imds_libbpf_print_fn *fn)'),
    openFile: lib.func('void *bpf_object__open_file(const char *path, void *opts)'),
    openFileWithOpts: lib.func('bpf_object__open_file', 'void *', ['const char *', koffi.pointer(OpenOpts)]),
    load: lib.func('int bpf_object__load(void *obj)'),
    close: lib.func('void bpf_object__close(void *obj)'),
    findMap: lib.func('void *bpf_object__find_map_by_name(void *obj, const char *name)'),
    nextMap: lib.func('void *bpf_object__next_map(void *obj, void *prev)'),
    mapName: lib.func('const char *bpf_map__name(void *map)'),
    setType: lib.func('int bpf_map__set_type(void *map, int type)'),
    setMaxEntries: lib.func('int bpf_map__set_max_entries(void *map, uint32_t entries)'),
    setKeySize: lib.func('int bpf_map__set_key_size(void *map, uint32_t size)'),
    setValueSize: lib.func('int bpf_map__set_value_size(void *map, uint32_t size)'),
    initialValue: lib.func('void *bpf_map__initial_value(void *map, _Out_ size_t *size)'),
    mapFd: lib.func('int bpf_map__fd(void *map)'),
    lookup: lib.func('int bpf_map_lookup_elem(int fd, const void *key, void *value)'),
    update: lib.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
    progAttach: lib.func('int bpf_prog_attach(int prog_fd, int target_fd, int type, unsigned int flags)'),
    nextProgram: lib.func('void *bpf_object__next_program(void *obj, void *prev)'),
    programName: lib.func('const char *bpf_program__name(void *prog)'),
    programFd: lib.func('int bpf_program__fd(void *prog)'),
    objInfo: lib.func('int bpf_obj_get_info_by_fd(int fd, uint8_t *info, _Inout_ uint32_t *len)'),
    attachCgroup: lib.func('void *bpf_program__attach_cgroup(void *prog, int cgroup_fd)'),
    linkFd: lib.func('int bpf_link__fd(void *link)'),
    linkUpdate: lib.func('int bpf_link_update(int link_fd, int new_prog_fd, const void *opts)'),
    reuseFd: lib.func('int bpf_map__reuse_fd(void *map, int fd)'),
    progFdById: lib.func('int bpf_prog_get_fd_by_id(uint32_t id)'),
    attachRawTp: lib.func('void *bpf_program__attach_raw_tracepoint(void *prog, const char *name)'),
    destroyLink: lib.func('int bpf_link__destroy(void *link)'),
    rbNew: lib.func('void *ring_buffer__new(int map_fd, imds_ring_buffer_sample_fn *cb, void *ctx, void *opts)'),
    rbEpollFd: lib.func('int ring_buffer__epoll_fd(void *rb)'),
    rbConsume: lib.func('int ring_buffer__consume(void *rb)'),
    rbFree: lib.func('void ring_buffer__free(void *rb)'),
    pbNew: lib.func(
      'void *perf_buffer__new(int map_fd, size_t page_cnt, imds_perf_buffer_sample_fn *sample_cb, ' +
        'imds_perf_buffer_lost_fn *lost_cb, void *ctx, void *opts)',
    ),
    pbEpollFd: lib.func('int perf_buffer__epoll_fd(void *pb)'),
    pbConsume: lib.func('int perf_buffer__consume(void *pb)'),
    pbFree: lib.func('void perf_buffer__free(void *pb)'),
    numCpus: lib.func('int libbpf_num_possible_cpus(void)'),
  };
  const optional = (signature: string) => {
    try {
      return lib.func(signature);
    } catch {
      return null;
    }
  };
  const probeMapType = optional('int libbpf_probe_bpf_map_type(int type, const void *opts)');
  const probeProgType = optional('int libbpf_probe_bpf_prog_type(int type, const void *opts)');
  // libbpf 1.5+; older ones stop when the sample callback returns < 0.
  const rbConsumeN = optional('int ring_buffer__consume_n(void *rb, size_t n)');
  const mapDefinition = {
    type: optional('int bpf_map__type(void *map)'),
    keySize: optional('uint32_t bpf_map__key_size(void *map)'),
    valueSize: optional('uint32_t bpf_map__value_size(void *map)'),
    maxEntries: optional('uint32_t bpf_map__max_entries(void *map)'),
    flags: optional('uint32_t bpf_map__map_flags(void *map)'),
    create: optional(
      'int bpf_map_create(int type, const char *name, uint32_t key_size, uint32_t value_size, uint32_t max_entries, const void *opts)',
    ),
  };
  // libbpf 0.x returns error-encoded pointers unless told to use NULL + errno like 1.x.
  optional('int libbpf_set_strict_mode(uint32_t mode)')?.(LIBBPF_STRICT_ALL);

  const describe = (err: number): string => {
    const buf = new Uint8Array(256);
    fn.strerror(-Math.abs(err), buf, buf.length);
    return cString(buf);
  };
  const fail = (call: string, err: number): never => {
    throw new LibbpfError(call, Math.abs(err), describe(err));
  };
  const checkInt = (call: string, result: number): number => {
    if (result < 0) fail(call, result);
    return result;
  };
  const checkPtr = <T extends bigint>(call: string, result: unknown): T => {
    if (isNull(result)) fail(call, koffi.errno() || 22);
    return result as T;
  };
  const registered = new Set<unknown>();
  const register = (callback: (...args: never[]) => unknown, proto: TypeObject) => {
    const handle = koffi.register(callback, koffi.pointer(proto));
    registered.add(handle);
    return handle;
  };
  const iterate = <T extends bigint>(next: (obj: bigint, prev: bigint | null) => unknown, obj: bigint): T[] => {
    const out: T[] = [];
    let cur: unknown = next(obj, null);
    while (!isNull(cur)) {
      out.push(cur as T);
      cur = next(obj, cur as bigint);
    }
    return out;
  };
  let printHandle: unknown = null;
  /** Records the running ring_buffer__consume may still hand over, and how many it did. */
  let ringBudget = Number.POSITIVE_INFINITY;
  let ringTaken = 0;

  return {
    path,
    version,
    setPrint(handler, upTo = 'debug') {
      if (printHandle !== null) koffi.unregister(printHandle as bigint);
      printHandle = null;
      if (!handler) {
        fn.setPrint(null);
        return;
      }
      const levels = ['warn', 'info', 'debug'] as const;
      const highest = levels.indexOf(upTo);
      // Verifier logs arrive as one message of up to a few hundred KiB. One buffer for every
      // message: libbpf prints hundreds of debug lines per load (the va_list can be read only once).
      let buf: Uint8Array | null = null;
      const decoder = new TextDecoder();
      printHandle = koffi.register((level: number, format: string, args: bigint) => {
        if (level > highest) return 0;
        buf ??= new Uint8Array(1 << 20);
        const n = vsnprintf(buf, buf.length, format, args) as number;
        const text = decoder.decode(buf.subarray(0, Math.max(0, Math.min(n, buf.length - 1))));
        handler(levels[level] ?? 'debug', text.trimEnd());
        return 0;
      }, koffi.pointer(PrintFn));
      fn.setPrint(printHandle);
    },
    openObject: (objPath, btfCustomPath) =>
      checkPtr<BpfObject>(
        'bpf_object__open_file',
        btfCustomPath === undefined
          ? fn.openFile(objPath, null)
          : fn.openFileWithOpts(objPath, { sz: koffi.sizeof(OpenOpts), btf_custom_path: btfCustomPath }),
      ),
    loadObject: (obj) => void checkInt('bpf_object__load', fn.load(obj)),
    loadObjectAsync: (obj) =>
      new Promise<void>((resolve, reject) => {
        fn.setPrint(null);
        fn.load.async(obj, (err: unknown, result: number) => {
          fn.setPrint(printHandle);
          try {
            if (err) throw err;
            checkInt('bpf_object__load', result);
            resolve();
          } catch (failure) {
            reject(failure);
          }
        });
      }),
    closeObject: (obj) => fn.close(obj),
    findMap: (obj, name) => checkPtr<BpfMap>(`bpf_object__find_map_by_name(${name})`, fn.findMap(obj, name)),
    maps: (obj) => iterate<BpfMap>(fn.nextMap, obj).map((map) => ({ map, name: fn.mapName(map) as string })),
    mapName: (map) => fn.mapName(map) as string,
    setMapType: (map, type) => void checkInt('bpf_map__set_type', fn.setType(map, type)),
    setMapMaxEntries: (map, n) => void checkInt('bpf_map__set_max_entries', fn.setMaxEntries(map, n)),
    setMapKeySize: (map, n) => void checkInt('bpf_map__set_key_size', fn.setKeySize(map, n)),
    setMapValueSize: (map, n) => void checkInt('bpf_map__set_value_size', fn.setValueSize(map, n)),
    mapInitialValue(map) {
      const size = [0];
      const ptr = checkPtr<bigint>('bpf_map__initial_value', fn.initialValue(map, size));
      return new Uint8Array(koffi.view(ptr, Number(size[0])));
    },
    mapFd: (map) => checkInt('bpf_map__fd', fn.mapFd(map)),
    lookup: (fd, key, value) => fn.lookup(fd, key, value) === 0,
    update: (fd, key, value) => void checkInt('bpf_map_update_elem', fn.update(fd, key, value, 0) as number),
    programs: (obj) =>
      iterate<BpfProgram>(fn.nextProgram, obj).map((program) => ({
        program,
        name: fn.programName(program) as string,
      })),
    programFd: (program) => checkInt('bpf_program__fd', fn.programFd(program)),
    programId(program) {
      // struct bpf_prog_info starts with __u32 type, __u32 id.
      const info = new Uint8Array(256);
      const len = [info.length];
      checkInt('bpf_obj_get_info_by_fd', fn.objInfo(fn.programFd(program), info, len));
      return new DataView(info.buffer).getUint32(4, true);
    },
    attachCgroup: (program, cgroupFd) =>
      checkPtr<BpfLink>('bpf_program__attach_cgroup', fn.attachCgroup(program, cgroupFd)),
    attachToMap: (programFd, mapFd, attachType) =>
      void checkInt('bpf_prog_attach', fn.progAttach(programFd, mapFd, attachType, 0) as number),
    linkFd: (link) => checkInt('bpf_link__fd', fn.linkFd(link)),
    linkUpdate: (linkFd, programFd) => void checkInt('bpf_link_update', fn.linkUpdate(linkFd, programFd, null)),
    reuseMapFd: (map, fd) => void checkInt('bpf_map__reuse_fd', fn.reuseFd(map, fd)),
    objectInfo(fd, size) {
      const info = new Uint8Array(size);
      const len = [size];
      checkInt('bpf_obj_get_info_by_fd', fn.objInfo(fd, info, len));
      return new DataView(info.buffer);
    },
    programFdById: (id) => checkInt('bpf_prog_get_fd_by_id', fn.progFdById(id)),
    attachRawTracepoint: (program, tp) =>
      checkPtr<BpfLink>(`bpf_program__attach_raw_tracepoint(${tp})`, fn.attachRawTp(program, tp)),
    destroyLink: (link) => void fn.destroyLink(link),
    ringBufferNew(mapFd, onSample) {
      const cb = register((_ctx: unknown, data: bigint, size: number | bigint) => {
        onSample(new Uint8Array(koffi.view(data, Number(size))), -1);
        // The record is consumed either way; a negative return ends this drain.
        return ++ringTaken >= ringBudget ? BUDGET_SPENT : 0;
      }, SampleFn);
      return checkPtr<RingBuffer>('ring_buffer__new', fn.rbNew(mapFd, cb, null, null));
    },
    ringBufferEpollFd: (rb) => checkInt('ring_buffer__epoll_fd', fn.rbEpollFd(rb)),
    ringBufferConsume(rb, budget) {
      ringTaken = 0;
      if (rbConsumeN) {
        ringBudget = Number.POSITIVE_INFINITY;
        return checkInt('ring_buffer__consume_n', rbConsumeN(rb, budget) as number);
      }
      ringBudget = budget;
      const result = fn.rbConsume(rb) as number;
      if (result !== BUDGET_SPENT) checkInt('ring_buffer__consume', result);
      return ringTaken;
    },
    ringBufferFree: (rb) => fn.rbFree(rb),
    perfBufferNew(mapFd, pagesPerCpu, onSample, onLost) {
      const sample = register((_ctx: unknown, cpu: number, data: bigint, size: number) => {
        onSample(new Uint8Array(koffi.view(data, size)), cpu);
      }, PerfSampleFn);
      const lost = register((_ctx: unknown, cpu: number, count: bigint | number) => {
        onLost(cpu, BigInt(count));
      }, PerfLostFn);
      return checkPtr<PerfBuffer>('perf_buffer__new', fn.pbNew(mapFd, pagesPerCpu, sample, lost, null, null));
    },
    perfBufferEpollFd: (pb) => checkInt('perf_buffer__epoll_fd', fn.pbEpollFd(pb)),
    perfBufferConsume: (pb) => checkInt('perf_buffer__consume', fn.pbConsume(pb)),
    perfBufferFree: (pb) => fn.pbFree(pb),
    numPossibleCpus: () => checkInt('libbpf_num_possible_cpus', fn.numCpus()),
    trimHeap: () => void mallocTrim(0),
    createMapAsync(map, name) {
      const { type, keySize, valueSize, maxEntries, flags, create } = mapDefinition;
      // Flags need options (bpf_map_create_opts): only maps without them are made here.
      if (!type || !keySize || !valueSize || !maxEntries || !flags || !create || flags(map) !== 0) return null;
      const args = [type(map), name, keySize(map), valueSize(map), maxEntries(map), null];
      return new Promise<number>((resolve, reject) => {
        create.async(...args, (err: unknown, fd: number) => {
          try {
            if (err) throw err;
            resolve(checkInt('bpf_map_create', fd));
          } catch (failure) {
            reject(failure);
          }
        });
      });
    },
    probeMapType(type) {
      if (!probeMapType) return null;
      const result = probeMapType(type, null) as number;
      return result < 0 ? null : result === 1;
    },
    probeProgType(type) {
      if (!probeProgType) return null;
      const result = probeProgType(type, null) as number;
      return result < 0 ? null : result === 1;
    },
  };
}
