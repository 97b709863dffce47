// Network-namespace test hosts. One IMDS namespace holds a bridge carrying
// 169.254.169.254/16 and fd00:ec2::254/64 and runs the test IMDS server; each client
// namespace is joined to that bridge by a veth pair. There is no default route anywhere,
// so a client can reach the test IMDS and nothing else. The root namespace gets
// `unreachable` routes for both IMDS addresses while the testbed lives.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupTracker } from './cgroups.js';
import { compiledScript } from './compiled.js';
import { runSync, startProcess, type RunningProcess, type RunResult } from './exec.js';
import {
  IMDS_IPV4,
  IMDS_IPV6,
  parseImdsOptions,
  type ImdsOptions,
  type ImdsOptionsInput,
  type ServedRequest,
} from './imds-options.js';
import { assertNoImdsRouteFromRoot, registerTestbed, type HolderRecord, type Registration } from './host-registry.js';
import { deleteNamespaces, namespaceExists } from './namespaces.js';

const IP = existsSync('/usr/sbin/ip') ? '/usr/sbin/ip' : 'ip';

export type ImdsServerSettings = Omit<ImdsOptionsInput, 'logFile' | 'listen' | 'port'>;

export interface TestbedOptions {
  /** Start of every name the testbed creates (letters and digits, cut to fit 15-char interface names). */
  prefix?: string;
  /** Number of client namespaces, each on the IMDS bridge. Default 1. */
  clients?: number;
  /** Test IMDS behaviour (tokens, tokenPut, credentials, ...). */
  imds?: ImdsServerSettings;
  /** Give the IMDS and the clients IPv6 addresses. Default: when the kernel has IPv6. */
  ipv6?: boolean;
  /** How long to wait for the server's `listening`. Default 10 s. */
  serverStartTimeoutMs?: number;
}

export interface RunOptions {
  /** cgroup v2 directory (relative to the cgroup2 mount) the process joins before it execs. */
  cgroup?: string;
  /** Or any hierarchy's cgroup (e.g. cgroup v1 name=systemd): the absolute path of its cgroup.procs. */
  cgroupProcs?: string;
  env?: NodeJS.ProcessEnv;
  /** SIGKILL after this long. Default 30 s for `run`, none for `spawn`. */
  timeoutMs?: number;
  /** Run in a new pid namespace (`unshare --pid --fork --mount-proc`): `pid` is then unshare's. */
  pidNs?: boolean;
  stdin?: string | Buffer;
  /** Which client namespace (index). Default 0. */
  client?: number;
}

export interface ClientAddresses {
  ipv4: string;
  ipv6: string | null;
}

