// The instance id, region and boot id, read from faked sysfs, procfs and /run roots: Nitro
// names the instance in the DMI board asset tag; Xen exposes only a UUID (never turned into a
// guess); off EC2 and malformed tags read as null. The region is cloud-init's instance data,
// taken only from a file root alone can have written.
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readHostIdentity } from '../../src/enrich/index.js';
import { bootIdFrom, instanceIdFromAssetTag, regionFromInstanceData } from '../../src/logic/host-identity.js';
import { REPO_ROOT } from '../rig/compiled.js';

const root = mkdtempSync(join(tmpdir(), 'fake-sysfs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const BOOT_ID = '0f3c2b1a-9e8d-4c7b-a6f5-e4d3c2b1a098';
let hosts = 0;

/** A host root with sys/, proc/ and run/ holding only the given files. */
function fakeHost(files: Record<string, string | Buffer>): { sys: string; proc: string; run: string } {
  const dir = join(root, `host-${hosts++}`);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  for (const sub of ['sys', 'proc', 'run']) mkdirSync(join(dir, sub), { recursive: true });
  return { sys: join(dir, 'sys'), proc: join(dir, 'proc'), run: join(dir, 'run') };
}

const fixture = (name: string) => readFileSync(join(REPO_ROOT, 'test/fixtures/cloud-init', name), 'utf8');
const INSTANCE_DATA = 'run/cloud-init/instance-data.json';

const ASSET_TAG = 'sys/devices/virtual/dmi/id/board_asset_tag';
const BOOT_ID_FILE = 'proc/sys/kernel/random/boot_id';

describe('readHostIdentity', () => {
  it('Nitro: the instance id from the DMI board asset tag, and the boot id', () => {
    const host = fakeHost({
      [ASSET_TAG]: 'i-0123456789abcdef0\n',
      'sys/devices/virtual/dmi/id/sys_vendor': 'Amazon EC2\n',
      [BOOT_ID_FILE]: `${BOOT_ID}\n`,
      [INSTANCE_DATA]: fixture('instance-data-ec2.json'),
    });
    expect(readHostIdentity(host)).toEqual({
      instance_id: 'i-0123456789abcdef0',
      region: 'eu-central-1',
      boot_id: BOOT_ID,
    });
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
    expect(readHostIdentity(host)).toEqual({ instance_id: null, region: null, boot_id: BOOT_ID });
  });

  it('off EC2 (no asset tag, no boot id file): null and "unknown"', () => {
    expect(readHostIdentity(fakeHost({}))).toEqual({ instance_id: null, region: null, boot_id: 'unknown' });
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
      expect(readHostIdentity(host), String(tag)).toEqual({ instance_id: null, region: null, boot_id: 'unknown' });
    }
  });

  it('an asset tag that is a directory reads as null', () => {
    const host = fakeHost({});
    mkdirSync(join(host.sys, 'devices/virtual/dmi/id/board_asset_tag'), { recursive: true });
    expect(readHostIdentity(host).instance_id).toBeNull();
  });

  it('this host: a boot id, and an instance id and a region only in their shapes', () => {
    const identity = readHostIdentity();
    expect(identity.boot_id).toMatch(/^[0-9a-f-]{36}$/);
    if (identity.instance_id !== null) expect(identity.instance_id).toMatch(/^i-[0-9a-f]{8,17}$/);
    if (identity.region !== null) expect(identity.region).toMatch(/^[a-z]{2}(-[a-z]+)+-\d+$/);
  });

  it('the region from a NoCloud VM, or a file that is not JSON, is null', () => {
    expect(readHostIdentity(fakeHost({ [INSTANCE_DATA]: fixture('instance-data-nocloud.json') })).region).toBeNull();
    expect(readHostIdentity(fakeHost({ [INSTANCE_DATA]: '{"v1": {"region": "eu-cen' })).region).toBeNull();
  });

  describe.skipIf(process.getuid?.() !== 0)('instance data only root can have written', () => {
    const ec2 = () => fakeHost({ [INSTANCE_DATA]: fixture('instance-data-ec2.json') });
    const dataOf = (host: { run: string }) => join(host.run, 'cloud-init/instance-data.json');

    it('owned by root, 0644 in a 0755 directory (as cloud-init writes it): read', () => {
      const host = ec2();
      chmodSync(dataOf(host), 0o644);
      chmodSync(join(host.run, 'cloud-init'), 0o755);
      expect(readHostIdentity(host).region).toBe('eu-central-1');
    });

    it("a user's file, or one others or a user's group may write: ignored", () => {
      const owned = ec2();
      chownSync(dataOf(owned), 65534, 65534);
      expect(readHostIdentity(owned).region).toBeNull();
      const writable = ec2();
      chmodSync(dataOf(writable), 0o646);
      expect(readHostIdentity(writable).region).toBeNull();
      const group = ec2();
      chownSync(dataOf(group), 0, 65534);
      chmodSync(dataOf(group), 0o664);
      expect(readHostIdentity(group).region).toBeNull();
      // Root's own group may write it: only root is in it on these hosts' terms.
      const rootGroup = ec2();
      chmodSync(dataOf(rootGroup), 0o664);
      expect(readHostIdentity(rootGroup).region).toBe('eu-central-1');
    });

    it('a directory others may write (the file could be swapped) or a user owns: ignored', () => {
      const open = ec2();
      chmodSync(join(open.run, 'cloud-init'), 0o1777);
      expect(readHostIdentity(open).region).toBeNull();
      const users = ec2();
      chownSync(join(users.run, 'cloud-init'), 65534, 65534);
      expect(readHostIdentity(users).region).toBeNull();
    });

    it('a symbolic link to a root-owned file elsewhere, a directory, a file over 1 MiB: ignored', () => {
      const elsewhere = ec2();
      const linked = fakeHost({});
      mkdirSync(join(linked.run, 'cloud-init'));
      symlinkSync(dataOf(elsewhere), dataOf(linked));
      expect(readHostIdentity(linked).region).toBeNull();
      const dir = fakeHost({});
      mkdirSync(dataOf(dir), { recursive: true });
      expect(readHostIdentity(dir).region).toBeNull();
      const huge = fixture('instance-data-ec2.json').replace(
        '"merged_cfg": "redacted for non-root user"',
        `"merged_cfg": "${'x'.repeat(1 << 20)}"`,
      );
      expect(readHostIdentity(fakeHost({ [INSTANCE_DATA]: huge })).region).toBeNull();
    });
  });
});

describe('pure parsers', () => {
  it('trim surrounding whitespace only', () => {
    expect(instanceIdFromAssetTag('  i-0123456789abcdef0 \n')).toBe('i-0123456789abcdef0');
    expect(instanceIdFromAssetTag(null)).toBeNull();
    expect(bootIdFrom(` ${BOOT_ID}\n`)).toBe(BOOT_ID);
    expect(bootIdFrom(null)).toBe('unknown');
  });

  it("cloud-init's v1.region: AWS's region names only, with either key style", () => {
    expect(regionFromInstanceData(fixture('instance-data-ec2.json'))).toBe('eu-central-1');
    expect(regionFromInstanceData(fixture('instance-data-nocloud.json'))).toBeNull();
    const v1 = (fields: Record<string, unknown>) => JSON.stringify({ v1: fields });
    // Older releases wrote only the dashed keys.
    expect(regionFromInstanceData(v1({ 'cloud-name': 'aws', region: 'us-gov-west-1' }))).toBe('us-gov-west-1');
    expect(regionFromInstanceData(v1({ region: 'ap-southeast-4' }))).toBe('ap-southeast-4');
    expect(regionFromInstanceData(v1({ cloud_name: 'aws', region: 'us-isob-east-1' }))).toBe('us-isob-east-1');
    // Another cloud's region, or anything not shaped like an AWS region name.
    expect(regionFromInstanceData(v1({ cloud_name: 'gce', region: 'us-central1' }))).toBeNull();
    expect(regionFromInstanceData(v1({ cloud_name: 'azure', region: 'eu-west-1' }))).toBeNull();
    for (const region of [
      'US-EAST-1',
      'us-east-1 ',
      'us-east-1a',
      'eu-west-1\nx',
      '',
      'x'.repeat(64),
      42,
      null,
      ['us-east-1'],
    ])
      expect(regionFromInstanceData(v1({ cloud_name: 'aws', region })), String(region)).toBeNull();
    for (const text of [null, '', 'not json', '[]', '{"v1": []}', '{"v1": "us-east-1"}', '{"region": "us-east-1"}'])
      expect(regionFromInstanceData(text), String(text)).toBeNull();
  });
});
