// `imds-analyzer status`: the daemon's state file, whether the process that wrote it still
// runs (its pid with the same start time: no lock, which only root may touch), the size of
// its log directory and the canaries running; as text, or as JSON (--format json).
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NoInputError } from '../logic/exit-status.js';
import type { ActiveCanary } from '../model/canary.js';
import { type StatusDocument, statusDocumentSchema } from '../model/log-line.js';
import { isProcessRunning } from '../state/instance-lock.js';

export type DaemonState = StatusDocument;

export interface Status {
  stateFile: string;
  /** null when there is no state file: the daemon never started (or /run was cleared). */
  state: DaemonState | null;
  running: boolean;
  logBytes: number | null;
}

function directorySize(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const st = statSync(join(dir, name), { throwIfNoEntry: false });
    if (st?.isFile()) total += st.size;
  }
  return total;
}

/** Throws a NoInputError when the state file exists but cannot be read or is not the daemon's state. */
export function readStatus(stateFile: string): Status {
  if (!existsSync(stateFile)) return { stateFile, state: null, running: false, logBytes: null };
  let text: string;
  try {
    text = readFileSync(stateFile, 'utf8');
  } catch (err) {
    throw new NoInputError(`cannot read ${stateFile} (${(err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new NoInputError(`${stateFile} is not valid JSON (${(err as Error).message})`);
  }
  const parsed = statusDocumentSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new NoInputError(
      `${stateFile} is not an imds-analyzer state file: ${issue?.path.join('.') || '(top)'}: ${issue?.message}`,
    );
  }
  const state = parsed.data;
  const logBytes = existsSync(state.log_dir) ? directorySize(state.log_dir) : null;
  return { stateFile, state, running: isProcessRunning(state.pid, state.pid_start_ticks), logBytes };
}

/** Canaries end with the daemon: a state file of a daemon that no longer runs lists none that still are. */
export function activeCanaries({ state, running }: Status): ActiveCanary[] {
  return running ? (state?.canaries ?? []) : [];
}

/** `status --format json`: what the text says, and the whole state file. */
export function statusJson(status: Status): string {
  const { stateFile, state, running, logBytes } = status;
  return `${JSON.stringify({ running, state_file: stateFile, log_bytes: logBytes, canaries: activeCanaries(status), state }, null, 2)}\n`;
}

function canaryLines(status: Status): string[] {
  const canaries = activeCanaries(status);
  if (canaries.length === 0) return [`canaries: none${status.running ? '' : ' (a canary ends with its daemon)'}`];
  return [
    `canaries: ${canaries.length} running`,
    ...canaries.map((c) => `  ${c.target}  ${c.mode}  since ${c.started_at}  until ${c.until}  (cgroup ${c.cgroup})`),
  ];
}

export function renderStatus(status: Status): string {
  const { stateFile, state, running, logBytes } = status;
  if (!state) return `imds-analyzer is not running (no ${stateFile})\n`;
  const { requests, kernel, lines_not_written } = state.counters;
  const lines = [
    running
      ? `imds-analyzer: running (pid ${state.pid}) since ${state.started_at}`
      : `imds-analyzer: NOT running (last state from pid ${state.pid}, ${state.updated_at})`,
    `buffer: ${state.buffer}`,
    `programs: ${state.programs.map((p) => `${p}#${state.program_ids[p] ?? '?'}`).join(' ')}`,
    `requests: v1=${requests.v1 ?? 0} v2=${requests.v2 ?? 0} unknown=${requests.unknown ?? 0}`,
    `lost events: ${kernel.events_lost ?? 0} (process records lost ${kernel.process_events_lost ?? 0}, ` +
      `not stored ${kernel.process_store_failed ?? 0}); log lines not written: ${lines_not_written}`,
    `log directory: ${state.log_dir} (${logBytes === null ? 'missing' : `${(logBytes / 1048576).toFixed(1)} MiB`})`,
    ...canaryLines(status),
    `state updated: ${state.updated_at}`,
  ];
  return `${lines.join('\n')}\n`;
}
