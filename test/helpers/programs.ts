// The BPF object's programs, as the tests expect to see them loaded (src/capture/capture.ts attaches each).
export const BPF_PROGRAMS = [
  'imds_connect4',
  'imds_connect6',
  'imds_egress',
  'imds_ingress',
  'imds_exec',
  'imds_fork',
  'imds_exit',
] as const;
