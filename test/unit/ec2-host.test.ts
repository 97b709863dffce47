// EC2 detection from DMI / hypervisor data only (never IMDS), over faked sysfs trees.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Ec2Evidence, ec2HostSignal, ec2Signal } from '../rig/ec2-host.js';

const none: Ec2Evidence = {
  sysVendor: null,
  biosVendor: null,
  boardAssetTag: null,
  productUuid: null,
  hypervisorUuid: null,
};
const roots = mkdtempSync(join(tmpdir(), 'imds-fake-sys-'));
afterAll(() => rmSync(roots, { recursive: true, force: true }));

function fakeSys(name: string, files: Record<string, string>): string {
  const root = join(roots, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('ec2Signal', () => {
  it('recognises Nitro instances by vendor or instance-id asset tag', () => {
    expect(ec2Signal({ ...none, sysVendor: 'Amazon EC2' })).toMatch(/sys_vendor/);
    expect(ec2Signal({ ...none, biosVendor: 'Amazon EC2' })).toMatch(/bios_vendor/);
    expect(ec2Signal({ ...none, boardAssetTag: 'i-0123456789abcdef0' })).toMatch(/instance id/);
    expect(ec2Signal({ ...none, boardAssetTag: 'i-01234567' })).toMatch(/instance id/);
  });

  it('recognises Xen instances by hypervisor or product UUID, also little-endian', () => {
    expect(ec2Signal({ ...none, hypervisorUuid: 'ec2e1916-9099-7caf-fd21-012345abcdef' })).toMatch(/hypervisor/);
    expect(ec2Signal({ ...none, productUuid: 'EC2E1916-9099-7CAF-FD21-012345ABCDEF' })).toMatch(/product_uuid/);
    expect(ec2Signal({ ...none, productUuid: '45E12AEC-DCD1-B213-94ED-012345ABCDEF' })).toMatch(/product_uuid/);
  });

  it('says no for other machines, other Xen clouds, and look-alikes', () => {
    expect(ec2Signal(none)).toBeNull();
    expect(
      ec2Signal({
        ...none,
        sysVendor: 'QEMU',
        biosVendor: 'SeaBIOS',
        productUuid: '4c4c4544-0031-3310-8052-b4c04f4d3232',
      }),
    ).toBeNull();
    expect(
      ec2Signal({ ...none, biosVendor: 'Xen', hypervisorUuid: '9a3f2c1e-0000-0000-0000-000000000000' }),
    ).toBeNull();
    expect(ec2Signal({ ...none, sysVendor: 'Amazon EC2 compatible', boardAssetTag: 'i-xyz' })).toBeNull();
    expect(ec2Signal({ ...none, productUuid: 'not-a-uuid-ec2' })).toBeNull();
  });
});

describe('ec2HostSignal over a sysfs root', () => {
  it('reads DMI and hypervisor files under the given root, trimmed', () => {
    const nitro = fakeSys('nitro', { 'devices/virtual/dmi/id/sys_vendor': 'Amazon EC2\n' });
    expect(ec2HostSignal(nitro)).toMatch(/sys_vendor/);
    const xen = fakeSys('xen', {
      'hypervisor/uuid': 'ec2a8c5e-1111-2222-3333-444455556666\n',
      'devices/virtual/dmi/id/bios_vendor': 'Xen\n',
    });
    expect(ec2HostSignal(xen)).toMatch(/hypervisor/);
    expect(ec2HostSignal(fakeSys('empty', {}))).toBeNull();
  });
});
