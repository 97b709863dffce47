// The report's `canaries` section (docs/report.md, docs/canary.md): what each canary made IMDS
// refuse, and what became of its target meanwhile.
import * as z from 'zod';
import { sdkSchema } from '../../model/log-line.js';

/** Counts by the HTTP status IMDS answered (`none`: no answer seen). */
const answeredSchema = z.record(z.string(), z.number().int().nonnegative());

/** The refused requests of one program (identified as the caller groups are). */
export const canaryProgramSchema = z.object({
  command: z.string(),
  script: z.string().nullable(),
  exe: z.string().nullable(),
  unit: z.string().nullable(),
  sdk: sdkSchema.nullable(),
  count: z.number().int().nonnegative(),
  answered: answeredSchema,
  /** The first 10 metadata paths it asked for. */
  paths: z.array(z.string()),
  first_seen: z.string(),
  last_seen: z.string(),
  advice: z.string().nullable(),
});

/**
 * Tokenless requests of one program made in the canary's subtree and window that it did not
 * refuse (no `canary` object on their lines), identified as the caller groups are.
 */
export const escapedProgramSchema = canaryProgramSchema.pick({
  command: true,
  script: true,
  exe: true,
  unit: true,
  sdk: true,
  count: true,
  first_seen: true,
  last_seen: true,
});

export const CANARY_OUTCOMES = [
  'refused',
  'escaped',
  'safe',
  'no_imds_requests',
  'incomplete',
  'imds_did_not_refuse',
] as const;

export const canarySectionSchema = z.object({
  host: z.string(),
  /** `unit:NAME`, `cgroup:PATH` or `container:ID`. */
  target: z.string(),
  cgroup: z.string().nullable(),
  /** null when the start line is not in the input. */
  started_at: z.string().nullable(),
  until: z.string(),
  ended_at: z.string().nullable(),
  /** expired, stopped, daemon stopped; null without an end line (running at the end of the logs, or its daemon was killed). */
  end_reason: z.string().nullable(),
  /** From its start to its end (or its latest line). */
  seconds: z.number().nonnegative().nullable(),
  /** Requests it made IMDS refuse (lines with its `canary` object). */
  refused: z.number().int().nonnegative(),
  answered: answeredSchema,
  /** By program, the most requests first (at most 100; programs_unlisted counts the others' requests). */
  programs: z.array(canaryProgramSchema),
  programs_unlisted: z.number().int().nonnegative(),
  /**
   * Tokenless requests made in its cgroup subtree within its window (start .. end line, or its
   * latest line without one) that it did not refuse: a unit's first requests after a restart,
   * before the canary re-attached to its new cgroup; a container restarted in a new cgroup;
   * a connection opened before the canary started; a request it left alone. null when its
   * cgroup or start is not in the input.
   */
  escaped: z.number().int().nonnegative().nullable(),
  /** By program, the most requests first. */
  escaped_programs: z.array(escapedProgramSchema),
  /**
   * Tokenless requests of its subtree around its window whose times the report did not keep
   * (beyond its bound on remembered requests): escapes among them are not counted.
   */
  escapes_unchecked: z.number().int().nonnegative(),
  /** The kernel's counters on its end line (bpf/imds_canary.h): refused, passed_token, sockets, left_alone_*; null without one. */
  kernel: z.record(z.string(), z.number()).nullable(),
  /** What became of the target while it ran (the daemon's canary_target lines). */
  unit: z.object({
    /** systemd: systemctl answered for the unit; cgroup: only its cgroup was seen; none: no line. */
    evidence: z.enum(['systemd', 'cgroup', 'none']),
    /** Its cgroup made anew, or systemd's NRestarts grown, whichever is more; null without evidence. */
    restarts: z.number().int().nonnegative().nullable(),
    /** Seen in systemd's failed state; null without systemd's word. */
    failed: z.boolean().nullable(),
    /** systemd results other than success seen (exit-code, signal, core-dump, ...). */
    results: z.array(z.string()),
    /** Its cgroup seen without a process, or gone; null without evidence. */
    stopped: z.boolean().nullable(),
    /** systemd's ActiveState at its latest line, else its cgroup's state. */
    final_state: z.string().nullable(),
  }),
  /**
   * refused: tokenless requests were refused (the workload would be under required); escaped:
   * none refused, but tokenless requests of the target were not refused; safe: none,
   * and requests with a token passed; no_imds_requests: it did not call IMDS; incomplete: the
   * canary's end or some requests were not judged; imds_did_not_refuse: IMDS answered a refused request 2xx.
   */
  outcome: z.enum(CANARY_OUTCOMES),
  advice: z.array(z.string()),
});

export type CanarySection = z.infer<typeof canarySectionSchema>;
export type CanaryProgram = z.infer<typeof canaryProgramSchema>;
export type EscapedProgram = z.infer<typeof escapedProgramSchema>;
export type Outcome = CanarySection['outcome'];
