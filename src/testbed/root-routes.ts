// Network safety for the root namespace: while a testbed lives, both IMDS addresses
// resolve to an `unreachable` route there, so nothing run by mistake outside the test
// namespaces can reach a real IMDS. Routes already present are left alone.
//
// Several processes (developers' test runs, the demo) may hold testbeds at once, so the
// bookkeeping is shared in /run: one holder file per live testbed, and a marker per route
// a testbed added. The last holder to leave removes the marked routes. A mkdir lock
// keeps the check-then-change steps of different processes apart.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IMDS_IPV4, IMDS_IPV6 } from './imds-options.js';
import { runSync, sleepSync, tryRunSync } from './exec.js';

interface SafetyRoute {
  family: '-4' | '-6';
  address: string;
  prefix: string;
  /** Marker file name: present while the route is one a testbed added. */
  marker: string;
}

const IPV4_ROUTE: SafetyRoute = { family: '-4', address: IMDS_IPV4, prefix: `${IMDS_IPV4}/32`, marker: 'added-ipv4' };
const IPV6_ROUTE: SafetyRoute = { family: '-6', address: IMDS_IPV6, prefix: `${IMDS_IPV6}/128`, marker: 'added-ipv6' };

/** Without IPv6 in the root namespace nothing there can reach [fd00:ec2::254]: only IPv4 needs a route. */
function safetyRoutes(): SafetyRoute[] {
  try {
    if (readFileSync('/proc/sys/net/ipv6/conf/all/disable_ipv6', 'utf8').trim() === '0') return [IPV4_ROUTE, IPV6_ROUTE];
  } catch {
    // kernel without IPv6
  }
  return [IPV4_ROUTE];
}

const STATE_DIR = '/run/imds-analyzer-testbed';
const HOLDERS_DIR = join(STATE_DIR, 'holders');
const LOCK_DIR = join(STATE_DIR, 'lock');
/** A lock older than this was left by a process that died while holding it. */
const STALE_LOCK_MS = 10_000;

function withLock<T>(action: () => T): T {
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
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

/** Holder files of live processes; files of dead ones are removed. */
function liveHolders(): string[] {
  mkdirSync(HOLDERS_DIR, { recursive: true, mode: 0o700 });
  return readdirSync(HOLDERS_DIR).filter((holder) => {
    const pid = holder.split('-')[0];
    if (pid && existsSync(`/proc/${pid}`)) return true;
    rmSync(join(HOLDERS_DIR, holder), { force: true });
    return false;
  });
}

/** Testbeds alive on this host, in any process (`<pid>-<name>`). */
export function liveTestbedHolders(): string[] {
  return withLock(liveHolders);
}

/** Route types installed for exactly this prefix in the main table of the root namespace. */
function routeTypes(route: SafetyRoute): string[] {
  const json = runSync(['ip', '-j', route.family, 'route', 'show', 'table', 'main', 'exact', route.prefix]);
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
 * Registers `holder` (a unique name) and adds the unreachable routes that are missing.
 * Returns the release function: the last holder on the host removes the routes testbeds added.
 */
export function holdUnreachableRoutes(holder: string): () => void {
  const holderFile = join(HOLDERS_DIR, `${process.pid}-${holder}`);
  withLock(() => {
    liveHolders();
    addMissingRoutes();
    writeFileSync(holderFile, '');
  });
  let released = false;
  return () => {
    if (released) return;
    released = true;
    withLock(() => {
      rmSync(holderFile, { force: true });
      if (liveHolders().length === 0) removeAddedRoutes();
    });
  };
}

/**
 * Throws unless, from the root namespace, both IMDS addresses hit an `unreachable` route:
 * the route is installed and `ip route get` answers that there is no route.
 */
export function assertNoImdsRouteFromRoot(): void {
  for (const route of safetyRoutes()) {
    if (!routeTypes(route).includes('unreachable')) {
      throw new Error(`no unreachable route for ${route.prefix} in the root namespace`);
    }
    const lookup = tryRunSync(['ip', route.family, 'route', 'get', route.address]);
    if (lookup !== null) {
      throw new Error(`root namespace has a route to ${route.address}: ${lookup.trim()}`);
    }
  }
}
