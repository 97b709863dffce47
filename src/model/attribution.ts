// Who made a request and where it runs: the attribution the enricher produces and the
// request line carries (contract: docs/architecture.md).

export type ContainerRuntime = 'docker' | 'containerd' | 'cri-o' | 'podman' | 'ecs' | 'kubernetes' | 'lxc';

export interface ContainerPlacement {
  runtime: ContainerRuntime;
  id: string;
  pod_uid?: string;
  ecs_task?: string;
}

export interface ProcessFields {
  pid: number | null;
  tid: number | null;
  comm: string | null;
  exe: string | null;
  argv: string[];
  uid: number;
  user: string | null;
  gid: number | null;
  start_time: string | null;
  /** pid inside its own pid namespace, when that is not the root one. */
  ns_pid: number | null;
}

export interface AncestorFields {
  pid: number;
  comm: string;
  exe: string | null;
  argv: string[];
  uid: number;
}

export interface Attribution {
  /** Identifies the process across requests: pid and start time. */
  key: string;
  process: ProcessFields;
  ancestors: AncestorFields[];
  unit: string | null;
  container: (ContainerPlacement & { pid: number | null }) | null;
  cgroup: string | null;
  /** Fields whose values were cut to their bound (secrets are cut by the log sink's Redactor). */
  truncated: string[];
}
