// The console mode's readable line and the JSON line's msg: exact format, every control
// character made visible, bounded length.
import { describe, expect, it } from 'vitest';
import { formatConsoleLine, requestMessage, visible } from '../../src/logging/index.js';
import { requestLine } from '../helpers/request-line.js';

const at = new Date(2026, 10, 28, 15, 4, 5);

const line = requestLine();

// Any raw C0/C1 control, DEL, bidi override or line separator in terminal output.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for raw control characters
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('formatConsoleLine', () => {
  it('prints the documented fields in order', () => {
    expect(formatConsoleLine(line, at)).toBe(
      '15:04:05 WARN IMDSv1 GET /latest/meta-data/iam/security-credentials/ pid=123 comm=curl ' +
        'argv="curl -s http://169.254.169.254/latest/meta-data/iam/security-credentials/" unit=cloud-init.service status=200',
    );
  });

  it("v2, unknown and other clouds' paths are INFO; non-AWS paths and containers and SDKs are named", () => {
    const v2 = {
      ...line,
      imds_version: 'v2' as const,
      container: { runtime: 'docker' as const, id: '0123456789abcdef0123', pid: 7 },
      sdk: { name: 'botocore', version: '1.29.0', min_imdsv2_version: '1.13.25', supports_imdsv2: true },
    };
    expect(formatConsoleLine(v2, at)).toMatch(
      /^15:04:05 INFO IMDSv2 GET .* container=docker:0123456789ab sdk=botocore\/1\.29\.0 status=200$/,
    );
    expect(formatConsoleLine({ ...line, imds_version: 'unknown' as const }, at)).toContain(
      ' INFO IMDS (version unknown) GET ',
    );
    expect(formatConsoleLine({ ...line, aws_api: false }, at)).toContain(' INFO non-AWS GET ');
  });

  it('makes newlines, ANSI escapes, bidi overrides, DEL and C1 controls visible in every field', () => {
    const hostile = {
      ...line,
      request: { ...line.request, method: 'G\x1bET', path: '/latest/\x1b[2J\x1b]0;owned\x07' },
      process: {
        ...line.process,
        pid: 9,
        comm: 'a\tb\u009b',
        argv: ['sh', '-c', 'echo "hi"\nrm -rf /\r\u202eexe.txt\u2028\x7f\x00'],
      },
      unit: 'x\x1b[31m.service',
    };
    const out = formatConsoleLine(hostile, at);
    expect(out).not.toMatch(RAW_CONTROL);
    expect(out).toContain('GET'.replace('G', 'G\\x1b'));
    expect(out).toContain('/latest/\\x1b[2J\\x1b]0;owned\\x07');
    expect(out).toContain('comm=a\\tb\\x9b');
    expect(out).toContain('argv="sh -c echo \\"hi\\"\\nrm -rf /\\r\\u202eexe.txt\\u2028\\x7f\\x00"');
    expect(out).toContain('unit=x\\x1b[31m.service');
  });

  it('bounds a 1 MiB argv and a long path', () => {
    const argv = ['x'.repeat(1 << 20), ...Array.from({ length: 5000 }, () => 'y'.repeat(200))];
    const huge = {
      ...line,
      request: { ...line.request, path: `/${'p'.repeat(100_000)}` },
      process: { ...line.process, argv },
    };
    const out = formatConsoleLine(huge, at);
    expect(out.length).toBeLessThanOrEqual(1200);
    expect(out).toContain('…(+4995 more)');
  });

  it('cuts each argument on its own: a long script does not hide the arguments after it', () => {
    const script = `import os\n${'x = 1\n'.repeat(200)}`;
    const out = formatConsoleLine(
      { ...line, process: { ...line.process, pid: 1, argv: ['python3', '-c', script, 'go', '\x1b[31mred'] } },
      at,
    );
    expect(out).toMatch(/argv="python3 -c import os\\nx = 1\\n.*… go \\x1b\[31mred"/);
  });
});

describe('requestMessage', () => {
  it('is short and human', () => {
    expect(requestMessage(line)).toBe('IMDSv1 GET /latest/meta-data/iam/security-credentials/ by curl (pid 123)');
    const put = {
      ...line,
      imds_version: 'v2' as const,
      request: { ...line.request, method: 'PUT', path: '/latest/api/token' },
    };
    expect(requestMessage({ ...put, process: { ...line.process, comm: null, pid: null } })).toBe(
      'IMDSv2 PUT /latest/api/token by unknown process',
    );
  });

  it('escapes control characters (a reader printing msg raw stays safe)', () => {
    const msg = requestMessage({ ...line, process: { ...line.process, pid: 1, comm: '\x1b[31mred' } });
    expect(msg).not.toMatch(RAW_CONTROL);
    expect(msg).toContain('by \\x1b[31mred (pid 1)');
  });
});

describe('visible', () => {
  it('escapes backslash and quote so the output is unambiguous', () => {
    expect(visible('a\\x1b"b', 100)).toBe('a\\\\x1b\\"b');
  });

  it('keeps ordinary unicode as is', () => {
    expect(visible('naïve – 日本語 😀', 100)).toBe('naïve – 日本語 😀');
  });

  it('cuts to the bound without splitting an escape or a surrogate pair', () => {
    expect(visible('abcdef', 4)).toBe('abc…');
    const cut = visible('ab\x1bcdef', 5);
    expect(cut).toBe('ab…');
    expect(visible('a😀b', 3)).toBe('a…');
    for (let max = 2; max < 30; max++) {
      const out = visible('x\x1b\n😀\u202e'.repeat(5), max);
      expect(out.length).toBeLessThanOrEqual(max);
      expect(out).not.toMatch(RAW_CONTROL);
      expect(out).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    }
  });
});
