#!/usr/bin/env node
// Prints the kernel matrix from the per-kernel transcripts kernel-matrix.sh collected.
//   stdin: one "<kernel>\t<wall seconds>\t<transcript file>" line per kernel
//   node scripts/vm/matrix-table.mjs --mode matrix|matrix-quick|load
// A transcript holds the guest's `load:` and `program` lines (init.sh's load job) and the
// driver's MATRIX-RESULT line. Exits 1 when any cell is FAIL.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CELLS, QUICK_CELLS, RESULT_PREFIX } from './cells.mjs';

const { values } = parseArgs({ options: { mode: { type: 'string', default: 'matrix' } } });
const mode = values.mode;
const applies = (cell) => (mode === 'load' ? cell === 'loads' : mode === 'matrix-quick' ? QUICK_CELLS.has(cell) : true);

/** What one kernel's transcript says. */
function readTranscript(kernel, seconds, file) {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // No transcript: every applicable cell fails below.
  }
  const kver = /^IMDS-VM-BEGIN kernel=(\S+)/m.exec(text)?.[1] ?? kernel;
  // The guest's uptime when /init started its job: how long the kernel took to boot (VMs only).
  const bootS = /^IMDS-VM-BEGIN .*uptime=([\d.]+)/m.exec(text)?.[1] ?? 'n/a';
  const bpftoolLoad = /^load: (ok|FAILED)(?: in (\d+) ms)?/m.exec(text);
  const programs = [...text.matchAll(/^program (\S+) processed_insns=(\d+)/gm)].map((m) => ({
    name: m[1],
    insns: m[2],
  }));
  const resultLine = text.split('\n').find((line) => line.startsWith(RESULT_PREFIX));
  const driver = resultLine ? JSON.parse(resultLine.slice(RESULT_PREFIX.length)) : null;

  const cells = {};
  for (const cell of CELLS) {
    if (!applies(cell)) cells[cell] = { result: 'skip', detail: '' };
    else if (mode === 'load') cells[cell] = { result: 'FAIL', detail: 'no load result' };
    else
      cells[cell] = driver?.cells?.[cell] ?? {
        result: 'FAIL',
        detail: 'the driver reported nothing (see the serial log)',
      };
  }
  if (bpftoolLoad) {
    const loaded = bpftoolLoad[1] === 'ok';
    if (!loaded)
      cells.loads = { result: 'FAIL', detail: 'bpftool prog loadall rejected the object (verifier log saved)' };
    else if (mode === 'load') cells.loads = { result: 'PASS', detail: 'bpftool prog loadall' };
  }
  return {
    kernel,
    kver,
    seconds: Number(seconds),
    cells,
    loadMs: bpftoolLoad?.[2] ?? 'n/a',
    readyMs: driver?.ready_ms ?? 'n/a',
    bootS,
    programs,
  };
}

const input = readFileSync(0, 'utf8').trim();
const rows = input
  .split('\n')
  .filter(Boolean)
  .map((line) => readTranscript(...line.split('\t')));

const header = ['kernel', ...CELLS, 'load ms', 'ready ms', 'boot s', 'wall s'];
const out = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
for (const row of rows) {
  out.push(
    `| ${[row.kver, ...CELLS.map((c) => row.cells[c].result), row.loadMs, row.readyMs, row.bootS, row.seconds].join(' | ')} |`,
  );
}

const programNames = [...new Set(rows.flatMap((row) => row.programs.map((p) => p.name)))].sort();
if (programNames.length) {
  out.push('', 'Verifier-processed instructions per program ("processed N insns" of a log-level-1 load):', '');
  out.push(`| program | ${rows.map((row) => row.kver).join(' | ')} |`, `|---|${rows.map(() => '---').join('|')}|`);
  for (const name of programNames) {
    const counts = rows.map((row) => row.programs.find((p) => p.name === name)?.insns ?? '-');
    out.push(`| ${name} | ${counts.join(' | ')} |`);
  }
}

const failures = rows.flatMap((row) =>
  CELLS.filter((c) => row.cells[c].result === 'FAIL').map((c) => `FAIL ${row.kver} ${c}: ${row.cells[c].detail}`),
);
process.stdout.write(`${[...out, '', ...failures].join('\n')}\n`);
process.exitCode = failures.length ? 1 : 0;
