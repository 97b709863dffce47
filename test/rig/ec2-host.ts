// Is this machine an EC2 instance? Decided from DMI and hypervisor data in sysfs, never by
// asking IMDS. On an instance the testbed must not touch the host's own routes: the SSM
// agent, credential refresh and cloud-init need 169.254.169.254. Signals, after
// AWS's "Detect whether a host is an EC2 instance":
// - Nitro: DMI sys_vendor / bios_vendor "Amazon EC2", board_asset_tag the instance id;
// - Xen: /sys/hypervisor/uuid, or the DMI product_uuid, starts with "ec2" (the product UUID
//   may be shown little-endian: its first four bytes reversed).
// `IMDS_TESTBED_SYSFS_ROOT` points the check at another tree (tests fake an instance with it).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Ec2Evidence {
  sysVendor: string | null;
  biosVendor: string | null;
  boardAssetTag: string | null;
  productUuid: string | null;
  hypervisorUuid: string | null;
}

const INSTANCE_ID = /^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;

function startsWithEc2(uuid: string): boolean {
  const hex = uuid.toLowerCase();
  if (hex.startsWith('ec2')) return true;
  // Little-endian presentation: "45e12aec-..." is ec2ae145 with its bytes reversed.
  const firstGroup = hex.slice(0, 8);
  const reversed = firstGroup.match(/../g)?.reverse().join('') ?? '';
  return /^[0-9a-f]{8}$/.test(firstGroup) && reversed.startsWith('ec2');
}

/** Which piece of evidence says EC2, or null when none does. */
export function ec2Signal(e: Ec2Evidence): string | null {
  if (e.sysVendor === 'Amazon EC2') return 'DMI sys_vendor is "Amazon EC2"';
  if (e.biosVendor === 'Amazon EC2') return 'DMI bios_vendor is "Amazon EC2"';
  if (e.boardAssetTag !== null && INSTANCE_ID.test(e.boardAssetTag))
    return `DMI board_asset_tag is an instance id (${e.boardAssetTag})`;
  if (e.hypervisorUuid !== null && startsWithEc2(e.hypervisorUuid)) return '/sys/hypervisor/uuid starts with ec2';
  if (e.productUuid !== null && startsWithEc2(e.productUuid)) return 'DMI product_uuid starts with ec2';
  return null;
}

function readTrimmed(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

export function readEc2Evidence(sysRoot = process.env.IMDS_TESTBED_SYSFS_ROOT ?? '/sys'): Ec2Evidence {
  const dmi = (name: string) => readTrimmed(join(sysRoot, 'devices/virtual/dmi/id', name));
  return {
    sysVendor: dmi('sys_vendor'),
    biosVendor: dmi('bios_vendor'),
    boardAssetTag: dmi('board_asset_tag'),
    productUuid: dmi('product_uuid'),
    hypervisorUuid: readTrimmed(join(sysRoot, 'hypervisor/uuid')),
  };
}

/** Why this host looks like an EC2 instance, or null. */
export function ec2HostSignal(sysRoot?: string): string | null {
  return ec2Signal(readEc2Evidence(sysRoot));
}
