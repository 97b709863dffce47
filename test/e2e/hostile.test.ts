// Hostile processes. argv with newlines, quotes, ANSI escapes, invalid
// UTF-8 and 1 MiB in total; a comm full of control bytes; processes that connect and
// vanish. The logs stay valid JSON lines, the console shows no raw control character,
// long fields are cut and marked, and the daemon keeps going.
import { describe, expect, it } from 'vitest';
import { curlV1 } from '../rig/index.js';
import { useTestHost } from '../rig/test-host.js';

const isRoot = process.getuid?.() === 0;
const PYTHON = '/usr/bin/python3';

// Re-executes python with hostile argv bytes and comm, then makes one IMDSv1 GET.
const HOSTILE = String.raw`
import ctypes, os, sys, urllib.request
if len(sys.argv) > 1 and sys.argv[1] == 'go':
    libc = ctypes.CDLL(None)
    libc.prctl(15, b'\x1b[2J\nev\xffil\x07', 0, 0, 0)   # PR_SET_NAME
    urllib.request.urlopen('http://169.254.169.254/latest/meta-data/instance-id?t=hostile', timeout=10).read()  # runs via bed.run in the test netns
    sys.exit(0)
pad = [b'-' + b'A' * (128 * 1024 - 2)] * 8   # 8 x 128 KiB: about 1 MiB of argv
os.execv(sys.executable, [b'python3', b'-c', sys.argv[1].encode(), b'go',
    b'line1\nline2', b'"quoted" \'single\'', b'\x1b[31mred\x1b[0m', b'bad\xff\xfeutf8', b'nul-heavy\x01\x02\x03'] + pad)
`;

describe.skipIf(!isRoot)('hostile processes', () => {
  const host = useTestHost({ prefix: 'host' }, { args: ['--console'] });

  it('odd argv and comm bytes give a valid, bounded, marked line and a clean console', async () => {
    const result = await host.bed.run([PYTHON, '-c', HOSTILE, HOSTILE]);
    expect({ code: result.code, stderr: result.stderr }).toMatchObject({ code: 0 });
    const lines = await host.daemon.waitForRequests((all) => all.some((l) => l.request.path.endsWith('?t=hostile')));
    const line = lines.find((l) => l.request.path.endsWith('?t=hostile'))!;
    // Every line of every file parsed as JSON (readLogLines throws otherwise).
    expect(line.process.pid).toBe(result.pid);
    expect(line.process.argv.slice(4, 9)).toEqual([
      'line1\nline2',
      '"quoted" \'single\'',
      '\u001b[31mred\u001b[0m',
      'bad\\xff\\xfeutf8',
      'nul-heavy\u0001\u0002\u0003',
    ]);
    expect(line.process.comm).toBe('\u001b[2J\nev\\xffil\u0007');
    // The kernel copies 4 KiB of argv: the rest is cut, and the line says so.
    expect(line.truncated).toContain('process.argv');
    expect(JSON.stringify(line.process.argv).length).toBeLessThan(8192);

    const consoleLine = host.daemon
      .stdout()
      .split('\n')
      .find((l) => l.includes('?t=hostile'));
    expect(consoleLine).toBeDefined();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for raw control characters
    expect(consoleLine).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(consoleLine).toContain('comm=\\x1b[2J\\n');
  });

  it('processes that connect and vanish, or send half a request, crash nothing', async () => {
    const script = String.raw`
import socket
for half in [b'', b'GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\n', b'\x00\xff' * 100]:
    s = socket.create_connection(('169.254.169.254', 80), timeout=5)  # test netns (bed.run)
    if half: s.sendall(half)
    s.close()
`;

    const result = await host.bed.run([PYTHON, '-c', script]);
    expect(result.code).toBe(0);
    const lines = await host.daemon.waitForRequests(
      (all) => all.filter((l) => l.process?.pid === result.pid).length >= 2,
    );
    const mine = lines.filter((l) => l.process.pid === result.pid);
    expect(mine.map((l) => l.imds_version)).toEqual(['unknown', 'unknown']);
    // Still capturing afterwards.
    const after = await host.bed.run(curlV1({ path: '/latest/meta-data/?t=after' }).argv); // test netns
    await host.daemon.waitForRequests((all) => all.some((l) => l.process?.pid === after.pid));
  });
});
