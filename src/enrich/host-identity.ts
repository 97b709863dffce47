// Reads the host's identity once at start: the instance id from the Nitro DMI board asset tag
// (Xen's /sys/hypervisor/uuid is only a UUID, not an instance id, so Xen reads as null) and the
// boot id. Roots are parameters so that tests can fake sysfs and procfs.
import { type HostIdentity, bootIdFrom, instanceIdFromAssetTag } from '../logic/host-identity.js';
import { readHead } from './proc.js';

/** More than any instance id or boot id: a longer file is not one. */
const MAX_ID_BYTES = 64;

function readSmallText(path: string): string | null {
  const head = readHead(path, MAX_ID_BYTES);
  if (head === null || head.more) return null;
  return Buffer.from(head.bytes).toString('latin1');
}

export function readHostIdentity(roots: { sys?: string; proc?: string } = {}): HostIdentity {
  const sys = roots.sys ?? '/sys';
  const proc = roots.proc ?? '/proc';
  return {
    instance_id: instanceIdFromAssetTag(readSmallText(`${sys}/devices/virtual/dmi/id/board_asset_tag`)),
    boot_id: bootIdFrom(readSmallText(`${proc}/sys/kernel/random/boot_id`)),
  };
}
