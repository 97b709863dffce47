// What testbeds hold on this host, shared by every process that builds one (developers'
// test runs, the demo, benchmarks) through files under /run:
// - network safety: while any testbed lives, both IMDS addresses resolve to an
//   `unreachable` route in the root namespace, so nothing run by mistake outside the test
//   namespaces can reach a real IMDS. Routes already present are left alone; the routes a
//   testbed added are marked, and the last testbed on the host removes the marked ones.
// - crash recovery: each live testbed has a holder file naming its namespaces and
//   cgroups. A process killed before its teardown (SIGKILL, a test runner's hard timeout)
//   leaves its holder behind; the next registration or release cleans up after it.
// A mkdir lock keeps the check-then-change steps of different processes apart.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseProcStat } from '../../src/logic/proc-stat.js';
import { removeCgroups } from './cgroups.js';
import { runSync, sleepSync, tryRunSync } from './exec.js';
import { IMDS_IPV4, IMDS_IPV6 } from './imds-options.js';
import { deleteNamespaces } from './namespaces.js';

interface SafetyRoute {
  family: '-4' | '-6';
  address: string;
  prefix: string;
  /** Marker file name: present while the route is one a testbed added. */
  marker: string;
}

/** What a testbed made on the host, enough to undo it after its process died. */
export interface HolderRecord {
  name: string;
  namespaces: string[];
  /** cgroup directories in creation order (parents first). */
  cgroups: string[];
}

interface HolderFile extends HolderRecord {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: tells a live holder from a reused pid. */
  startTime: string;
}

export interface Registration {
  update(record: HolderRecord): void;
  release(): void;
}

const IPV4_ROUTE: SafetyRoute = { family: '-4', address: IMDS_IPV4, prefix: `${IMDS_IPV4}/32`, marker: 'added-ipv4' };
const IPV6_ROUTE: SafetyRoute = { family: '-6', address: IMDS_IPV6, prefix: `${IMDS_IPV6}/128`, marker: 'added-ipv6' };

const STATE_DIR = '/run/imds-analyzer-testbed';
const HOLDERS_DIR = join(STATE_DIR, 'holders');
const LOCK_DIR = join(STATE_DIR, 'lock');
/** A lock older than this was left by a process that died while holding it. */
const STALE_LOCK_MS = 10_000;

/** Without IPv6 in the root namespace nothing there can reach [fd00:ec2::254]: only IPv4 needs a route. */
function safetyRoutes(): SafetyRoute[] {
  try {
    if (readFileSync('/proc/sys/net/ipv6/conf/all/disable_ipv6', 'utf8').trim() === '0') return [IPV4_ROUTE, IPV6_ROUTE];
  } catch {
    // kernel without IPv6
  }
  return [IPV4_ROUTE];
}

function withLock<T>(action: () => T): T {
  mkdirSync(HOLDERS_DIR, { recursive: true, mode: 0o700 });
  for (let waited = 0; ; waited += 10) {
    try {
      mkdirSync(LOCK_DIR);
      break;
    } catch {
      const age = Date.now() - (statSync(LOCK_DIR, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > STALE_LOCK_MS) rmSync(LOCK_DIR, { recursive: true, force: true });
      else if (waited > 3 * STALE_LOCK_MS) throw new Error(`cannot take ${LOCK_DIR}`);
      sleepSync(10);
    }
  }
  try {
    return action();
  } finally {
    rmdirSync(LOCK_DIR);
  }
}

function startTimeOf(pid: number): string | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.startTicks.toString() ?? null;
  } catch {
    return null;
  }
}

function readHolder(file: string): HolderFile | null {
  try {
    return JSON.parse(readFileSync(join(HOLDERS_DIR, file), 'utf8')) as HolderFile;
  } catch {
    return null;
  }
}

