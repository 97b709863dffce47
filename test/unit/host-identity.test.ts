// The instance id and boot id, read from faked sysfs and procfs roots: Nitro names the instance
// in the DMI board asset tag; Xen exposes only a UUID (never turned into a guess); off EC2 and
// malformed tags read as null.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readHostIdentity } from '../../src/enrich/index.js';
import { bootIdFrom, instanceIdFromAssetTag } from '../../src/logic/host-identity.js';

const root = mkdtempSync(join(tmpdir(), 'fake-sysfs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const BOOT_ID = '0f3c2b1a-9e8d-4c7b-a6f5-e4d3c2b1a098';
let hosts = 0;

/** A host root with sys/ and proc/ holding only the given files. */
function fakeHost(files: Record<string, string | Buffer>): { sys: string; proc: string } {
  const dir = join(root, `host-${hosts++}`);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  mkdirSync(join(dir, 'sys'), { recursive: true });
  mkdirSync(join(dir, 'proc'), { recursive: true });
  return { sys: join(dir, 'sys'), proc: join(dir, 'proc') };
}

const ASSET_TAG = 'sys/devices/virtual/dmi/id/board_asset_tag';
const BOOT_ID_FILE = 'proc/sys/kernel/random/boot_id';

describe('readHostIdentity', () => {
  it('Nitro: the instance id from the DMI board asset tag, and the boot id', () => {
    const host = fakeHost({
      [ASSET_TAG]: 'i-0123456789abcdef0\n',
      'sys/devices/virtual/dmi/id/sys_vendor': 'Amazon EC2\n',
      [BOOT_ID_FILE]: `${BOOT_ID}\n`,
    });
    expect(readHostIdentity(host)).toEqual({ instance_id: 'i-0123456789abcdef0', boot_id: BOOT_ID });
  });

  it('Nitro with an old 8-digit instance id', () => {
    expect(readHostIdentity(fakeHost({ [ASSET_TAG]: 'i-0a1b2c3d\n' })).instance_id).toBe('i-0a1b2c3d');
  });

  it('Xen: /sys/hypervisor/uuid is a UUID, not an instance id: null, never a guess', () => {
    const host = fakeHost({
      'sys/hypervisor/uuid': 'ec2e1916-9099-7caf-fd21-012345abcdef\n',
      'sys/hypervisor/type': 'xen\n',
      'sys/devices/virtual/dmi/id/product_version': '4.11.amazon\n',
      [BOOT_ID_FILE]: `${BOOT_ID}\n`,
    });
    expect(readHostIdentity(host)).toEqual({ instance_id: null, boot_id: BOOT_ID });
  });

  it('off EC2 (no asset tag, no boot id file): null and "unknown"', () => {
    expect(readHostIdentity(fakeHost({}))).toEqual({ instance_id: null, boot_id: 'unknown' });
  });

  it("off EC2 with a vendor's free-text asset tag: null", () => {
    expect(readHostIdentity(fakeHost({ [ASSET_TAG]: 'Default string\n' })).instance_id).toBeNull();
    expect(readHostIdentity(fakeHost({ [ASSET_TAG]: '\n' })).instance_id).toBeNull();
  });

  it('malformed tags and boot ids: null and "unknown", no crash', () => {
    const malformed: Array<string | Buffer> = [
      'i-0123456789ABCDEF0', // upper case is not how EC2 writes ids
      'i-0123456789abcdef', // 16 digits
      'i-0123456789abcdef01',
      'i-0123456789abcdeg0',
      'x-0123456789abcdef0',
      'i-0123456789abcdef0 i-0123456789abcdef1',
      `i-0123456789abcdef0${'0'.repeat(200)}`, // longer than any id: not read whole
      Buffer.from([0x69, 0x2d, 0xff, 0xfe, 0x00, 0x0a]),
    ];
    for (const tag of malformed) {
      const host = fakeHost({ [ASSET_TAG]: tag, [BOOT_ID_FILE]: 'not-a-boot-id\n' });
      expect(readHostIdentity(host), String(tag)).toEqual({ instance_id: null, boot_id: 'unknown' });
    }
  });

  it('an asset tag that is a directory reads as null', () => {
    const host = fakeHost({});
    mkdirSync(join(host.sys, 'devices/virtual/dmi/id/board_asset_tag'), { recursive: true });
    expect(readHostIdentity(host).instance_id).toBeNull();
  });

  it('this host: a boot id, and an instance id only in the instance id shape', () => {
    const identity = readHostIdentity();
    expect(identity.boot_id).toMatch(/^[0-9a-f-]{36}$/);
    if (identity.instance_id !== null) expect(identity.instance_id).toMatch(/^i-[0-9a-f]{8,17}$/);
  });
});

describe('pure parsers', () => {
  it('trim surrounding whitespace only', () => {
    expect(instanceIdFromAssetTag('  i-0123456789abcdef0 \n')).toBe('i-0123456789abcdef0');
    expect(instanceIdFromAssetTag(null)).toBeNull();
    expect(bootIdFrom(` ${BOOT_ID}\n`)).toBe(BOOT_ID);
    expect(bootIdFrom(null)).toBe('unknown');
  });
});
