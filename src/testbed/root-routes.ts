// Network safety for the root namespace: while a testbed lives, both IMDS addresses
// resolve to an `unreachable` route there, so nothing run by mistake outside the test
// namespaces can reach a real IMDS. Routes already present are left alone; routes the
// testbed added are removed when the last testbed of this process is torn down.
import { IMDS_IPV4, IMDS_IPV6 } from './imds-options.js';
import { runSync, tryRunSync } from './exec.js';

interface SafetyRoute {
  family: '-4' | '-6';
  address: string;
  prefix: string;
}

const SAFETY_ROUTES: readonly SafetyRoute[] = [
  { family: '-4', address: IMDS_IPV4, prefix: `${IMDS_IPV4}/32` },
  { family: '-6', address: IMDS_IPV6, prefix: `${IMDS_IPV6}/128` },
];

let holders = 0;
const addedByUs = new Set<SafetyRoute>();

/** Route types installed for exactly this prefix in the main table of the root namespace. */
function routeTypes(route: SafetyRoute): string[] {
  const json = runSync(['ip', '-j', route.family, 'route', 'show', 'table', 'main', 'exact', route.prefix]);
  const routes = JSON.parse(json.trim() || '[]') as Array<{ type?: string }>;
  return routes.map((entry) => entry.type ?? 'unicast');
}

/** Adds the unreachable routes that are missing; returns the release function. */
export function holdUnreachableRoutes(): () => void {
  for (const route of SAFETY_ROUTES) {
    const types = routeTypes(route);
    if (types.includes('unreachable')) continue;
    if (types.length > 0) {
      throw new Error(
        `root namespace routes ${route.prefix} as ${types.join(', ')}, not unreachable: refusing to build a testbed ` +
          'that could reach a real IMDS from the root namespace',
      );
    }
    runSync(['ip', route.family, 'route', 'add', 'unreachable', route.prefix]);
    addedByUs.add(route);
  }
  holders += 1;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holders -= 1;
    if (holders > 0) return;
    for (const route of addedByUs) {
      tryRunSync(['ip', route.family, 'route', 'del', 'unreachable', route.prefix]);
      addedByUs.delete(route);
    }
  };
}

/**
 * Throws unless, from the root namespace, both IMDS addresses hit an `unreachable` route:
 * the route is installed and `ip route get` answers that there is no route.
 */
export function assertNoImdsRouteFromRoot(): void {
  for (const route of SAFETY_ROUTES) {
    if (!routeTypes(route).includes('unreachable')) {
      throw new Error(`no unreachable route for ${route.prefix} in the root namespace`);
    }
    const lookup = tryRunSync(['ip', route.family, 'route', 'get', route.address]);
    if (lookup !== null) {
      throw new Error(`root namespace has a route to ${route.address}: ${lookup.trim()}`);
    }
  }
}
