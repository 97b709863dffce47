// The cut-down kernel BTF (src/logic/core-btf.ts): libbpf's CO-RE field matching on made-up
// local and kernel types. That libbpf relocates a real object against the real kernel's
// cut-down BTF exactly as against the whole (same program tags) is test/e2e/core-btf.test.ts.
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openTrusted } from '../../src/capture/core-btf-cache.js';
import { coreBtfFileName, gnuBuildId } from '../../src/logic/core-btf-key.js';
import { type CoreRelocation, minimalCoreBtf, parseBtf } from '../../src/logic/core-btf.js';
import { buildBtf, composite, describeBtf } from '../helpers/btf-builder.js';

const BYTE_OFFSET = 0;
const FIELD_EXISTS = 2;
const TYPE_EXISTS = 8;

// The object's view (as in bpf/kernel_types.h): task with pid and parent, and an old flavour.
const local = buildBtf([
  { kind: 'int', name: 'int', size: 4 }, // 1
  { kind: 'ptr', type: 3 }, // 2
  composite('struct', 'task', 16, ['pid:1@0', 'parent:2@64']), // 3
  composite('struct', 'task___old', 8, ['start:1@0', 'state:1@32']), // 4
  composite('struct', 'mm', 8, ['arg_start:1@0']), // 5
]);

// The kernel's: a first `task` without pid (another subsystem's), the real one with pid
// inside an anonymous union, and noise; `mm` keeps arg_start in an anonymous struct.
const kernel = buildBtf([
  { kind: 'int', name: 'int', size: 4 }, // 1
  composite('struct', 'task', 4, ['other:1@0']), // 2
  composite('union', '', 8, ['pid:1@0']), // 3
  { kind: 'ptr', type: 5 }, // 4
  composite('struct', 'task', 64, ['state:1@0', ':3@128', 'parent:4@256', 'comm:7@320']), // 5
  { kind: 'typedef', name: 'u8', type: 1 }, // 6
  { kind: 'array', type: 6, index: 1, elements: 16 }, // 7
  composite('struct', '', 16, ['arg_start:1@64']), // 8
  composite('struct', 'mm', 32, [':8@0']), // 9
]);

const access = (typeId: number, path: string, kind = BYTE_OFFSET): CoreRelocation => ({ typeId, access: path, kind });

describe('minimalCoreBtf', () => {
  it('keeps the matching candidate with only the members reached, through anonymous unions and structs', () => {
    const out = minimalCoreBtf(local, [access(3, '0:0'), access(3, '0:1'), access(5, '0:0')], parseBtf(kernel));
    expect(describeBtf(out)).toEqual([
      [1, 'int', 4, []],
      [5, '', 8, ['pid:1@0']],
      [2, '', 4, []], // parent: a pointer to task, which is kept
      [4, 'task', 64, [':2@128', 'parent:3@256']],
      [4, '', 16, ['arg_start:1@64']],
      [4, 'mm', 32, [':5@0']],
    ]);
  });

  it('a pointer to a type nothing reaches becomes a pointer to void', () => {
    const kernelWithOtherParent = buildBtf([
      { kind: 'int', name: 'int', size: 4 },
      { kind: 'struct', name: 'files', size: 64, members: [{ name: 'count', type: 1, bitOffset: 0 }] },
      { kind: 'ptr', type: 2 },
      { kind: 'struct', name: 'task', size: 16, members: [{ name: 'parent', type: 3, bitOffset: 64 }] },
    ]);
    const out = minimalCoreBtf(local, [access(3, '0:1')], parseBtf(kernelWithOtherParent));
    expect(describeBtf(out)).toEqual([
      [2, '', 0, []],
      [4, 'task', 16, ['parent:1@64']],
    ]);
  });

  it('a flavour matches by its essential name; a member no candidate has keeps nothing of it', () => {
    expect(describeBtf(minimalCoreBtf(local, [access(4, '0:0', FIELD_EXISTS)], parseBtf(kernel)))).toEqual([]);
    expect(describeBtf(minimalCoreBtf(local, [access(4, '0:1', FIELD_EXISTS)], parseBtf(kernel)))).toEqual([
      [1, 'int', 4, []],
      [4, 'task', 64, ['state:1@0']],
    ]);
  });

  it('array members keep their element and index types', () => {
    const withComm = buildBtf([
      { kind: 'int', name: 'char', size: 1 },
      { kind: 'array', type: 1, index: 1, elements: 16 },
      { kind: 'struct', name: 'task', size: 80, members: [{ name: 'comm', type: 2, bitOffset: 0 }] },
    ]);
    const out = minimalCoreBtf(withComm, [access(3, '0:0:3')], parseBtf(kernel));
    expect(describeBtf(out)).toEqual([
      [1, 'int', 4, []],
      [4, 'task', 64, ['comm:4@320']],
      [8, 'u8', 1, []],
      [3, '', 0, []],
    ]);
  });

  it('a relocation kind it does not handle fails the whole cut instead of writing a partial BTF', () => {
    expect(() => minimalCoreBtf(local, [access(3, '0', TYPE_EXISTS)], parseBtf(kernel))).toThrow(/kind 8/);
  });

  it('rejects what is not BTF, or BTF cut short', () => {
    expect(() => parseBtf(new Uint8Array(40))).toThrow(/not little-endian BTF/);
    expect(() => parseBtf(kernel.subarray(0, kernel.length - 10))).toThrow(/cut short/);
  });
});

