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
];
/** What --quick runs: one ring-buffer daemon, the basic detections. */
export const QUICK_CELLS = new Set(['loads', 'attaches', 'v1', 'v2']);
export const RESULT_PREFIX = 'MATRIX-RESULT ';
