// The cut-down kernel BTF. A first start on this kernel relocates
// against /sys/kernel/btf/vmlinux and then writes the cut-down copy to cacheDir; the next
// start loads against it. Proven here on the real object and this kernel: every program
// comes out with the same instructions (tags) either way, the second daemon captures and
// attributes a real request, and a bad or foreign file is never used. Needs root.
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeProgram } from '../../src/capture/handover.js';
import { openLibbpf } from '../../src/libbpf/libbpf.js';
import { type LineOf, type RunningDaemon, startAnalyzer } from '../rig/analyzer-process.js';
import { type Testbed, createTestbed, curlV1 } from '../rig/index.js';

const isRoot = process.getuid?.() === 0;
const OBJECT = fileURLToPath(new URL('../../bpf/imds_analyzer.bpf.o', import.meta.url));

/** Each program's tag when the object is loaded against `btfPath` (undefined: the kernel's BTF). */
function programTags(btfPath?: string): string[] {
  const libbpf = openLibbpf();
  const obj = libbpf.openObject(OBJECT, btfPath);
  try {
    libbpf.loadObject(obj);
    return libbpf.programs(obj).map((p) => `${p.name} ${describeProgram(libbpf, libbpf.programFd(p.program)).tag}`);
  } finally {
    libbpf.closeObject(obj);
  }
}

async function cachedFiles(cacheDir: string, timeoutMs = 15_000): Promise<string[]> {
  const dir = join(cacheDir, 'core-btf');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.btf'));
    } catch {
      // not made yet
    }
    if (names.length > 0) return names.map((n) => join(dir, n));
    if (Date.now() > deadline) throw new Error(`no cut-down BTF in ${dir} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!isRoot)('cut-down kernel BTF kept in cacheDir', () => {
  let bed: Testbed;
  const cacheDir = mkdtempSync(join(tmpdir(), 'imds-core-btf-'));
  const daemons: RunningDaemon[] = [];
  const start = async () => {
    const daemon = await startAnalyzer({ config: { cacheDir } });
    daemons.push(daemon);
    return daemon;
  };
  const stop = async (daemon: RunningDaemon, errors: string[] = []) => {
    expect(await daemon.stop()).toBe(0);
    const said = daemon.lines().filter((l): l is LineOf<'error'> => l.event === 'error');
    expect(said.map((l) => `${l.source}: ${l.message}`)).toEqual(errors);
  };

  beforeAll(async () => {
    bed = await createTestbed({ prefix: 'cbtf' });
  });
  afterAll(async () => {
    for (const daemon of daemons) {
      await daemon.stop();
      daemon.cleanup();
    }
    await bed?.teardown();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('a first start uses the kernel BTF and leaves a cut-down copy that relocates every program the same', async () => {
    const first = await start();
    expect(first.ready.core_btf).toBe('kernel');
    const [file] = await cachedFiles(cacheDir);
    await stop(first);
    expect(file).toBeDefined();
    const kernelTags = programTags();
    expect(kernelTags).toHaveLength(7);
    expect(programTags(file)).toEqual(kernelTags);
    process.stdout.write(`cut-down BTF ${file}: same tags as the kernel BTF for ${kernelTags.length} programs\n`);
  });

  it('the next start loads against it and captures and attributes a real request', async () => {
    const second = await start();
    expect(second.ready.core_btf).toBe('cached');
    const result = await bed.run(curlV1().argv);
    expect(result.code).toBe(0);
    const lines = await second.waitForRequests((all) => all.some((l) => l.process?.pid === result.pid));
    const line = lines.find((l) => l.process?.pid === result.pid);
    if (!line) throw new Error(`no request line of pid ${result.pid}`);
    // comm, argv, ancestors and start time are all read through CO-RE relocated fields.
    expect(line.imds_version).toBe('v1');
    expect(line.process.comm).toBe('curl');
    expect(line.process.argv[0]).toMatch(/curl$/);
    expect(line.ancestors.length).toBeGreaterThan(0);
    await stop(second);
  });

  it('a file that does not load is removed and the kernel BTF used; a new one is written', async () => {
    const [file] = await cachedFiles(cacheDir);
    if (!file) throw new Error('no cached file');
    writeFileSync(file, 'not BTF at all');
    const daemon = await start();
    expect(daemon.ready.core_btf).toBe('kernel');
    const [rewritten] = await cachedFiles(cacheDir);
    await stop(daemon, [
      expect.stringMatching(/^core-btf: .*\.btf did not load \(.*\): removed, the kernel's BTF used$/),
    ]);
    expect(programTags(rewritten)).toEqual(programTags());
  });

  it('a file others can write is never used', async () => {
    const [file] = await cachedFiles(cacheDir);
    if (!file) throw new Error('no cached file');
    chmodSync(file, 0o666);
    const daemon = await start();
    expect(daemon.ready.core_btf).toBe('kernel');
    await stop(daemon);
  });
});
