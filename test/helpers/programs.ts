// The BPF object's programs, as the daemon attaches them: read from the object itself
// (src/capture/object-layout.ts), whose C source is the only list.
import { join } from 'node:path';
import { readObjectLayout } from '../../src/capture/object-layout.js';
import { REPO_ROOT } from '../rig/compiled.js';

export const BPF_OBJECT = join(REPO_ROOT, 'bpf/imds_analyzer.bpf.o');

export const BPF_PROGRAMS = readObjectLayout(BPF_OBJECT).programs.map((p) => p.name);
