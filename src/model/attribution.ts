// Who made a request and where it runs: the attribution the enricher produces and the
// request line carries. The field shapes are the log contract's (log-line.ts).
import type { z } from 'zod';
import type { ancestorSchema, containerPlacementSchema, containerRuntimeSchema, processSchema } from './log-line.js';

export type ContainerRuntime = z.infer<typeof containerRuntimeSchema>;
export type ContainerPlacement = z.infer<typeof containerPlacementSchema>;
export type ProcessFields = z.infer<typeof processSchema>;
export type AncestorFields = z.infer<typeof ancestorSchema>;

export interface Attribution {
  /** Identifies the process across requests: pid and start time. */
  key: string;
  process: ProcessFields;
  ancestors: AncestorFields[];
  unit: string | null;
  container: (ContainerPlacement & { pid: number | null }) | null;
  cgroup: string | null;
  /** Fields whose values were cut or redacted. */
  truncated: string[];
}
