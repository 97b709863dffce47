// The `imds-analyzer report --format json` document. Exported so that fleet tooling can
// validate what it reads (docs/report.md documents each field).
import * as z from 'zod';
import { sdkSchema } from '../../model/log-line.js';
import { canarySectionSchema } from './canary-schema.js';

export const processExampleSchema = z.object({
  pid: z.number().nullable(),
  comm: z.string().nullable(),
  exe: z.string().nullable(),
  argv: z.array(z.string()),
  user: z.string().nullable(),
  ancestors: z.array(z.object({ pid: z.number(), comm: z.string(), argv: z.array(z.string()) })),
});

export const callerGroupSchema = z.object({
  kind: z.enum(['imdsv1', 'imdsv2', 'unknown', 'not_aws_api']),
  exe: z.string().nullable(),
  /** The caller's argv shape: URLs, paths and numbers normalised (the executable and script kept). */
  command: z.string(),
  /** The script the caller runs, or the one that ran it (a tool called by a script); part of the program's identity. */
  script: z.string().nullable(),
  unit: z.string().nullable(),
  container: z.string().nullable(),
  /** The request line's own `sdk` object (the log contract's). */
  sdk: sdkSchema.nullable(),
  count: z.number().int().nonnegative(),
  hosts: z.array(z.string()),
  first_seen: z.string(),
  last_seen: z.string(),
  /** The metadata paths the program called (the first 50 distinct, sorted). */
  paths: z.array(z.string()),
  /** Requests to paths beyond the listed ones. */
  paths_unlisted: z.number().int().nonnegative(),
  /** IMDSv1 and unclassified callers: requests per hour (hours with none left out). */
  timeline: z.array(z.object({ hour: z.string(), count: z.number().int().positive() })),
  /** ok = 2xx, rejected = 401, other = any other status, none = no answer seen. */
  responses: z.object({
    ok: z.number().int(),
    rejected: z.number().int(),
    other: z.number().int(),
    none: z.number().int(),
  }),
  fallbacks: z.number().int().nonnegative(),
  /** Requests of this group a canary made IMDS refuse (counted in responses.rejected too; docs/canary.md). */
  canary_refused: z.number().int().nonnegative(),
  /** The line's own advice, else derived from the SDK and response as the daemon would. */
  advice: z.string().nullable(),
  example: processExampleSchema,
});

/** Why an answer is not YES: the IMDSv1 callers (NO), or each piece of missing evidence (UNKNOWN). */
export const REASON_CODES = [
  'imdsv1_callers',
  'no_lines',
  'input_incomplete',
  'unreadable_lines',
  'no_daemon_start',
  'no_boot_from_start',
  'late_start',
  'uncovered_restart',
  'boot_end_unseen',
  'short_window',
  'events_lost',
  'perf_buffer_lost',
  'decode_errors',
  'record_errors',
  'drain_errors',
  'parse_errors',
  'responses_unmatched',
  'stream_holes',
  'lines_not_written',
  'unclassified_requests',
  'evidence_rotated_out',
  'summaries_lost',
  'cloudwatch_disagrees',
] as const;
export const reasonSchema = z.object({ code: z.enum(REASON_CODES), message: z.string() });

export const answerSchema = z.enum(['YES', 'NO', 'UNKNOWN']);

export const hostVerdictSchema = z.object({
  /** instance_id when the lines carry one, else hostname. */
  host: z.string(),
  instance_id: z.string().nullable(),
  hostname: z.string().nullable(),
  verdict: answerSchema,
  reasons: z.array(reasonSchema),
  /** Commands of the IMDSv1 caller groups seen on this host. */
  imdsv1_programs: z.array(z.string()),
  imdsv1_requests: z.number().int().nonnegative(),
  boots: z.number().int().nonnegative(),
  first_seen: z.string(),
  last_seen: z.string(),
  /** Observed time: the union of what its runs cover, within the window (docs/report.md). */
  seconds: z.number().nonnegative(),
  /** Per boot seen (earliest first): the time its daemon runs covered, whether one started with the boot, gaps between runs. */
  coverage: z.array(
    z.object({
      boot_id: z.string(),
      from: z.string(),
      to: z.string(),
      seconds: z.number().nonnegative(),
      from_start: z.boolean(),
      runs: z.number().int().positive(),
      uncovered_gaps: z.number().int().nonnegative(),
    }),
  ),
});