/** Holder files of live testbeds; dead holders' namespaces and cgroups are removed with their files. */
function liveHolders(): string[] {
  return readdirSync(HOLDERS_DIR).filter((file) => {
    const holder = readHolder(file);
    if (holder && startTimeOf(holder.pid) === holder.startTime) return true;
    if (holder) {
      deleteNamespaces(holder.namespaces);
      removeCgroups(holder.cgroups);
    }
    rmSync(join(HOLDERS_DIR, file), { force: true });
    return false;
  });
}

/** `ip` run in a network namespace, or in the root namespace for null. */
function ipIn(namespace: string | null): string[] {
  return namespace === null ? ['ip'] : ['ip', '-n', namespace];
}

/** Route types installed for exactly this prefix in the main table of a namespace. */
function routeTypes(route: SafetyRoute, namespace: string | null = null): string[] {
  const json = runSync([...ipIn(namespace), '-j', route.family, 'route', 'show', 'table', 'main', 'exact', route.prefix]);
  const routes = JSON.parse(json.trim() || '[]') as Array<{ type?: string }>;
  return routes.map((entry) => entry.type ?? 'unicast');
}

function addMissingRoutes(): void {
  for (const route of safetyRoutes()) {
    const types = routeTypes(route);
    if (types.includes('unreachable')) continue;
    if (types.length > 0) {
      throw new Error(
        `root namespace routes ${route.prefix} as ${types.join(', ')}, not unreachable: refusing to build a testbed ` +
          'that could reach a real IMDS from the root namespace',
      );
    }
    runSync(['ip', route.family, 'route', 'add', 'unreachable', route.prefix]);
    writeFileSync(join(STATE_DIR, route.marker), `${process.pid}\n`);
  }
}

function removeAddedRoutes(): void {
  for (const route of [IPV4_ROUTE, IPV6_ROUTE]) {
    const marker = join(STATE_DIR, route.marker);
    if (!existsSync(marker)) continue;
    tryRunSync(['ip', route.family, 'route', 'del', 'unreachable', route.prefix]);
    rmSync(marker, { force: true });
  }
}

/**
 * Registers a testbed before it builds anything: cleans up after dead testbeds, adds
 * the missing unreachable routes and writes the holder file. `release` (idempotent)
 * removes the holder; the last holder on the host removes the routes testbeds added.
 */
export function registerTestbed(record: HolderRecord): Registration {
  const file = join(HOLDERS_DIR, `${process.pid}-${record.name}.json`);
  const startTime = startTimeOf(process.pid) ?? '';
  const write = (current: HolderRecord): void =>
    writeFileSync(file, JSON.stringify({ ...current, pid: process.pid, startTime } satisfies HolderFile));
  withLock(() => {
    liveHolders();
    addMissingRoutes();
    write(record);
  });
  let released = false;
  return {
    update: (current) => {
      if (!released) write(current);
    },
    release: () => {
      if (released) return;
      released = true;
      withLock(() => {
        rmSync(file, { force: true });
        if (liveHolders().length === 0) removeAddedRoutes();
      });
    },
  };
}

/** Testbeds alive on this host, in any process (holder file names: `<pid>-<name>.json`). */
export function liveTestbedHolders(): string[] {
  return withLock(liveHolders);
}

/**
 * Throws unless, in `namespace` (null: the root namespace), both IMDS addresses hit an
 * `unreachable` route: the route is installed and `ip route get` finds no route.
 */
export function assertNoImdsRouteIn(namespace: string | null): void {
  const where = namespace === null ? 'the root namespace' : `namespace ${namespace}`;
  for (const route of safetyRoutes()) {
    if (!routeTypes(route, namespace).includes('unreachable')) {
      throw new Error(`no unreachable route for ${route.prefix} in ${where}`);
    }
    const lookup = tryRunSync([...ipIn(namespace), route.family, 'route', 'get', route.address]);
    if (lookup !== null) throw new Error(`${where} has a route to ${route.address}: ${lookup.trim()}`);
  }
}

export function assertNoImdsRouteFromRoot(): void {
  assertNoImdsRouteIn(null);
}
