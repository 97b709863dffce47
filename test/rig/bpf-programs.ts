// `node dist-test/test/rig/bpf-programs.js`: how many programs the BPF object holds (one
// link each once attached), from the object itself, for scripts that count links.
import { BPF_PROGRAMS } from '../helpers/programs.js';

process.stdout.write(`${BPF_PROGRAMS.length}\n`);
