// argv with the parts that change from run to run replaced, so that one program run
// many times forms one group: pids and numbers, temp paths, UUIDs, long hex ids.

const RULES: Array<[RegExp, string]> = [
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>'],
  [/\/(tmp|var\/tmp|run\/user\/\d+|dev\/shm)\/[^\s'"]*/g, '/$1/<tmp>'],
  [/\b[0-9a-f]{16,}\b/gi, '<hex>'],
  [/(?<![\w.:])\d{3,}(?![\w.:])/g, '<n>'],
];

export function normalizeArg(arg: string): string {
  let out = arg;
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement);
  return out;
}

export function normalizeArgv(argv: readonly string[]): string {
  return argv.map(normalizeArg).join(' ');
}
