// The `imds-analyzer report --format json` document. Exported so that fleet tooling can
// validate what it reads (docs/report.md documents each field).
import * as z from 'zod';

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
  command: z.string(),
  unit: z.string().nullable(),
  container: z.string().nullable(),
  sdk: z.string().nullable(),
  count: z.number().int().nonnegative(),
  hosts: z.array(z.string()),
  first_seen: z.string(),
  last_seen: z.string(),
  paths: z.array(z.string()),
  responses: z.object({ accepted: z.number().int(), rejected: z.number().int(), other: z.number().int(), none: z.number().int() }),
  fallbacks: z.number().int().nonnegative(),
  advice: z.string().nullable(),
  example: processExampleSchema,
});

export const reportSchema = z.object({
  verdict: z.object({
    safe: z.boolean(),
    /** false when no line was read (or none matched the filters): the answer is unknown, exit 2. */
    observed: z.boolean(),
    text: z.string(),
    imdsv1_programs: z.number().int().nonnegative(),
    imdsv1_requests: z.number().int().nonnegative(),
  }),
  observation: z.object({
    hosts: z.array(z.string()),
    boots: z.number().int().nonnegative(),
    from: z.string().nullable(),
    to: z.string().nullable(),
    seconds: z.number().nonnegative(),
  }),
  warnings: z.array(z.string()),
  groups: z.array(callerGroupSchema),
  input: z.object({
    files: z.number().int().nonnegative(),
    lines: z.number().int().nonnegative(),
    corrupt_lines: z.number().int().nonnegative(),
    /** Files that failed part-way (a gzip cut short, a read error); named in `warnings`. */
    unreadable_files: z.number().int().nonnegative(),
  }),
});

export type Report = z.infer<typeof reportSchema>;
export type CallerGroup = z.infer<typeof callerGroupSchema>;
