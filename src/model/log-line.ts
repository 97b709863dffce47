// The one contract for what the daemon writes and what `report` and `status` read: the
// `imds_request` line, the lifecycle lines (ready, stats, stopping, error) and status.json.
// The writer is typed by these schemas; readers parse with them; docs/log-contract.md lists
// every field (test/unit/log-contract.test.ts holds all three together).
import * as z from 'zod';
import { activeCanarySchema, requestCanarySchema, targetStateSchema } from './canary.js';
import { IMDS_VERSIONS } from './imds.js';

const count = z.number().int().nonnegative();

/** What the sink adds to every line: pino's own, the ISO time and the host's identity. */
const pinoFields = {
  level: z.number().int(),
  time: z.number(),
  /** `time` as ISO 8601 UTC, second in the line: the CloudWatch agent stamps events with it. */
  timestamp: z.string(),
  hostname: z.string(),
  /** From the Nitro DMI board asset tag, never IMDS; null on Xen and off EC2. */
  instance_id: z.string().nullable(),
  /**
   * From cloud-init's instance data, never IMDS; null without it, and on a boot's first lines
   * until cloud-init has written it (absent from older versions' lines).
   */
  region: z.string().nullable(),
  boot_id: z.string(),
  msg: z.string(),
};
/** The fields every line has, whatever its event (a newer version's too). */
export const pinoLineSchema = z.object(pinoFields);

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
  /** argv: the first 32 arguments; cmdline: all of argv joined, redacted, at most 4096 characters. */
  process: processSchema.extend({ cmdline: z.string() }),
  /** Nearest first, at most 5, each argv at most 8 arguments. */
  ancestors: z.array(ancestorSchema),
  /** systemd unit; below a user's manager `user@UID.service/<unit>`. */
  unit: z.string().nullable(),
  /** The unit's name was chosen by an unprivileged user (a cgroup subtree delegated to them): not proof of a system service. */
  user_delegated: z.boolean(),
  container: containerPlacementSchema.extend({ pid: z.number().int().nullable() }).nullable(),
  cgroup: z.string().nullable(),
  sdk: sdkSchema.nullable(),
  response: z.strictObject({ status: z.number().int() }).nullable(),
  fallback: z.strictObject({ reason: z.string() }).nullable(),
  advice: z.string().nullable(),
  /**
   * Which TCP connection (socket cookie), the nth request on it (as the daemons saw it), the
   * TCP sequence number of its first byte, and the kernel time (CLOCK_MONOTONIC ns) of the
   * segment that completed it: cookie and start_seq identify the request across daemons (a
   * replay after a restart skips it; lines written before start_seq: cookie and kernel_ns).
   * kernel_ns is absent from lines of versions before continuous capture. resume_seq: where
   * the connection's byte stream stood once this request completed, when nothing else was
   * pending on it (null otherwise): a later daemon takes the connection up there.
   */
  connection: z.strictObject({
    cookie: z.string(),
    request_index: z.number().int(),
    start_seq: z.number().int(),
    resume_seq: z.number().int().nullable(),
    kernel_ns: z.string().optional(),
  }),
  /** When the request's first byte was sent, ISO 8601. */
  request_time: z.string(),
  /** Names of fields cut to their bound. */
  truncated: z.array(z.string()),
  /** Names of fields where a secret was replaced by [REDACTED] (the log sink fills it). */
  redacted: z.array(z.string()),
  /** Only on a tokenless request a canary made IMDS refuse (docs/canary.md). */
  canary: requestCanarySchema.optional(),
});

/** Counters the daemon keeps; kernel counters are named as in bpf/imds_events.h. */
export const countersSchema = z.strictObject({
  requests: z.strictObject({ v1: count, v2: count, unknown: count }),
  kernel: z.record(z.string(), count),
  decode_errors: count,
  /** Requests replayed from the previous daemon's journal that were already in the log (not written again). */
  replayed_duplicates: count.optional(),
  /** Records (or requests) whose handling threw: skipped, reported, capture went on. */
  record_errors: count,
  drain_errors: count,
  /** status.json writes that failed (e.g. /run full). */
  status_write_errors: count,
  /** What the connection tracker could not see (docs/log-contract.md). */
  streams: z.strictObject({
    joined_mid_stream: count,
    holes_skipped: count,
    hole_bytes: count,
    bytes_skipped: count,
    responses_unmatched: count,
    responses_retransmitted: count,
  }),
  not_imds_records: count,
  tracked_connections: count,
  /**
   * The longest one event-loop turn spent on kernel records, in ms: a drain turn (reading the
   * buffer, journaling, handing records over, writing the lines they complete) or the timer
   * that writes requests whose wait for an answer expired.
   */
  longest_drain_turn_ms: z.number().nonnegative().optional(),
  /** The process's CPU time within that turn, in ms: the rest of the turn was waiting (for a CPU, a disk). */
  longest_drain_turn_cpu_ms: z.number().nonnegative().optional(),
  /** Requests counted for summary lines instead of written in full, those not written yet included. */
  requests_summarised: count.optional(),
  lines_written: count,
  lines_not_written: count,
  write_errors: count,
});

