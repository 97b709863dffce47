// `imds-analyzer report` and `imds-analyzer status`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import { EXIT, errorLine, exitStatusOf, OutputError, UsageError } from '../logic/exit-status.js';
import type { ReportOptions } from '../logic/report/aggregate.js';
import type { LogTokenless } from '../logic/report/cross-check.js';
import { parseDuration } from '../logic/report/duration.js';
import type { CrossCheck } from '../logic/report/schema.js';
import { STATUS_FILE_NAME } from '../state/status-file.js';
import { Progress } from './progress.js';
import { buildReport } from './read.js';
import { renderHtml } from './html.js';
import { renderCsv, renderHostsCsv, renderMarkdown, renderTable } from './render.js';
import { readStatus, renderStatus, statusJson } from './status.js';

export { type CallerGroup, type HostVerdict, type Report, reportSchema } from '../logic/report/schema.js';
export { buildReport } from './read.js';

const FORMATS = ['table', 'json', 'csv', 'markdown', 'html'] as const;

const REPORT_OPTIONS = {
  format: { type: 'string', default: 'table' },
  since: { type: 'string' },
  until: { type: 'string' },
  host: { type: 'string' },
  'include-v2': { type: 'boolean', default: false },
  'min-observed': { type: 'string' },
  'allow-no-boot': { type: 'boolean', default: false },
  'hosts-csv': { type: 'string' },
  workers: { type: 'string' },
  verdicts: { type: 'boolean', default: false },
  'cross-check': { type: 'string' },
  config: { type: 'string' },
} as const;
const STATUS_OPTIONS = {
  state: { type: 'string' },
  config: { type: 'string' },
  format: { type: 'string', default: 'text' },
} as const;

/** Ends a command on an error: one line on stderr, and the error's own exit status. */
function fail(command: string, err: unknown, options: object): number {
  process.stderr.write(errorLine(`imds-analyzer ${command}`, err, Object.keys(options)));
  return exitStatusOf(err);
}

/** An ISO time, or a relative one such as 30m, 24h, 7d (meaning: that long ago). */
export function parseTime(text: string, nowMs = Date.now()): number {
  const ago = parseDuration(text);
  if (ago !== null) return nowMs - ago;
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Error(`not a time: "${text}" (use ISO 8601 or a duration like 24h, 7d)`);
  return t;
}

export async function runReportCommand(args: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: REPORT_OPTIONS });
    const format = values.format as (typeof FORMATS)[number];
    if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}`);
    const minObserved = values['min-observed'];
    const minObservedMs = minObserved === undefined ? undefined : parseDuration(minObserved);
    if (minObservedMs === null)
      throw new UsageError(`--min-observed: not a duration: "${minObserved}" (use 0, 90s, 30m, 24h, 7d)`);
    const options: ReportOptions = {
      includeV2: values['include-v2'],
      allowNoBoot: values['allow-no-boot'],
      ...(minObservedMs !== undefined ? { minObservedMs } : {}),
      ...(values.since ? { sinceMs: parseTimeOption('--since', values.since) } : {}),
      ...(values.until ? { untilMs: parseTimeOption('--until', values.until) } : {}),
      ...(values.host ? { host: values.host } : {}),
    };
    if (options.sinceMs !== undefined && options.untilMs !== undefined && options.sinceMs > options.untilMs) {
      throw new UsageError('--since is after --until');
    }
    // Without inputs: the log directory the daemon is configured to write.
    const inputs = positionals.length > 0 ? positionals : [loadConfig(values.config).logDir];
    const workers = values.workers === undefined ? undefined : Number(values.workers);
    if (workers !== undefined && !(Number.isInteger(workers) && workers >= 0))
      throw new UsageError(`--workers: not a number of threads: "${values.workers}"`);
    const crossCheck = values['cross-check'];
    if (crossCheck !== undefined && crossCheck !== 'cloudwatch')
      throw new UsageError(`--cross-check: the only source is cloudwatch, not "${crossCheck}"`);
    const progress = new Progress(process.stderr);
    const report = await buildReport(inputs, options, {
      verdictsOnly: values.verdicts,
      ...(crossCheck ? { crossCheck: crossCheckWithCloudWatch } : {}),
      ...(workers !== undefined ? { workers } : {}),
      onStart: (files) => progress.start(files),
      onFile: (done) => progress.file(done),
    }).finally(() => progress.finish());
    const hostsCsv = values['hosts-csv'];
    if (hostsCsv) {
      try {
        writeFileSync(hostsCsv, renderHostsCsv(report));
      } catch (err) {
        throw new OutputError(`--hosts-csv: cannot write ${hostsCsv} (${(err as Error).message})`);
      }
    }
    const colour = process.stdout.isTTY === true && !process.env.NO_COLOR;
    const rendered =
      format === 'json'
        ? `${JSON.stringify(report, null, 2)}\n`
        : format === 'csv'
          ? renderCsv(report)
          : format === 'markdown'
            ? renderMarkdown(report)
            : format === 'html'
              ? renderHtml(report)
              : renderTable(report, colour);
    process.stdout.write(rendered);
    return report.exit_status;
  } catch (err) {
    return fail('report', err, REPORT_OPTIONS);
  }
}

/** CloudWatch's count beside the log's; a failure to read it is one stderr line and leaves the verdict as it is. */
async function crossCheckWithCloudWatch(evidence: LogTokenless[]): Promise<CrossCheck> {
  const { crossCheckCloudWatch } = await import('./cloudwatch.js');
  const check = await crossCheckCloudWatch(evidence, Date.now());
  if (check.status === 'failed')
    process.stderr.write(
      errorLine('imds-analyzer report', `cross-check skipped, the verdict is the log's alone: ${check.note}`),
    );
  else if (check.note !== null)
    process.stderr.write(errorLine('imds-analyzer report', `cross-check incomplete: ${check.note}`));
  return check;
}

function parseTimeOption(option: string, text: string): number {
  try {
    return parseTime(text);
  } catch (err) {
    throw new UsageError(`${option}: ${(err as Error).message}`);
  }
}

export async function runStatusCommand(args: string[]): Promise<number> {
  try {
    const { values } = parseArgs({ args, options: STATUS_OPTIONS });
    if (values.format !== 'text' && values.format !== 'json') throw new UsageError('--format must be text or json');
    const status = readStatus(values.state ?? join(loadConfig(values.config).stateDir, STATUS_FILE_NAME));
    process.stdout.write(values.format === 'json' ? statusJson(status) : renderStatus(status));
    return status.running ? EXIT.ok : EXIT.notRunning;
  } catch (err) {
    return fail('status', err, STATUS_OPTIONS);
  }
}