/** `report --cross-check cloudwatch`: the log's tokenless 2xx requests against AWS/EC2 MetadataNoToken. */
export const crossCheckSchema = z.object({
  source: z.literal('cloudwatch'),
  metric: z.string(),
  /**
   * checked: CloudWatch was read (in at least one region; note names the regions it could not
   * be read in); failed: it could not be (note says why; the verdict is the log's alone).
   */
  status: z.enum(['checked', 'failed']),
  note: z.string().nullable(),
  hosts: z.array(
    z.object({
      host: z.string(),
      instance_id: z.string().nullable(),
      /** The region CloudWatch was asked in for this host; null when it was not asked. */
      region: z.string().nullable(),
      /** Where that region came from: the host's lines, the SDK's configuration, or IMDS on this very instance. */
      region_from: z.enum(['log', 'sdk', 'imds']).nullable(),
      /**
       * not_checked: no instance id, no region, a window older than CloudWatch keeps, or its
       * region could not be read (note says which); no_data: CloudWatch had no data point for
       * it over the window (another region, or none published): no evidence either way.
       */
      result: z.enum(['agrees', 'disagrees', 'no_data', 'not_checked']),
      /** 5-minute periods compared (a period without a CloudWatch data point counts as 0). */
      periods: z.number().int().nonnegative(),
      cloudwatch_total: z.number().nonnegative(),
      log_total: z.number().int().nonnegative(),
      /** The periods CloudWatch counted more in (before a verdict line's listed periods: one span, compared as a sum). */
      more_in_cloudwatch: z.array(
        z.object({ from: z.string(), to: z.string(), cloudwatch: z.number(), log: z.number().int() }),
      ),
      /** Periods the log saw more in: CloudWatch's publishing delay, not evidence. */
      fewer_in_cloudwatch: z.number().int().nonnegative(),
      note: z.string().nullable(),
    }),
  ),
});

export const reportSchema = z.object({
  /** The exit status the report command ends with: 0 YES, 1 NO, 2 UNKNOWN (never an error's). */
  exit_status: z.union([z.literal(0), z.literal(1), z.literal(2)]),
  verdict: z.object({
    answer: answerSchema,
    /** answer === 'YES'. */
    safe: z.boolean(),
    /** false when no line was read (or none matched the filters). */
    observed: z.boolean(),
    text: z.string(),
    reasons: z.array(reasonSchema),
    imdsv1_programs: z.number().int().nonnegative(),
    imdsv1_requests: z.number().int().nonnegative(),
  }),
  observation: z.object({
    hosts: z.array(z.string()),
    boots: z.number().int().nonnegative(),
    from: z.string().nullable(),
    to: z.string().nullable(),
    seconds: z.number().nonnegative(),
    /** The minimum window a YES needs (--min-observed), and whether a boot seen from its start is. */
    min_observed_seconds: z.number().nonnegative(),
    boot_from_start_required: z.boolean(),
  }),
  /** One entry per host, sorted NO, UNKNOWN, YES, then by host. */
  hosts: z.array(hostVerdictSchema),
  warnings: z.array(z.string()),
  groups: z.array(callerGroupSchema),
  /** One entry per canary with a line in the window (docs/canary.md). */
  canaries: z.array(canarySectionSchema),
  input: z.object({
    files: z.number().int().nonnegative(),
    lines: z.number().int().nonnegative(),
    corrupt_lines: z.number().int().nonnegative(),
    /** Files that failed part-way (a gzip cut short, a read error); named in `warnings`. */
    unreadable_files: z.number().int().nonnegative(),
  }),
  /** Only with --cross-check cloudwatch. */
  cross_check: crossCheckSchema.optional(),
});

export type Report = z.infer<typeof reportSchema>;
export type CallerGroup = z.infer<typeof callerGroupSchema>;
export type HostVerdict = z.infer<typeof hostVerdictSchema>;
export type Reason = z.infer<typeof reasonSchema>;
export type ReasonCode = Reason['code'];
export type Answer = z.infer<typeof answerSchema>;
export type CrossCheck = z.infer<typeof crossCheckSchema>;
export type HostCrossCheck = CrossCheck['hosts'][number];
export type PeriodDisagreement = HostCrossCheck['more_in_cloudwatch'][number];
