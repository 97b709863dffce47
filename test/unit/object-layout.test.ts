// The programs and maps the daemon uses come from the BPF object (src/capture/object-layout.ts);
// here they are checked against the C source, the one place they are written: every SEC()
// program with its section, every map the TypeScript names, every global it sets.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAPS, attachOf, readObjectLayout } from '../../src/capture/object-layout.js';
import { BPF_OBJECT } from '../helpers/programs.js';
import { REPO_ROOT } from '../rig/compiled.js';

const source = readFileSync(join(REPO_ROOT, 'bpf/imds_analyzer.bpf.c'), 'utf8');
const layout = readObjectLayout(BPF_OBJECT);

describe('the BPF object read from its ELF', () => {
  it('has exactly the programs of the C source, each in its SEC() section', () => {
    const declared = [...source.matchAll(/^SEC\("([^"]+)"\)\nint (\w+)\(/gm)].map(([, section, name]) => ({
      name,
      section,
    }));
    expect(declared.length).toBeGreaterThan(0);
    expect(layout.programs.map(({ name, section }) => ({ name, section }))).toEqual(declared);
  });

  it('knows where each program attaches: cgroup hooks on the cgroup2 root, raw tracepoints by name', () => {
    for (const program of layout.programs) {
      const [kind, name] = program.section.split('/');
      expect(program.attach).toEqual(kind === 'raw_tp' ? { kind: 'raw_tp', tracepoint: name } : { kind: 'cgroup' });
    }
    expect(() => attachOf('kprobe/tcp_connect')).toThrow(/no known way to attach/);
    expect(() => attachOf('cgroup')).toThrow(/no known way to attach/);
  });

  it('defines every map the TypeScript names, as the C source does', () => {
    const declared = [...source.matchAll(/^\} (\w+) SEC\("\.maps"\);/gm)].map(([, name]) => name);
    expect([...layout.maps].sort()).toEqual([...declared].sort());
    for (const name of Object.values(MAPS)) expect(layout.maps).toContain(name);
  });

  it('has the read-only globals the load sets', () => {
    for (const name of ['use_ringbuf', 'systemd_v1_hierarchy']) {
      expect(source).toMatch(new RegExp(`^const volatile \\w+ ${name} = `, 'm'));
      expect(layout.globalOffsets.has(name)).toBe(true);
    }
  });
});