export interface Testbed {
  /** Unique base of every name below: prefix + pid + sequence. */
  readonly name: string;
  readonly imdsNs: string;
  /** The first client namespace. */
  readonly clientNs: string;
  readonly clientNamespaces: readonly string[];
  /** Per client namespace; `ipv6` is null when the testbed has no IPv6. */
  readonly clientAddresses: readonly ClientAddresses[];
  /** Interface names the testbed created (inside its namespaces). */
  readonly links: readonly string[];
  /** Private directory for the server log and anything tests want to put there; removed by teardown. */
  readonly workDir: string;
  readonly serverLogFile: string;
  /** The server's current configuration, defaults filled in. */
  readonly imdsOptions: ImdsOptions;
  /** Runs a command in a client namespace and waits for it to exit. */
  run(cmd: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Starts a long-running command in a client namespace; teardown kills it if still alive. */
  spawn(cmd: readonly string[], opts?: RunOptions): RunningProcess;
  /** The server's request log, oldest first. */
  serverRequests(): ServedRequest[];
  /**
   * Stops the server and starts it again with the creation-time settings overlaid with
   * these; the request log goes on.
   */
  restartServer(imds?: ImdsServerSettings): Promise<void>;
  /** Creates (if needed) a cgroup v2 directory and returns its absolute path. */
  cgroupPath(name: string): string;
  /** cgroup directories the testbed created and still owns. */
  createdCgroups(): readonly string[];
  /** Kills servers and clients, deletes namespaces, cgroups, routes it added. Idempotent. */
  teardown(): Promise<void>;
  /** Throws unless the root namespace routes both IMDS addresses to `unreachable` (see host-registry). */
  assertNoImdsRouteFromRoot(): void;
}

const MAX_IFNAME = 15;
const MAX_CLIENTS = 200;
const live = new Set<TestbedHost>();
let sequence = 0;
let exitHooksInstalled = false;

function tearDownAllNow(): void {
  for (const testbed of live) {
    try {
      testbed.teardownNow();
    } catch (error) {
      process.stderr.write(`${(error as Error).message}\n`);
    }
  }
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', tearDownAllNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      tearDownAllNow();
      // Let the default action (or other handlers) run as if we had not been here.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/** 0 -> "a", 25 -> "z", 26 -> "ba": a sequence that cannot be confused with the pid's digits. */
function letters(n: number): string {
  const digit = String.fromCharCode(97 + (n % 26));
  return n < 26 ? digit : `${letters(Math.floor(n / 26))}${digit}`;
}

function uniqueBase(prefix: string): string {
  if (!/^[a-z][a-z0-9]*$/i.test(prefix)) throw new Error(`testbed prefix must be letters and digits: ${prefix}`);
  const suffix = `${process.pid}${letters(sequence++)}`;
  // Longest interface name is `${base}c${clientIndex}`: leave room for "c" + 3 digits.
  const room = MAX_IFNAME - 4 - suffix.length;
  return `${prefix.slice(0, Math.max(1, room))}${suffix}`;
}

class TestbedHost implements Testbed {
  readonly name: string;
  readonly imdsNs: string;
  readonly clientNamespaces: string[] = [];
  readonly clientAddresses: ClientAddresses[] = [];
  readonly links: string[] = [];
  readonly workDir: string;
  readonly serverLogFile: string;
  imdsOptions: ImdsOptions;

  private readonly bridge: string;
  private readonly ipv6: boolean;
  private readonly baseSettings: ImdsServerSettings;
  /** Every namespace name this testbed owns, known before any is made. */
  private namespaces: string[] = [];
  private readonly cgroups = new CgroupTracker(() => this.registration?.update(this.holderRecord()));
  private readonly clients = new Set<RunningProcess>();
  private server: RunningProcess | undefined;
  private registration: Registration | undefined;
  private tornDown = false;

  constructor(
    options: TestbedOptions,
    private readonly serverStartTimeoutMs: number,
  ) {
    this.name = uniqueBase(options.prefix ?? 'tb');
    this.imdsNs = `${this.name}-imds`;
    this.bridge = `${this.name}b`;
    this.workDir = mkdtempSync(join(tmpdir(), `imds-testbed-${this.name}-`));
    this.serverLogFile = join(this.workDir, 'imds-requests.jsonl');
    this.ipv6 = options.ipv6 ?? existsSync('/proc/sys/net/ipv6');
    this.baseSettings = options.imds ?? {};
    this.imdsOptions = this.serverOptions({});
  }

  get clientNs(): string {
    const first = this.clientNamespaces[0];
    if (first === undefined) throw new Error('testbed has no client namespace');
    return first;
  }

  private clientNamespaceName(index: number): string {
    return index === 0 ? `${this.name}-cli` : `${this.name}-cli${index + 1}`;
  }

  private holderRecord(): HolderRecord {
    return { name: this.name, namespaces: this.namespaces, cgroups: [...this.cgroups.list()], workDir: this.workDir };
  }

  /** Builds namespaces, links and routes. The caller tears down on failure. */
  build(clientCount: number): void {
    this.namespaces = [
      this.imdsNs,
      ...Array.from({ length: clientCount }, (_, index) => this.clientNamespaceName(index)),
    ];
    this.registration = registerTestbed(this.holderRecord());
    this.addNamespace(this.imdsNs);
    const inImds = ['ip', '-n', this.imdsNs];
    runSync([...inImds, 'link', 'set', 'lo', 'up']);
    // Snooping off: NDP's solicited-node multicast must be flooded to every port.
    runSync([...inImds, 'link', 'add', this.bridge, 'type', 'bridge', 'mcast_snooping', '0']);
    this.links.push(this.bridge);
    runSync([...inImds, 'addr', 'add', `${IMDS_IPV4}/16`, 'dev', this.bridge]);
    if (this.ipv6) runSync([...inImds, 'addr', 'add', `${IMDS_IPV6}/64`, 'dev', this.bridge, 'nodad']);
    runSync([...inImds, 'link', 'set', this.bridge, 'up']);
    for (let index = 0; index < clientCount; index++) this.addClient(index);
  }

  private addNamespace(ns: string): void {
    // The name holds our pid: an existing namespace of that name is left over from a dead run.
    if (namespaceExists(ns)) deleteNamespaces([ns]);
    runSync(['ip', 'netns', 'add', ns]);
  }

  private addClient(index: number): void {
    const ns = this.clientNamespaceName(index);
    const clientLink = `${this.name}c${index}`;
    const bridgePort = `${this.name}i${index}`;
    const addresses = {
      ipv4: `169.254.10.${index + 1}`,
      ipv6: this.ipv6 ? `fd00:ec2::${(0x100 + index).toString(16)}` : null,
    };
    this.addNamespace(ns);
    // Both ends are created directly inside the namespaces: no interface ever exists in the root namespace.
    runSync([
      'ip',
      'link',
      'add',
      clientLink,
      'netns',
      ns,
      'type',
      'veth',
      'peer',
      'name',
      bridgePort,
      'netns',
      this.imdsNs,
    ]);
    this.links.push(clientLink, bridgePort);
    runSync(['ip', '-n', this.imdsNs, 'link', 'set', bridgePort, 'master', this.bridge, 'up']);
    const inClient = ['ip', '-n', ns];
    runSync([...inClient, 'link', 'set', 'lo', 'up']);
    runSync([...inClient, 'addr', 'add', `${addresses.ipv4}/16`, 'dev', clientLink]);
    if (addresses.ipv6) runSync([...inClient, 'addr', 'add', `${addresses.ipv6}/64`, 'dev', clientLink, 'nodad']);
    runSync([...inClient, 'link', 'set', clientLink, 'up']);
    this.clientNamespaces.push(ns);
    this.clientAddresses.push(addresses);
  }

  private serverOptions(settings: ImdsServerSettings): ImdsOptions {
    return parseImdsOptions({
      ...this.baseSettings,
      ...settings,
      listen: this.ipv6 ? [IMDS_IPV4, IMDS_IPV6] : [IMDS_IPV4],
      logFile: this.serverLogFile,
    });
  }

  async startServer(): Promise<void> {
    const argv = [
      'ip',
      'netns',
      'exec',
      this.imdsNs,
      process.execPath,
      compiledScript('imds-server'),
      '--config',
      JSON.stringify(this.imdsOptions),
    ];
    const server = startProcess(argv);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(
        () => fail(new Error(`test IMDS not listening after ${this.serverStartTimeoutMs} ms`)),
        this.serverStartTimeoutMs,
      );
      const fail = (error: Error): void => {
        clearTimeout(timer);
        server.kill();
        reject(error);
      };
      server.child.stdout?.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes('listening\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
      server.result.then(
        (result) => fail(new Error(`test IMDS exited (${result.code ?? result.signal}): ${result.stderr.trim()}`)),
        fail,
      );
    });
  }

  private async stopServer(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.kill('SIGTERM');
    const forced = setTimeout(() => server.kill('SIGKILL'), 3000);
    await server.result;
    clearTimeout(forced);
  }

  private command(cmd: readonly string[], opts: RunOptions): string[] {
    const ns = this.clientNamespaces[opts.client ?? 0];
    if (ns === undefined) throw new Error(`testbed has no client ${opts.client}`);
    if (cmd.length === 0) throw new Error('empty command');
    // --kill-child: killing unshare (timeout, teardown) also kills the namespace's init.
    const inner = opts.pidNs ? ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', ...cmd] : [...cmd];
    // By path: a busybox sh (the kernel matrix's VM) would exec its own `ip` applet, which has no netns.
    const inNs = [IP, 'netns', 'exec', ns, ...inner];
    if (opts.cgroup === undefined && opts.cgroupProcs === undefined) return inNs;
    // The shell moves itself into the cgroup, then execs: the client is born there. (Before
    // `ip netns exec`, which mounts a fresh /sys where no cgroup hierarchy is mounted.)
    const procs = opts.cgroupProcs ?? join(this.cgroupPath(opts.cgroup as string), 'cgroup.procs');
    return ['sh', '-c', 'echo $$ > "$1" && shift && exec "$@"', 'sh', procs, ...inNs];
  }

  spawn(cmd: readonly string[], opts: RunOptions = {}): RunningProcess {
    if (this.tornDown) throw new Error('testbed is torn down');
    const running = startProcess(this.command(cmd, opts), opts);
    this.clients.add(running);
    void running.result.finally(() => this.clients.delete(running)).catch(() => undefined);
    return running;
  }

  run(cmd: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.spawn(cmd, { ...opts, timeoutMs: opts.timeoutMs ?? 30_000 }).result;
  }

  serverRequests(): ServedRequest[] {
    let text: string;
    try {
      text = readFileSync(this.serverLogFile, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as ServedRequest);
  }

  async restartServer(imds: ImdsServerSettings = {}): Promise<void> {
    this.imdsOptions = this.serverOptions(imds);
    await this.stopServer();
    await this.startServer();
  }

  cgroupPath(name: string): string {
    return this.cgroups.ensure(name);
  }

  assertNoImdsRouteFromRoot(): void {
    assertNoImdsRouteFromRoot();
  }

  createdCgroups(): readonly string[] {
    return this.cgroups.list();
  }

  async teardown(): Promise<void> {
    if (this.tornDown) return;
    await this.stopServer();
    this.teardownNow();
  }

  /** Synchronous teardown (also runs from process 'exit'). Throws if something could not be removed. */
  teardownNow(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    live.delete(this);
    const problems: string[] = [];
    this.server?.kill('SIGKILL');
    for (const client of this.clients) client.kill('SIGKILL');
    // Everything still inside our namespaces was started by this testbed (e.g. `cmd & exit`).
    for (const ns of deleteNamespaces(this.namespaces)) problems.push(`namespace ${ns} not deleted`);
    for (const leftover of this.cgroups.removeAll()) problems.push(`cgroup ${leftover} not removed`);
    // With leftovers the holder file stays: whoever registers after this process has died removes them.
    if (problems.length === 0) this.registration?.release();
    rmSync(this.workDir, { recursive: true, force: true });
    if (problems.length > 0) throw new Error(`testbed ${this.name} teardown: ${problems.join('; ')}`);
  }
}

/**
 * Creates network namespaces, links, root-namespace safety routes and a running test IMDS.
 * Needs root. Always pair with `teardown()` (it also runs on process exit and SIGINT/SIGTERM).
 */
export async function createTestbed(opts: TestbedOptions = {}): Promise<Testbed> {
  const clientCount = opts.clients ?? 1;
  if (!Number.isInteger(clientCount) || clientCount < 1 || clientCount > MAX_CLIENTS) {
    throw new Error(`clients must be an integer in 1..${MAX_CLIENTS}`);
  }
  const testbed = new TestbedHost(opts, opts.serverStartTimeoutMs ?? 10_000);
  installExitHooks();
  live.add(testbed);
  try {
    testbed.build(clientCount);
    await testbed.startServer();
  } catch (error) {
    try {
      testbed.teardownNow();
    } catch (cleanupError) {
      throw new AggregateError([error, cleanupError], `testbed setup failed: ${(error as Error).message}`);
    }
    throw error;
  }
  return testbed;
}
