// The daemon's canaries (docs/canary.md): `imds-analyzer canary start|stop|status` asks over
// a root-only unix socket in the state directory; each canary is one loaded canary object
// (capture/canary.ts) held by this process, with a timer that ends it. The daemon owns every
// link: when it exits, however it exits, the kernel closes them and nothing of a canary stays
// attached. A restart therefore ends every canary (the next daemon starts none): a canary
// changes what a workload gets from IMDS, so it never outlives the process that ends it on time.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, type FSWatcher, readdirSync, rmSync, statSync, watch } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { CanaryProgram } from '../capture/canary.js';
import { type Libbpf, openLibbpf } from '../libbpf/libbpf.js';
import type { LogSink } from '../logging/index.js';
import { appFile } from './app-files.js';
import { type TargetMoment, TargetWatch } from './canary-target.js';
import {
  canaryHeaderLine,
  inSubtree,
  namesContainer,
  normalCgroupPath,
  targetLabel,
  MAX_CANARY_SECONDS,
} from '../logic/canary.js';
import {
  type ActiveCanary,
  CANARY_TOKEN_PREFIX,
  CONTROL_SOCKET_NAME,
  controlSocketPath,
  type CanaryTarget,
  type ControlRequest,
  type ControlResponse,
  controlRequestSchema,
  type RequestCanary,
  type TargetState,
} from '../model/canary.js';

/**
 * A unit's cgroup made anew (a restart) is looked for this often, and the canary follows it;
 * between two looks, the parent directory's inotify events (mkdir) make the daemon look at once.
 */
const FOLLOW_INTERVAL_MS = 500;
/** Looks made on inotify events are at least this far apart: a flood of mkdir/rmdir costs little. */
const WATCHED_LOOK_GAP_MS = 10;
/** Lines of requests refused just before a canary ended still name it for this long. */
const ENDED_KEPT_MS = 60_000;
/** Directory levels searched for a container's cgroup. */
const CONTAINER_SEARCH_DEPTH = 7;
const MAX_REQUEST_BYTES = 4096;
const MAX_CANARIES = 64;

/** What the daemon writes about a canary's start and end (the `canary` lifecycle line). */
export type CanaryEvent = ActiveCanary & { action: 'started' | 'ended'; reason?: string };
/** What the daemon writes about a canary's target (the `canary_target` line). */
export type TargetEvent = TargetState & { target: string; until: string; at: TargetMoment };

interface Running {
  target: CanaryTarget;
  label: string;
  cgroup: string;
  startedAt: Date;
  until: Date;
  program: CanaryProgram;
  timer: NodeJS.Timeout;
  follow: NodeJS.Timeout | null;
  /** inotify on the unit cgroup's parent (and that directory's inode): its new cgroup is seen when it is made, not at the next look. */
  parentWatch: FSWatcher | null;
  parentInode: number;
  /** A look the watch asked for, and when the last look was made. */
  lookSoon: NodeJS.Timeout | null;
  lastLookMs: number;
  inode: number;
  reattached: number;
  watch: TargetWatch | null;
}

export interface CanaryServiceOptions {
  libbpf: Libbpf;
  objectPath: string;
  stateDir: string;
  /** The cgroup2 mount every target is relative to. */
  cgroupRoot: string;
  /** 16 hex digits: the token value the kernel inserts is CANARY_TOKEN_PREFIX + secret. */
  secret: string;
  onEvent: (event: CanaryEvent) => void;
  onTargetEvent: (event: TargetEvent) => void;
}

export class CanaryService {
  private readonly running = new Map<string, Running>();
  private readonly ended: Array<{ root: string; canary: RequestCanary; endedAt: number }> = [];
  private server: Server | null = null;
  private readonly token: string;
  private readonly changeListeners: Array<() => void> = [];

  constructor(private readonly options: CanaryServiceOptions) {
    this.token = `${CANARY_TOKEN_PREFIX}${options.secret}`;
  }