/** Who is running: on ready, stats and stopping lines and in status.json. */
export const daemonDescriptionSchema = z.strictObject({
  /** uname -r (`kernel` on lifecycle lines holds the kernel's counters). */
  kernel_release: z.string(),
  libbpf_version: z.string(),
  /** What CO-RE relocated against: the kernel's BTF, or the cached cut-down copy (docs/service.md). */
  core_btf: z.enum(['kernel', 'cached']).optional(),
  buffer: z.string(),
  cgroup_root: z.string(),
  programs: z.array(z.string()),
  program_ids: z.record(z.string(), z.number().int()),
  version: z.string(),
  pid: z.number().int(),
  log_dir: z.string(),
  /** How this daemon took over from the previous one through systemd's fd store (docs/service.md). */
  handover: z
    .strictObject({
      /** Fds systemd handed back at this start. */
      inherited_fds: count,
      /** The links, maps and journal are kept by systemd past this process. */
      fd_store: z.boolean(),
      /** Socket records of the previous daemon replayed from its journal. */
      journaled_records: count,
      /** Links of the previous daemon kept as they were (same code). */
      links_kept: count,
      /** Cgroup links switched to this daemon's changed program in one step. */
      links_updated: count,
      links_attached: count,
      /** The previous daemon's maps (buffer, counters, socket owners) taken over. */
      maps_reused: z.boolean(),
      maps_inherited: count,
    })
    .optional(),
});

const lifecycleBody = { ...pinoFields, ...daemonDescriptionSchema.shape, ...countersSchema.shape };

export const readyLineSchema = z.strictObject({
  ...lifecycleBody,
  event: z.literal('ready'),
  /** Milliseconds since the kernel started, at READY: tells the report a daemon started by the boot. */
  uptime_ms: z.number().int().nullable(),
  /** Milliseconds from process start to the end of each start-up step (modules, config, bpf_attached, ready, log_sink). */
  startup_ms: z.record(z.string(), z.number()),
  /**
   * True exactly when this daemon took over the previous one's buffer and links with no
   * window: maps reused, the previous buffer drained before any link changed, journal whole.
   * The report then counts the time since the previous run's last line as observed.
   */
  capture_continued: z.boolean(),
  /**
   * Null when capture_continued; otherwise why the time before this start was not seen:
   * `fresh_start` (nothing handed over), `maps_not_reused`, `ring_not_drained`,
   * `journal_truncated`, `links_detached` (docs/service.md).
   */
  capture_gap: z.string().nullable(),
});
export const statsLineSchema = z.strictObject({ ...lifecycleBody, event: z.literal('stats'), interval_s: z.number() });
export const stoppingLineSchema = z.strictObject({
  ...lifecycleBody,
  event: z.literal('stopping'),
  signal: z.string(),
  /** The system was shutting down: this run covers its boot to the end (docs/service.md). */
  system_shutdown: z.boolean(),
});
export const errorLineSchema = z.strictObject({
  ...pinoFields,
  event: z.literal('error'),
  source: z.string().optional(),
  message: z.string(),
});

/** A canary started or ended (docs/canary.md); `ended` carries its final kernel counters. */
export const canaryLineSchema = z.strictObject({
  ...pinoFields,
  event: z.literal('canary'),
  action: z.enum(['started', 'ended']),
  /** Why it ended: expired, stopped, daemon stopped. */
  reason: z.string().optional(),
  ...activeCanarySchema.shape,
});

/**
 * Requests of one program in one interval that were counted instead of written in full
 * (docs/config.md, `summary`): the program as its first such request showed it, and exact
 * counts. The report counts each of them as it counts a request line.
 */
export const summaryLineSchema = z.strictObject({
  ...pinoFields,
  event: z.literal('summary'),
  /** The daemon that counted them (with boot_id, its run). */
  pid: z.number().int(),
  imds_version: z.enum(IMDS_VERSIONS),
  aws_api: z.boolean(),
  process: processSchema.pick({ comm: true, exe: true, argv: true, uid: true, user: true }),
  ancestors: z.array(ancestorSchema),
  unit: z.string().nullable(),
  container: containerPlacementSchema.nullable(),
  sdk: sdkSchema.nullable(),
  /** request_time of the first and the last request counted. */
  from: z.string(),
  to: z.string(),
  requests: count,
  /** Requests per response status (null: no answer seen). */
  statuses: z.array(z.strictObject({ status: z.number().int().nullable(), requests: count })),
  /** Requests per path, the first 50 paths in sort order; the rest in paths_unlisted. */
  paths: z.array(z.strictObject({ path: z.string(), requests: count })),
  paths_unlisted: count,
  /** Requests that fell back to IMDSv1 after a failed token request. */
  fallbacks: count,
});

