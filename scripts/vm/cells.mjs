// The matrix's columns, shared by the in-VM driver and the table printer.
export const CELLS = [
  'loads',
  'attaches',
  'v1',
  'v2',
  'ipv6',
  'keep_alive',
  'split_headers',
  'ancestry',
  'v1_unit',
  'perfbuf',
  'core_btf',
  'canary',
];
/** What --quick runs: the basic detections, and a second start on the cut-down BTF the first one wrote. */
export const QUICK_CELLS = new Set(['loads', 'attaches', 'v1', 'v2', 'core_btf']);
export const RESULT_PREFIX = 'MATRIX-RESULT ';
