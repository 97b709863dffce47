// `imds-analyzer report` and `imds-analyzer status`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import type { ReportOptions } from '../logic/report/aggregate.js';
import { parseDuration } from '../logic/report/duration.js';
import type { Answer } from '../logic/report/schema.js';
import { redactText } from '../logic/redact.js';
import { STATUS_FILE_NAME } from '../state/status-file.js';
import { buildReport } from './read.js';
import { renderHtml } from './html.js';
import { renderCsv, renderHostsCsv, renderMarkdown, renderTable } from './render.js';
import { readStatus, renderStatus } from './status.js';

export { type CallerGroup, type HostVerdict, type Report, reportSchema } from '../logic/report/schema.js';
export { buildReport } from './read.js';

const FORMATS = ['table', 'json', 'csv', 'markdown', 'html'] as const;
const EXIT_SAFE = 0;
const EXIT_ERROR = 2;
const EXIT_NOT_RUNNING = 3;
/** UNKNOWN shares exit 2 with errors: in both cases the answer is not known. */
const EXIT_FOR: Record<Answer, number> = { YES: EXIT_SAFE, NO: 1, UNKNOWN: EXIT_ERROR };

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
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        format: { type: 'string', default: 'table' },
        since: { type: 'string' },
        until: { type: 'string' },
        host: { type: 'string' },
        'include-v2': { type: 'boolean', default: false },
        'min-observed': { type: 'string' },
        'allow-no-boot': { type: 'boolean', default: false },
        'hosts-csv': { type: 'string' },
        config: { type: 'string' },
      },
    });
    const format = values.format as (typeof FORMATS)[number];
    if (!FORMATS.includes(format)) throw new Error(`--format must be one of ${FORMATS.join(', ')}`);
    const minObserved = values['min-observed'];
    const minObservedMs = minObserved === undefined ? undefined : parseDuration(minObserved);
    if (minObservedMs === null)
      throw new Error(`--min-observed: not a duration: "${minObserved}" (use 0, 90s, 30m, 24h, 7d)`);
    const options: ReportOptions = {
      includeV2: values['include-v2'],
      allowNoBoot: values['allow-no-boot'],
      ...(minObservedMs !== undefined ? { minObservedMs } : {}),
      ...(values.since ? { sinceMs: parseTime(values.since) } : {}),
      ...(values.until ? { untilMs: parseTime(values.until) } : {}),
      ...(values.host ? { host: values.host } : {}),
    };
    if (options.sinceMs !== undefined && options.untilMs !== undefined && options.sinceMs > options.untilMs) {
      throw new Error('--since is after --until');
    }
    // Without inputs: the log directory the daemon is configured to write.
    const inputs = positionals.length > 0 ? positionals : [loadConfig(values.config).logDir];
    const report = await buildReport(inputs, options);
    if (values['hosts-csv']) writeFileSync(values['hosts-csv'], renderHostsCsv(report));
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
    return EXIT_FOR[report.verdict.answer];
  } catch (err) {
    process.stderr.write(`imds-analyzer report: ${redactText((err as Error).message).text}\n`);
    return EXIT_ERROR;
  }
}

export async function runStatusCommand(args: string[]): Promise<number> {
  try {
    const { values } = parseArgs({ args, options: { state: { type: 'string' }, config: { type: 'string' } } });
    const status = readStatus(values.state ?? join(loadConfig(values.config).stateDir, STATUS_FILE_NAME));
    process.stdout.write(renderStatus(status));
    return status.running ? EXIT_SAFE : EXIT_NOT_RUNNING;
  } catch (err) {
    process.stderr.write(`imds-analyzer status: ${redactText((err as Error).message).text}\n`);
    return EXIT_ERROR;
  }
}
