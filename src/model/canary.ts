// What the canary's parts share: the header it inserts, the request line's `canary`
// object and the daemon's control protocol (docs/canary.md).
import * as z from 'zod';

/** Token values the canary inserts: this prefix, then the daemon's 16 secret hex digits. */
export const CANARY_TOKEN_PREFIX = 'imds-analyzer-canary-';
export const CANARY_TOKEN_PATTERN = /^imds-analyzer-canary-[0-9a-f]{16}$/;
/** The header line the kernel inserts; its length is CANARY_HEADER_LEN in bpf/imds_canary.h. */
export const CANARY_HEADER_BYTES = 65;

/** What a canary does: refuse tokenless requests as HttpTokens=required would. */
export const CANARY_MODES = ['required'] as const;

/** Canary targets as the operator named them. */
export const canaryTargetSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('unit'), name: z.string() }),
  z.strictObject({ kind: z.literal('cgroup'), path: z.string() }),
  z.strictObject({ kind: z.literal('container'), id: z.string() }),
]);
export type CanaryTarget = z.infer<typeof canaryTargetSchema>;

/** On the line of each request the canary refused. */
export const requestCanarySchema = z.strictObject({
  /** `unit:NAME`, `cgroup:PATH` or `container:ID`. */
  target: z.string(),
  mode: z.enum(CANARY_MODES),
  /** When the canary ends, ISO 8601. */
  until: z.string(),
});
export type RequestCanary = z.infer<typeof requestCanarySchema>;

/** One active canary, as `canary status` and status.json show it. */
export const activeCanarySchema = z.strictObject({
  target: z.string(),
  mode: z.enum(CANARY_MODES),
  /** The cgroup (relative to the cgroup2 mount) its programs are attached to. */
  cgroup: z.string(),
  started_at: z.string(),
  until: z.string(),
  /** The kernel's counters of this canary (bpf/imds_canary.h). */
  kernel: z.record(z.string(), z.number()),
  /** Times the unit's cgroup was made anew (a restart) and the canary followed it. */
  reattached: z.number().int().nonnegative(),
});
export type ActiveCanary = z.infer<typeof activeCanarySchema>;

/** What a canary's target is doing: a unit's restarts and failed state, as far as this host can tell. */
export const targetStateSchema = z.strictObject({
  /** populated: processes run in its cgroup; empty: none do; absent: no such cgroup (stopped, removed). */
  cgroup_state: z.enum(['populated', 'empty', 'absent']),
  /** Times the target's cgroup was made anew since the canary started (a unit's restart). */
  recreated: z.number().int().nonnegative(),
  /** systemd's view of a unit (systemctl show); null for a cgroup or container, or where systemctl does not answer. */
  systemd: z
    .strictObject({
      active_state: z.string(),
      sub_state: z.string(),
      result: z.string(),
      /** Automatic restarts (Restart=) since the unit was loaded; null where systemd has no NRestarts (before 235). */
      n_restarts: z.number().int().nonnegative().nullable(),
    })
    .nullable(),
});
export type TargetState = z.infer<typeof targetStateSchema>;
export type SystemdUnitState = NonNullable<TargetState['systemd']>;

/** What the CLI sends over the daemon's control socket (one JSON line). */
export const controlRequestSchema = z.discriminatedUnion('command', [
  z.strictObject({ command: z.literal('start'), target: canaryTargetSchema, seconds: z.number().int().positive() }),
  z.strictObject({ command: z.literal('stop'), target: canaryTargetSchema.nullable() }),
  z.strictObject({ command: z.literal('status') }),
]);
export type ControlRequest = z.infer<typeof controlRequestSchema>;

/** The daemon's one-line answer. */
export const controlResponseSchema = z.strictObject({
  ok: z.boolean(),
  /** One line for the operator (why it was refused, or what was done). */
  message: z.string(),
  canaries: z.array(activeCanarySchema),
});
export type ControlResponse = z.infer<typeof controlResponseSchema>;

/** The control socket's name in the daemon's state directory (root only: mode 0600). */
export const CONTROL_SOCKET_NAME = 'control.sock';
/** The longest path a unix socket address holds (sun_path: 108 bytes with the closing NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/**
 * The control socket's path in `stateDir`. Throws when it is longer than a socket address
 * holds: Node would bind or connect to the path cut short, in another directory.
 */
export function controlSocketPath(stateDir: string): string {
  const path = `${stateDir.replace(/\/+$/, '')}/${CONTROL_SOCKET_NAME}`;
  const bytes = new TextEncoder().encode(path).length;
  if (bytes > MAX_SOCKET_PATH_BYTES)
    throw new Error(
      `the control socket ${path} is ${bytes} bytes, more than the ${MAX_SOCKET_PATH_BYTES} a unix socket address holds: set a shorter stateDir`,
    );
  return path;
}
