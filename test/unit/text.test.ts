// decodeBytes, splitArgv and printable on hostile input.
import { describe, expect, it } from 'vitest';
import { decodeBytes, printable, splitArgv } from '../../src/logic/text.js';

const bytes = (...b: number[]) => Uint8Array.from(b);

describe('decodeBytes', () => {
  it('every invalid byte is one \\xNN escape: overlong forms, surrogates, lone continuation bytes, a cut sequence', () => {
    expect(decodeBytes(bytes(0xc0, 0xaf), 100).text).toBe('\\xc0\\xaf');
    expect(decodeBytes(bytes(0xed, 0xa0, 0x80), 100).text).toBe('\\xed\\xa0\\x80');
    expect(decodeBytes(bytes(0x80, 0x41), 100).text).toBe('\\x80A');
    expect(decodeBytes(bytes(0x41, 0xe2, 0x82), 100).text).toBe('A\\xe2\\x82');
    expect(decodeBytes(bytes(0xf0, 0x9f, 0x98, 0x80, 0xff), 100).text).toBe('\u{1f600}\\xff');
  });

  it('keeps NUL and controls as characters (JSON escapes them) and bounds the length', () => {
    expect(decodeBytes(bytes(0x61, 0, 0x1b), 100)).toEqual({ text: 'a\u0000\u001b', truncated: false });
    // The bound never cuts an escape or a surrogate pair in half.
    expect(decodeBytes(bytes(0xff, 0xff, 0xff), 6)).toEqual({ text: '\\xff', truncated: true });
    expect(decodeBytes(bytes(0x41, 0xf0, 0x9f, 0x98, 0x80), 2)).toEqual({ text: 'A', truncated: true });
    expect(decodeBytes(bytes(0x41, 0xf0, 0x9f, 0x98, 0x80, 0xff), 2)).toEqual({ text: 'A', truncated: true });
    expect(decodeBytes(new Uint8Array(0), 0)).toEqual({ text: '', truncated: false });
  });
});

describe('splitArgv', () => {
  it('drops only the trailing empty element; empty arguments inside are kept', () => {
    expect(splitArgv(new TextEncoder().encode('sh\0-c\0\0x\0'), 10, 10)).toEqual({
      argv: ['sh', '-c', '', 'x'],
      truncated: false,
    });
    expect(splitArgv(new Uint8Array(0), 10, 10)).toEqual({ argv: [], truncated: false });
  });
  it('marks an argument cut to its bound, and escapes invalid bytes', () => {
    expect(splitArgv(bytes(0x61, 0x62, 0x63, 0, 0xff, 0), 10, 4)).toEqual({ argv: ['abc', '\\xff'], truncated: false });
    expect(splitArgv(bytes(0x61, 0x62, 0x63, 0, 0xff, 0), 10, 2)).toEqual({ argv: ['ab', ''], truncated: true });
  });
});

describe('printable', () => {
  it('escapes C0, DEL and C1 controls, leaves other text alone', () => {
    expect(printable('a\tb\rc\u007f\u0085\u009b31m')).toBe('a\\tb\\rc\\x7f\\x85\\x9b31m');
    expect(printable('héllo \u{1f600} \\x41')).toBe('héllo \u{1f600} \\x41');
  });
});
