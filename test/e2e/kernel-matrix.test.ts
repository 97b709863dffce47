// The kernel matrix's own machinery. The table printer is held to synthetic
// transcripts (it must turn any missing or failed result into FAIL and a non-zero exit);
// the detection driver runs for real on this host's kernel; and one Debian kernel boots
// under qemu and loads the prebuilt object. The full matrix is `scripts/kernel-matrix.sh`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BPF_PROGRAMS } from '../helpers/programs.js';
import { CELLS } from '../../scripts/vm/cells.mjs';

const repo = join(import.meta.dirname, '../..');
const isRoot = process.getuid?.() === 0;
const hasQemu =
  spawnSync('sh', ['-c', 'command -v qemu-system-x86_64 && command -v busybox && command -v cpio']).status === 0;

interface Cell {
  result: 'PASS' | 'FAIL' | 'skip';
  detail: string;
}

function run(argv: string[], input?: string, timeoutMs = 600_000) {
  const [file, ...args] = argv;
  const result = spawnSync(file ?? '', args, { cwd: repo, input, encoding: 'utf8', timeout: timeoutMs });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('matrix table', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kernel-matrix-table-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function table(mode: string, transcripts: Record<string, string>) {
    const input = Object.entries(transcripts)
      .map(([kernel, text]) => {
        const file = join(dir, `${kernel}.txt`);
        writeFileSync(file, text);
        return `${kernel}\t7\t${file}`;
      })
      .join('\n');
    return run(['node', 'scripts/vm/matrix-table.mjs', '--mode', mode], input);
  }

  const allPass: Record<string, Cell> = Object.fromEntries(
    CELLS.map((cell) => [cell, { result: 'PASS', detail: 'ok' }]),
  );
  const transcript = (cells: Record<string, Cell> | null, load = 'load: ok in 250 ms') =>
    [
      'IMDS-VM-BEGIN kernel=6.1.0-test mode=matrix uptime=3.0',
      load,
      'program imds_egress processed_insns=1447',
      'program imds_connect4 processed_insns=62',
      ...(cells ? [`MATRIX-RESULT ${JSON.stringify({ cells, ready_ms: 4100, buffer: 'ringbuf' })}`] : []),
      'IMDS-VM-END rc=0',
    ].join('\n');

  it('prints PASS rows, load time, ready time and verifier counts, and exits 0', () => {
    const out = table('matrix', { '6.1': transcript(allPass) });
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`| 6.1.0-test | ${CELLS.map(() => 'PASS').join(' | ')} | 250 | 4100 | 3.0 | 7 |`);
    expect(out.stdout).toMatch(/\| imds_egress \| 1447 \|/);
    expect(out.stdout).not.toContain('FAIL');
  });

  it('fails every cell of a kernel whose driver reported nothing', () => {
    const out = table('matrix', { '5.10': transcript(null) });
    expect(out.code).toBe(1);
    for (const cell of CELLS) expect(out.stdout).toContain(`FAIL 6.1.0-test ${cell}: the driver reported nothing`);
  });

  it('fails loads when bpftool rejected the object, whatever the driver said', () => {
    const out = table('matrix', { '6.1': transcript(allPass, 'load: FAILED; verifier log follows') });
    expect(out.code).toBe(1);
    expect(out.stdout).toContain('FAIL 6.1.0-test loads: bpftool prog loadall rejected the object');
  });

  it('fails a single FAIL cell and skips what --quick did not run', () => {
    const quickCells: Record<string, Cell> = { ...allPass, v2: { result: 'FAIL', detail: '1/2 lines' } };
    const out = table('matrix-quick', { '6.1': transcript(quickCells) });
    expect(out.code).toBe(1);
    expect(out.stdout).toContain('| 6.1.0-test | PASS | PASS | PASS | FAIL | skip | skip | skip | skip | skip |');
    expect(out.stdout).toContain('FAIL 6.1.0-test v2: 1/2 lines');
  });
});

describe.skipIf(!isRoot)('detection driver on this host kernel', () => {
  it('passes every cell, deciding from the daemon log lines', () => {
    expect(existsSync(join(repo, 'dist/cli/main.js')), 'npm run build first').toBe(true);
    const out = run(['node', 'scripts/vm/matrix-driver.mjs'], undefined, 300_000);
    const line = out.stdout.split('\n').find((l) => l.startsWith('MATRIX-RESULT '));
    expect(line, out.stderr).toBeDefined();
    const result = JSON.parse((line ?? '').slice('MATRIX-RESULT '.length)) as {
      cells: Record<string, Cell>;
      ready_ms: number;
    };
    const failed = Object.entries(result.cells).filter(([, cell]) => cell.result !== 'PASS');
    expect(failed, out.stderr).toEqual([]);
    expect(result.ready_ms).toBeGreaterThan(0);
    expect(out.code).toBe(0);
  }, 300_000);
});

describe.skipIf(!isRoot || !hasQemu)('Debian 6.1 cloud kernel under qemu', () => {
  it('boots, loads every program of the prebuilt object and reports verifier costs', () => {
    const out = run(['bash', 'scripts/kernel-matrix.sh', '--kernels', '6.1', '--load-only'], undefined, 900_000);
    expect(out.code, `${out.stdout}\n${out.stderr}`).toBe(0);
    expect(out.stdout).toMatch(/^\| 6\.1\.\d+-\d+-cloud-amd64 \| PASS \|/m);
    for (const program of BPF_PROGRAMS) {
      expect(out.stdout).toMatch(new RegExp(`^\\| ${program} \\| \\d+ \\|`, 'm'));
    }
  }, 900_000);
});
