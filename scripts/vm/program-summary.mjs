// Reads `bpftool --json prog show` on stdin and prints one line per loaded program:
// name, type and the verifier's processed-instruction count (verified_insns exists from
// kernel 5.16 on; older kernels print n/a).
let input = '';
for await (const chunk of process.stdin) input += chunk;
for (const prog of JSON.parse(input)) {
  const insns = prog.verified_insns ?? 'n/a';
  process.stdout.write(`program ${prog.name ?? '?'} type=${prog.type} verified_insns=${insns}\n`);
}
