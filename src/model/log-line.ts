// The one contract for what the daemon writes and what `report` and `status` read: the
// `imds_request` line, the lifecycle lines (ready, stats, stopping, error) and status.json.
// The writer is typed by these schemas; readers parse with them; docs/architecture.md lists
// every field (test/unit/log-contract.test.ts holds all three together).
import { z } from 'zod';
import { IMDS_VERSIONS } from './imds.js';

const count = z.number().int().nonnegative();

/** What pino adds to every line. */
const pinoFields = {
  level: z.number().int(),
  time: z.number(),
  hostname: z.string(),
  msg: z.string(),
};

export const processSchema = z.strictObject({
  pid: z.number().int().nullable(),
  tid: z.number().int().nullable(),
  comm: z.string().nullable(),
  exe: z.string().nullable(),
  argv: z.array(z.string()),
  uid: z.number().int(),
  user: z.string().nullable(),
  gid: z.number().int().nullable(),
  start_time: z.string().nullable(),
  /** pid inside its own pid namespace, when that is not the root one. */
  ns_pid: z.number().int().nullable(),
});

export const ancestorSchema = z.strictObject({
  pid: z.number().int(),
  comm: z.string(),
  exe: z.string().nullable(),
  argv: z.array(z.string()),
  uid: z.number().int(),
});

export const containerRuntimeSchema = z.enum(['docker', 'containerd', 'cri-o', 'podman', 'ecs', 'kubernetes', 'lxc']);

export const containerPlacementSchema = z.strictObject({
  runtime: containerRuntimeSchema,
  id: z.string(),
  pod_uid: z.string().optional(),
  ecs_task: z.string().optional(),
});

export const sdkSchema = z.strictObject({
  name: z.string(),
  version: z.string().nullable(),
  min_imdsv2_version: z.string().nullable(),
  supports_imdsv2: z.boolean().nullable(),
});

export const requestLineSchema = z.strictObject({
  ...pinoFields,
  event: z.literal('imds_request'),
  imds_version: z.enum(IMDS_VERSIONS),
  /** false for GCP/Azure/OpenStack-style and other non-AWS paths. */
  aws_api: z.boolean(),
  request: z.strictObject({
    method: z.string(),
    path: z.string(),
    token_request: z.boolean(),
    user_agent: z.string().nullable(),
  }),
  destination: z.strictObject({ address: z.string(), port: z.number().int() }),
  process: processSchema,
  /** Nearest first. */
  ancestors: z.array(ancestorSchema),
  unit: z.string().nullable(),
  container: containerPlacementSchema.extend({ pid: z.number().int().nullable() }).nullable(),
  cgroup: z.string().nullable(),
  sdk: sdkSchema.nullable(),
  response: z.strictObject({ status: z.number().int() }).nullable(),
  fallback: z.strictObject({ reason: z.string() }).nullable(),
  advice: z.string().nullable(),
  /** Which TCP connection (socket cookie), and the nth request on it. */
  connection: z.strictObject({ cookie: z.string(), request_index: z.number().int() }),
  /** When the request's first byte was sent, ISO 8601. */
  request_time: z.string(),
  /** Names of fields cut to their bound or redacted. */
  truncated: z.array(z.string()),
});

/** Counters the daemon keeps; kernel counters are named as in bpf/imds_events.h. */
export const countersSchema = z.strictObject({
  requests: z.strictObject({ v1: count, v2: count, unknown: count }),
  kernel: z.record(z.string(), count),
  decode_errors: count,
  not_imds_records: count,
  tracked_connections: count,
  lines_written: count,
  lines_not_written: count,
  write_errors: count,
});

/** Who is running: on ready, stats and stopping lines and in status.json. */
export const daemonDescriptionSchema = z.strictObject({
  boot_id: z.string(),
  /** uname -r (`kernel` on lifecycle lines holds the kernel's counters). */
  kernel_release: z.string(),
  libbpf_version: z.string(),
  buffer: z.string(),
  cgroup_root: z.string(),
  programs: z.array(z.string()),
  program_ids: z.record(z.string(), z.number().int()),
  version: z.string(),
  pid: z.number().int(),
  log_dir: z.string(),
});

const lifecycleBody = { ...pinoFields, ...daemonDescriptionSchema.shape, ...countersSchema.shape };

export const readyLineSchema = z.strictObject({
  ...lifecycleBody,
  event: z.literal('ready'),
  /** Milliseconds since the kernel started, at READY: tells the report a daemon started by the boot. */
  uptime_ms: z.number().int().nullable(),
  /** Milliseconds from process start to the end of each start-up step (modules, config, log_sink, bpf_attached, ready). */
  startup_ms: z.record(z.string(), z.number()),
});
export const statsLineSchema = z.strictObject({ ...lifecycleBody, event: z.literal('stats'), interval_s: z.number() });
export const stoppingLineSchema = z.strictObject({ ...lifecycleBody, event: z.literal('stopping'), signal: z.string() });
export const errorLineSchema = z.strictObject({
  ...pinoFields,
  event: z.literal('error'),
  source: z.string().optional(),
  message: z.string(),
});

export const logLineSchema = z.discriminatedUnion('event', [
  requestLineSchema,
  readyLineSchema,
  statsLineSchema,
  stoppingLineSchema,
  errorLineSchema,
]);

export const statusDocumentSchema = z.strictObject({
  ...daemonDescriptionSchema.shape,
  started_at: z.string(),
  updated_at: z.string(),
  counters: countersSchema,
});

type WithoutPino<T> = Omit<T, keyof typeof pinoFields>;
/** What the daemon hands the sink; pino adds level, time, hostname and msg. */
export type RequestLine = WithoutPino<z.infer<typeof requestLineSchema>>;
export type Counters = z.infer<typeof countersSchema>;
export type DaemonDescription = z.infer<typeof daemonDescriptionSchema>;
export type LifecycleFields =
  | WithoutPino<z.infer<typeof readyLineSchema>>
  | WithoutPino<z.infer<typeof statsLineSchema>>
  | WithoutPino<z.infer<typeof stoppingLineSchema>>
  | WithoutPino<z.infer<typeof errorLineSchema>>;
export type StatusDocument = z.infer<typeof statusDocumentSchema>;
export type LogLine = z.infer<typeof logLineSchema>;