  /** Opens the control socket (mode 0600: root only). */
  async listen(): Promise<void> {
    const path = controlSocketPath(this.options.stateDir);
    rmSync(path, { force: true });
    const server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(path, 0o600);
    this.server = server;
  }

  /** Is this token header value the one this daemon's canaries insert? */
  isCanaryToken = (value: string): boolean => value === this.token;

  /**
   * The canary whose subtree holds `cgroup` (active, or ended a moment ago), for a refused
   * request's line; of nested canaries the nearest (the deepest cgroup).
   */
  canaryFor(cgroup: string | null): RequestCanary | null {
    let nearest: Running | null = null;
    for (const canary of this.running.values())
      if (inSubtree(cgroup, canary.cgroup) && canary.cgroup.length > (nearest?.cgroup.length ?? -1)) nearest = canary;
    if (nearest) return this.requestCanary(nearest);
    const now = Date.now();
    for (const ended of this.ended)
      if (now - ended.endedAt < ENDED_KEPT_MS && inSubtree(cgroup, ended.root)) return ended.canary;
    return null;
  }

  /** Called after a canary started or ended (status.json lists them). */
  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  list(): ActiveCanary[] {
    return [...this.running.values()].map((canary) => this.describe(canary));
  }

  /** Ends every canary and closes the control socket (daemon stop). */
  close(): void {
    for (const label of [...this.running.keys()]) this.end(label, 'daemon stopped');
    this.server?.close();
    this.server = null;
    rmSync(join(this.options.stateDir, CONTROL_SOCKET_NAME), { force: true });
  }

