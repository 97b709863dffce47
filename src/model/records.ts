// Decoded kernel records: the TypeScript side of bpf/imds_events.h after decoding.
// Times are CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns); process start times are
// task->start_boottime nanoseconds, the clock behind field 22 of /proc/<pid>/stat.

/** Who owned the socket when it connected to IMDS (recorded by cgroup/connect4|6). */
export interface SocketOwner {
  pid: number;
  tid: number;
  uid: number;
  gid: number;
  comm: string;
  cgroupId: bigint;
  /** When connect() ran (CLOCK_MONOTONIC): tells the owner from a later holder of its pid. */
  connectNs: bigint;
}

export interface Flow {
  /** Socket cookie: unique per socket for the life of the kernel. */
  cookie: bigint;
  family: 'ipv4' | 'ipv6';
  address: string;
  port: number;
}

/** A TCP segment with payload sent to IMDS. */
export interface PayloadRecord {
  kind: 'payload';
  tsNs: bigint;
  flow: Flow;
  /** null when the socket connected before the analyzer attached (no owner recorded). */
  owner: SocketOwner | null;
  /** Socket's uid and cgroup as the skb sees them: available even without an owner. */
  socketUid: number;
  socketCgroupId: bigint;
  /** TCP sequence number (u32) of the first payload byte. */
  seq: number;
  /** Sequence number of the connection's first payload byte (ISN + 1) when its SYN was seen. */
  streamStart: number | null;
  /** Payload bytes the segment carried; `bytes` holds the first `bytes.length` of them. */
  wireLength: number;
  bytes: Uint8Array;
}

/** Status code of an IMDS response, parsed in the kernel from the status line. */
export interface ResponseRecord {
  kind: 'response';
  tsNs: bigint;
  flow: Flow;
  /** Sequence number of the status line in the response stream: a retransmission repeats it. */
  seq: number;
  /** Request-stream sequence number IMDS acknowledged with the response: what it had received. */
  ack: number;
  status: number;
}

/** FIN or RST sent on an IMDS connection. */
export interface CloseRecord {
  kind: 'close';
  tsNs: bigint;
  flow: Flow;
  reset: boolean;
}

/**
 * A process as the kernel remembers it (its fork, its exec if any, its exit), sent when it
 * or a descendant connects to IMDS: the connecting process first, then its ancestors.
 */
export interface ProcessRecord {
  kind: 'process';
  /** When the kernel learnt it: its fork, or its exec. */
  tsNs: bigint;
  pid: number;
  /** Parent at fork, kept through exec (not the process it was re-parented to). */
  ppid: number;
  uid: number;
  gid: number;
  startNs: bigint;
  parentStartNs: bigint;
  /** When it exited (CLOCK_MONOTONIC), null while it runs. */
  exitedNs: bigint | null;
  /** Pid in the process's own (innermost) pid namespace, and that namespace's depth (0: root). */
  nsPid: number;
  nsLevel: number;
  comm: string;
  /** false: forked, no exec seen since; filename and argv are its parent's (filename may be empty). */
  execed: boolean;
  /** Path as passed to execve (may be relative). */
  filename: string;
  argv: string[];
  argvTruncated: boolean;
  /** The kernel could not read argv (e.g. paged out): look in /proc instead. */
  argvUnreadable: boolean;
}

/**
 * Where the connecting process sat in the cgroup v1 name=systemd hierarchy when it connected
 * to IMDS (sent after its process record, only on hosts with that hierarchy).
 */
export interface CgroupRecord {
  kind: 'cgroup';
  tsNs: bigint;
  pid: number;
  startNs: bigint;
  /** As in /proc/<pid>/cgroup: "/system.slice/foo.service". */
  path: string;
  /** Deeper than the kernel keeps, or a level name cut: the path holds its nearest levels. */
  truncated: boolean;
}

export type KernelRecord = PayloadRecord | ResponseRecord | CloseRecord | ProcessRecord | CgroupRecord;
