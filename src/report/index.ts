// `imds-analyzer report` and `imds-analyzer status`.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import type { ReportFilters } from '../logic/report/aggregate.js';
import { buildReport } from './read.js';
import { renderCsv, renderMarkdown, renderTable } from './render.js';
import { STATUS_FILE_NAME } from '../state/status-file.js';
import { readStatus, renderStatus } from './status.js';

export { type CallerGroup, type Report, reportSchema } from '../logic/report/schema.js';
export { buildReport } from './read.js';

const FORMATS = ['table', 'json', 'csv', 'markdown'] as const;
const EXIT_SAFE = 0;
const EXIT_V1_CALLERS = 1;
const EXIT_ERROR = 2;
const EXIT_NOT_RUNNING = 3;

/** An ISO time, or a relative one such as 30m, 24h, 7d (meaning: that long ago). */
export function parseTime(text: string, nowMs = Date.now()): number {
  const relative = /^(\d+)\s*([smhd])$/.exec(text.trim());
  if (relative) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    return nowMs - Number(relative[1]) * unit;
  }
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
        config: { type: 'string' },
      },
    });
    const format = values.format as (typeof FORMATS)[number];
    if (!FORMATS.includes(format)) throw new Error(`--format must be one of ${FORMATS.join(', ')}`);
    const filters: ReportFilters = {
      includeV2: values['include-v2'],
      ...(values.since ? { sinceMs: parseTime(values.since) } : {}),
      ...(values.until ? { untilMs: parseTime(values.until) } : {}),
      ...(values.host ? { host: values.host } : {}),
    };
    if (filters.sinceMs !== undefined && filters.untilMs !== undefined && filters.sinceMs > filters.untilMs) {
      throw new Error('--since is after --until');
    }
    // Without inputs: the log directory the daemon is configured to write.
    const inputs = positionals.length > 0 ? positionals : [loadConfig(values.config).logDir];
    const report = await buildReport(inputs, filters);
    const colour = process.stdout.isTTY === true && !process.env.NO_COLOR;
    const rendered =
      format === 'json'
        ? `${JSON.stringify(report, null, 2)}\n`
        : format === 'csv'
          ? renderCsv(report)
          : format === 'markdown'
            ? renderMarkdown(report)
            : renderTable(report, colour);
    process.stdout.write(rendered);
    if (!report.verdict.observed) return EXIT_ERROR;
    return report.verdict.safe ? EXIT_SAFE : EXIT_V1_CALLERS;
  } catch (err) {
    process.stderr.write(`imds-analyzer report: ${(err as Error).message}\n`);
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
    process.stderr.write(`imds-analyzer status: ${(err as Error).message}\n`);
    return EXIT_ERROR;
  }
}