  private serve(socket: Socket): void {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > MAX_REQUEST_BYTES) {
        socket.destroy();
        return;
      }
      const newline = text.indexOf('\n');
      if (newline < 0) return;
      const answer = this.answer(text.slice(0, newline));
      socket.end(`${JSON.stringify(answer)}\n`);
    });
  }

  private answer(line: string): ControlResponse {
    let request: ControlRequest;
    try {
      request = controlRequestSchema.parse(JSON.parse(line));
    } catch {
      return { ok: false, message: 'unreadable control request', canaries: this.list() };
    }
    try {
      const message = this.perform(request);
      return { ok: true, message, canaries: this.list() };
    } catch (err) {
      return { ok: false, message: (err as Error).message, canaries: this.list() };
    }
  }

  private perform(request: ControlRequest): string {
    switch (request.command) {
      case 'status':
        return `${this.running.size} canar${this.running.size === 1 ? 'y' : 'ies'} active`;
      case 'stop': {
        const labels = request.target ? [targetLabel(request.target)] : [...this.running.keys()];
        const stopped = labels.filter((label) => this.end(label, 'stopped'));
        if (request.target && stopped.length === 0) throw new Error(`no canary for ${labels[0]}`);
        return `stopped ${stopped.length} canar${stopped.length === 1 ? 'y' : 'ies'}`;
      }
      case 'start':
        return this.start(request.target, request.seconds);
    }
  }

  private start(target: CanaryTarget, seconds: number): string {
    const label = targetLabel(target);
    if (seconds > MAX_CANARY_SECONDS) throw new Error('a canary runs at most 7d');
    if (this.running.has(label)) throw new Error(`a canary for ${label} is running already (canary stop first)`);
    if (this.running.size >= MAX_CANARIES) throw new Error(`at most ${MAX_CANARIES} canaries at once`);
    const cgroup = this.resolve(target);
    const dir = join(this.options.cgroupRoot, cgroup);
    const program = CanaryProgram.load(
      this.options.libbpf,
      this.options.objectPath,
      canaryHeaderLine(this.options.secret),
    );
    try {
      program.attach(dir);
    } catch (err) {
      program.close();
      throw err;
    }
    const startedAt = new Date();
    const until = new Date(startedAt.getTime() + seconds * 1000);
    const canary: Running = {
      target,
      label,
      cgroup,
      startedAt,
      until,
      program,
      timer: setTimeout(() => this.end(label, 'expired'), seconds * 1000).unref(),
      follow: null,
      parentWatch: null,
      parentInode: 0,
      lookSoon: null,
      lastLookMs: 0,
      inode: statSync(dir).ino,
      reattached: 0,
      watch: null,
    };
    if (target.kind === 'unit') {
      canary.follow = setInterval(() => this.follow(canary), FOLLOW_INTERVAL_MS).unref();
      this.watchParent(canary);
    }
    this.running.set(label, canary);
    this.options.onEvent({ action: 'started', ...this.describe(canary) });
    canary.watch = this.watch(canary);
    this.changed();
    return `canary for ${label} (cgroup ${cgroup}) until ${until.toISOString()}`;
  }

  /** A unit's cgroup is made anew at each start: the canary is attached to the new one. */
  private follow(canary: Running): void {
    if (this.running.get(canary.label) !== canary) return;
    canary.lastLookMs = Date.now();
    const dir = join(this.options.cgroupRoot, canary.cgroup);
    this.watchParent(canary);
    try {
      const inode = statSync(dir).ino;
      if (inode === canary.inode) return;
      canary.program.attach(dir);
      canary.inode = inode;
      canary.reattached++;
      canary.watch?.poll();
    } catch {
      // Stopped: no cgroup until it starts again.
    }
  }

  /** Looks for the unit's new cgroup as soon as its parent directory changes (a watch lost is made again at the next look). */
  private watchParent(canary: Running): void {
    const dir = join(this.options.cgroupRoot, canary.cgroup);
    const name = basename(dir);
    const parent = dirname(dir);
    try {
      const inode = statSync(parent).ino;
      // A watch on a parent removed and made again sees nothing: made anew.
      if (canary.parentWatch && inode === canary.parentInode) return;
      canary.parentWatch?.close();
      canary.parentInode = inode;
      const watcher = watch(parent, { persistent: false }, (_event, file) => {
        if ((file === null || file === name) && !canary.lookSoon) {
          const wait = Math.max(0, canary.lastLookMs + WATCHED_LOOK_GAP_MS - Date.now());
          canary.lookSoon = setTimeout(() => {
            canary.lookSoon = null;
            this.follow(canary);
          }, wait).unref();
        }
      });
      watcher.on('error', () => {
        watcher.close();
        if (canary.parentWatch === watcher) canary.parentWatch = null;
      });
      canary.parentWatch = watcher;
    } catch {
      // No parent to watch (a slice stopped): the looks every FOLLOW_INTERVAL_MS go on.
      canary.parentWatch?.close();
      canary.parentWatch = null;
    }
  }

  private end(label: string, reason: string): boolean {
    const canary = this.running.get(label);
    if (!canary) return false;
    this.running.delete(label);
    clearTimeout(canary.timer);
    if (canary.follow) clearInterval(canary.follow);
    canary.parentWatch?.close();
    canary.parentWatch = null;
    if (canary.lookSoon) clearTimeout(canary.lookSoon);
    const final = this.describe(canary);
    canary.watch?.close();
    canary.program.close();
    this.ended.push({ root: canary.cgroup, canary: this.requestCanary(canary), endedAt: Date.now() });
    const now = Date.now();
    while (this.ended.length > 0 && now - (this.ended[0]?.endedAt ?? now) > ENDED_KEPT_MS) this.ended.shift();
    this.options.onEvent({ action: 'ended', reason, ...final });
    this.changed();
    return true;
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  /** Lines on what becomes of the target while the canary runs. */
  private watch(canary: Running): TargetWatch {
    const { target, until } = this.requestCanary(canary);
    return new TargetWatch(
      () => join(this.options.cgroupRoot, canary.cgroup),
      canary.target.kind === 'unit' ? canary.target.name : null,
      () => canary.reattached,
      (at, state) => this.options.onTargetEvent({ target, until, at, ...state }),
    );
  }

  private requestCanary(canary: Running): RequestCanary {
    return { target: canary.label, mode: 'required', until: canary.until.toISOString() };
  }

  private describe(canary: Running): ActiveCanary {
    return {
      target: canary.label,
      mode: 'required',
      cgroup: canary.cgroup,
      started_at: canary.startedAt.toISOString(),
      until: canary.until.toISOString(),
      kernel: canary.program.stats(),
      reattached: canary.reattached,
    };
  }

  /** The target's cgroup, relative to the cgroup2 mount; throws with one line when there is none. */
  private resolve(target: CanaryTarget): string {
    const root = this.options.cgroupRoot;
    const existing = (path: string | null, what: string): string => {
      if (path === null || !existsSync(join(root, path)) || !statSync(join(root, path)).isDirectory())
        throw new Error(`${what}: no such cgroup under ${root}`);
      return path;
    };
    switch (target.kind) {
      case 'cgroup': {
        const path = normalCgroupPath(target.path.startsWith(root) ? target.path.slice(root.length) : target.path);
        if (path === null) throw new Error(`--cgroup ${target.path}: not a cgroup below ${root} (the root is refused)`);
        return existing(path, `--cgroup ${target.path}`);
      }
      case 'unit': {
        if (!/^[\w@:.\\-]+\.(?:service|scope|slice|socket|mount|swap|timer)$/.test(target.name))
          throw new Error(`--unit ${target.name}: not a unit name (e.g. app.service)`);
        return existing(unitCgroup(root, target.name), `--unit ${target.name} (is it running?)`);
      }
      case 'container': {
        const found = findContainer(root, target.id);
        if (found.length > 1)
          throw new Error(`--container ${target.id}: names ${found.length} containers, give more of the id`);
        return existing(found[0] ?? null, `--container ${target.id}`);
      }
    }
  }
}

