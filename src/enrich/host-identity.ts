// Reads the host's identity once at start: the instance id from the Nitro DMI board asset tag
// (Xen's /sys/hypervisor/uuid is only a UUID, not an instance id, so Xen reads as null), the
// region from cloud-init's instance data and the boot id. Roots are parameters so that tests
// can fake sysfs, procfs and /run.
import { lstatSync, type Stats } from 'node:fs';
import {
  type HostIdentity,
  bootIdFrom,
  instanceIdFromAssetTag,
  regionFromInstanceData,
} from '../logic/host-identity.js';
import { readHead } from './proc.js';

/** More than any instance id or boot id: a longer file is not one. */
const MAX_ID_BYTES = 64;
/** cloud-init's instance data is a few kilobytes to a few tens; a larger file is not read. */
const MAX_INSTANCE_DATA_BYTES = 1 << 20;

function readSmallText(path: string): string | null {
  const head = readHead(path, MAX_ID_BYTES);
  if (head === null || head.more) return null;
  return Buffer.from(head.bytes).toString('latin1');
}

/** Only root may have written it: owned by root, writable by no one else (a group write only by root's group). */
function writtenByRootOnly(stats: Stats): boolean {
  return stats.uid === 0 && (stats.mode & 0o002) === 0 && ((stats.mode & 0o020) === 0 || stats.gid === 0);
}

/**
 * cloud-init's /run/cloud-init/instance-data.json (it wrote it from IMDS at boot; reading it
 * makes no IMDS request), when root alone can have written it and its directory: a local
 * user's file there would otherwise choose the region the cross-check asks.
 */
function readInstanceData(run: string): string | null {
  const dir = `${run}/cloud-init`;
  try {
    const dirStats = lstatSync(dir);
    if (!dirStats.isDirectory() || !writtenByRootOnly(dirStats)) return null;
  } catch {
    return null;
  }
  const head = readHead(
    `${dir}/instance-data.json`,
    MAX_INSTANCE_DATA_BYTES,
    (stats) => stats.isFile() && writtenByRootOnly(stats),
  );
  if (head === null || head.more) return null;
  return Buffer.from(head.bytes).toString('utf8');
}

/** The region cloud-init recorded, or null when it has not (it writes /run/cloud-init after the daemon starts at boot). */
export function readRegion(run = '/run'): string | null {
  return regionFromInstanceData(readInstanceData(run));
}

export function readHostIdentity(roots: { sys?: string; proc?: string; run?: string } = {}): HostIdentity {
  const sys = roots.sys ?? '/sys';
  const proc = roots.proc ?? '/proc';
  return {
    instance_id: instanceIdFromAssetTag(readSmallText(`${sys}/devices/virtual/dmi/id/board_asset_tag`)),
    region: readRegion(roots.run),
    boot_id: bootIdFrom(readSmallText(`${proc}/sys/kernel/random/boot_id`)),
  };
}
