// Who made a request and where it runs: the attribution the enricher produces and the
// request line carries. The field shapes are the log contract's (log-line.ts).
import type * as z from 'zod';
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
  /** The unit's name was chosen by an unprivileged user (below user@UID.service). */
  userDelegated: boolean;
  container: (ContainerPlacement & { pid: number | null }) | null;
  cgroup: string | null;
  /** Fields whose values were cut to their bound (secrets are cut by the log sink's Redactor). */
  truncated: string[];
}