/**
 * What became of a canary's target while it ran (docs/canary.md): its state at the canary's
 * start, at each change the daemon saw (polled), and at its end. target and until name the canary.
 */
export const canaryTargetLineSchema = z.strictObject({
  ...pinoFields,
  event: z.literal('canary_target'),
  target: z.string(),
  until: z.string(),
  at: z.enum(['start', 'change', 'end']),
  ...targetStateSchema.shape,
});

/** Every event's line: the writer's union and the stored-line reader (stored-line.ts) both take them from here. */
/** The metrics a verdict line carries in CloudWatch embedded metric format (docs/fleet.md). */
export const VERDICT_METRICS = ['Verdict', 'IMDSv1Requests', 'EvidenceGaps'] as const;

/**
 * The host's own verdict, as `report` computes it over the daemon's log directory: written
 * periodically and at stop, so that a fleet report reads one line per host, not its requests.
 * With an instance id the line is also an EMF document: `_aws` and the members it names.
 */
export const verdictLineSchema = z.strictObject({
  ...pinoFields,
  event: z.literal('verdict'),
  version: z.string(),
  pid: z.number().int(),
  answer: z.enum(['YES', 'NO', 'UNKNOWN']),
  reasons: z.array(z.strictObject({ code: z.string(), message: z.string() })),
  /** The evidence the answer covers: the host's first and last line read, its boots. */
  window: z.strictObject({ from: z.string(), to: z.string(), seconds: z.number().nonnegative(), boots: count }),
  /** Per boot, earliest first, the latest 20: the time daemon runs covered, and how (as `report` shows them). */
  coverage: z.array(
    z.strictObject({
      boot_id: z.string(),
      from: z.string(),
      to: z.string(),
      seconds: z.number().nonnegative(),
      from_start: z.boolean(),
      runs: count,
      uncovered_gaps: count,
    }),
  ),
  /** Commands of the IMDSv1 caller groups, the most requests first, at most 20 (programs counts all). */
  imdsv1_programs: z.array(z.string()),
  programs: count,
  imdsv1_requests: count,
  /** Missing-evidence reasons (every reason but the IMDSv1 callers). */
  evidence_gaps: count,
  /**
   * Tokenless requests IMDS answered with 2xx (what CloudWatch's MetadataNoToken counts), and
   * the 5-minute periods they fell in, the latest 48: complete when their counts sum to the total.
   */
  tokenless_ok: count,
  tokenless_ok_periods: z.array(z.strictObject({ start: z.string(), count })),
  _aws: z
    .strictObject({
      Timestamp: z.number().int(),
      CloudWatchMetrics: z.array(
        z.strictObject({
          Namespace: z.string(),
          Dimensions: z.array(z.array(z.string())),
          Metrics: z.array(z.strictObject({ Name: z.enum(VERDICT_METRICS), Unit: z.string() })),
        }),
      ),
    })
    .optional(),
  InstanceId: z.string().optional(),
  /** 0 YES, 1 NO, 2 UNKNOWN. */
  Verdict: z.number().int().optional(),
  IMDSv1Requests: count.optional(),
  EvidenceGaps: count.optional(),
});

export const lineSchemas = [
  requestLineSchema,
  readyLineSchema,
  statsLineSchema,
  stoppingLineSchema,
  errorLineSchema,
  canaryLineSchema,
  canaryTargetLineSchema,
  verdictLineSchema,
  summaryLineSchema,
] as const;

export const logLineSchema = z.discriminatedUnion('event', lineSchemas);

export const statusDocumentSchema = z.strictObject({
  boot_id: z.string(),
  instance_id: z.string().nullable(),
  /** As on the lines (cloud-init's instance data); absent from the files of versions before it. */
  region: z.string().nullable().optional(),
  ...daemonDescriptionSchema.shape,
  /** The daemon's start time (clock ticks since boot, /proc/<pid>/stat): `status` tells it from a reused pid. */
  pid_start_ticks: count,
  started_at: z.string(),
  updated_at: z.string(),
  counters: countersSchema,
  /** The canaries running (docs/canary.md); absent from the files of versions before canaries. */
  canaries: z.array(activeCanarySchema).optional(),
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
  | WithoutPino<z.infer<typeof errorLineSchema>>
  | WithoutPino<z.infer<typeof canaryLineSchema>>
  | WithoutPino<z.infer<typeof canaryTargetLineSchema>>
  | WithoutPino<z.infer<typeof verdictLineSchema>>
  | WithoutPino<z.infer<typeof summaryLineSchema>>;
export type StatusDocument = z.infer<typeof statusDocumentSchema>;
export type LogLine = z.infer<typeof logLineSchema>;
export type VerdictLine = z.infer<typeof verdictLineSchema>;
export type VerdictFields = WithoutPino<VerdictLine>;
export type SummaryFields = WithoutPino<z.infer<typeof summaryLineSchema>>;