/** The unit's cgroup: from systemd when it runs, else the directory of that name below the root. */
function unitCgroup(root: string, name: string): string | null {
  try {
    const path = execFileSync('systemctl', ['show', '--property=ControlGroup', '--value', '--', name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    }).trim();
    const normal = normalCgroupPath(path);
    if (normal) return normal;
  } catch {
    // No systemd (a container, a test host): the tree below.
  }
  return findDirectory(root, (entry) => entry === name, 4)[0] ?? null;
}

function findContainer(root: string, id: string): string[] {
  return findDirectory(root, (entry) => namesContainer(entry, id), CONTAINER_SEARCH_DEPTH);
}

/** Directories below `root` (relative paths) whose name matches, breadth first, `depth` levels deep. */
function findDirectory(root: string, matches: (name: string) => boolean, depth: number): string[] {
  const found: string[] = [];
  let level = [''];
  for (let d = 0; d < depth && level.length > 0; d++) {
    const next: string[] = [];
    for (const relative of level) {
      let entries: string[];
      try {
        entries = readdirSync(join(root, relative), { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .map((e) => e.name);
      } catch {
        continue;
      }
      for (const entry of entries) {
        const path = `${relative}/${entry}`;
        if (matches(entry)) found.push(path);
        else next.push(path);
      }
    }
    level = next;
  }
  return found;
}

/**
 * The daemon's canary service, its control socket open; the kernel's canary object is
 * loaded only when a canary starts. Never throws: without a control socket there is no
 * canary, and capture goes on (an error line says why).
 */
export async function openCanaries(stateDir: string, cgroupRoot: string, sink: LogSink): Promise<CanaryService> {
  const service = new CanaryService({
    libbpf: openLibbpf(),
    objectPath: appFile('bpf', 'imds_canary.bpf.o'),
    stateDir,
    cgroupRoot,
    secret: randomBytes(8).toString('hex'),
    onEvent: (event) => sink.lifecycle('canary', event),
    onTargetEvent: (event) => sink.lifecycle('canary_target', event),
  });
  try {
    await service.listen();
  } catch (err) {
    sink.lifecycle('error', { source: 'canary', message: `no control socket: ${(err as Error).message}` });
  }
  return service;
}
