// `imds-analyzer report` and `imds-analyzer status`.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isRunningAnalyzer } from '../daemon/instance-lock.js';
import { ReportBuilder, type ReportFilters } from '../logic/report/aggregate.js';
import { reportSchema } from '../logic/report/schema.js';
import { expandInputs, readLines } from './read.js';
import { renderCsv, renderMarkdown, renderTable } from './render.js';

export { reportSchema } from '../logic/report/schema.js';

const DEFAULT_LOG_DIR = '/var/log/imds-analyzer';
const DEFAULT_STATE_FILE = '/run/imds-analyzer/status.json';
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
    const files = expandInputs(positionals.length > 0 ? positionals : [DEFAULT_LOG_DIR]);
    const builder = new ReportBuilder(filters);
    for (const file of files) {
      builder.addFile();
      for await (const text of readLines(file)) {
        if (!text.trim()) continue;
        let line: unknown;
        try {
          line = JSON.parse(text);
        } catch {
          builder.addCorrupt();
          continue;
        }
        if (line && typeof line === 'object' && !Array.isArray(line)) builder.add(line as Record<string, unknown>);
        else builder.addCorrupt();
      }
    }
    const report = reportSchema.parse(builder.result());
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
    return report.verdict.safe ? EXIT_SAFE : EXIT_V1_CALLERS;
  } catch (err) {
    process.stderr.write(`imds-analyzer report: ${(err as Error).message}\n`);
    return EXIT_ERROR;
  }
}

function directorySize(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const st = statSync(join(dir, name));
    if (st.isFile()) total += st.size;
  }
  return total;
}

export async function runStatusCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { state: { type: 'string', default: DEFAULT_STATE_FILE } } });
  const stateFile = values.state as string;
  if (!existsSync(stateFile)) {
    process.stdout.write(`imds-analyzer is not running (no ${stateFile})\n`);
    return EXIT_NOT_RUNNING;
  }
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as {
    pid: number;
    started_at: string;
    updated_at: string;
    buffer: string;
    programs: string[];
    program_ids: Record<string, number>;
    log_dir: string;
    counters: { requests: Record<string, number>; kernel: Record<string, number>; lines_not_written: number };
  };
  const alive = isRunningAnalyzer(state.pid);
  const k = state.counters.kernel;
  const logBytes = existsSync(state.log_dir) ? directorySize(state.log_dir) : 0;
  const lines = [
    `imds-analyzer: ${alive ? `running (pid ${state.pid}) since ${state.started_at}` : `NOT running (last state from pid ${state.pid}, ${state.updated_at})`}`,
    `buffer: ${state.buffer}`,
    `programs: ${state.programs.map((p) => `${p}#${state.program_ids[p] ?? '?'}`).join(' ')}`,
    `requests: v1=${state.counters.requests.v1 ?? 0} v2=${state.counters.requests.v2 ?? 0} unknown=${state.counters.requests.unknown ?? 0}`,
    `lost events: ${k.events_lost ?? 0} (process records lost ${k.process_events_lost ?? 0}, shed ${k.process_events_shed ?? 0}); log lines not written: ${state.counters.lines_not_written}`,
    `log directory: ${state.log_dir} (${(logBytes / 1048576).toFixed(1)} MiB)`,
    `state updated: ${state.updated_at}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return alive ? 0 : EXIT_NOT_RUNNING;
}