describe('the cache file name', () => {
  const note = (name: string, type: number, desc: number[]) => {
    const nameBytes = [...new TextEncoder().encode(name), 0];
    const pad = (a: number[]) => [...a, ...new Array((4 - (a.length % 4)) % 4).fill(0)];
    const header = new Uint8Array(12);
    const view = new DataView(header.buffer);
    view.setUint32(0, nameBytes.length, true);
    view.setUint32(4, desc.length, true);
    view.setUint32(8, type, true);
    return [...header, ...pad(nameBytes), ...pad(desc)];
  };

  it("is the kernel's GNU build id, found among the other notes, and the object file's identity", () => {
    const notes = new Uint8Array([...note('Xen', 6, [1, 2, 3, 4]), ...note('GNU', 3, [0xab, 0x01, 0xff])]);
    expect(gnuBuildId(notes)).toBe('ab01ff');
    expect(coreBtfFileName('ab01ff', { ino: 255n, size: 4096n, ctimeNs: 17n }, '1.6.2')).toBe(
      'ab01ff-ff-1000-11-libbpf1.6.2.btf',
    );
    expect(coreBtfFileName('ab01ff', { ino: 255n, size: 4096n, ctimeNs: 17n }, '1.1.0')).not.toBe(
      coreBtfFileName('ab01ff', { ino: 255n, size: 4096n, ctimeNs: 17n }, '1.6.2'),
    );
  });

  it('no build id: no name (the kernel BTF is used, nothing is cached)', () => {
    expect(gnuBuildId(new Uint8Array(note('Linux', 1, [0, 0, 0, 0])))).toBeNull();
    expect(gnuBuildId(new Uint8Array(0))).toBeNull();
    expect(gnuBuildId(new Uint8Array(note('GNU', 3, [1, 2, 3, 4])).subarray(0, 18))).toBeNull();
  });
});

describe.skipIf(process.getuid?.() !== 0)(
  'a cached file is opened only if it is ours, and never through a link',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'imds-trusted-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('gives libbpf /proc/self/fd/N of our own file; refuses a link, a file of another uid, one others can write', () => {
      const own = join(dir, 'own.btf');
      writeFileSync(own, 'btf', { mode: 0o600 });
      const opened = openTrusted(own);
      expect(opened?.path).toMatch(/^\/proc\/self\/fd\/\d+$/);
      expect(readFileSync(opened?.path ?? '', 'utf8')).toBe('btf');
      opened?.close();
      const link = join(dir, 'link.btf');
      symlinkSync(own, link);
      expect(openTrusted(link)).toBeNull();
      const theirs = join(dir, 'theirs.btf');
      writeFileSync(theirs, 'btf', { mode: 0o600 });
      chownSync(theirs, 65534, 65534);
      expect(openTrusted(theirs)).toBeNull();
      const open = join(dir, 'open.btf');
      writeFileSync(open, 'btf');
      chmodSync(open, 0o666);
      expect(openTrusted(open)).toBeNull();
    });
  },
);
