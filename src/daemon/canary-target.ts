// What becomes of a canary's target while the canary runs (docs/canary.md): its cgroup's state
// (cgroup.events `populated`, or gone), how often a unit's cgroup was made anew, and for a unit
// what systemd says (ActiveState, Result, NRestarts). Polled; the `canary_target` lines written
// at the canary's start, at each change and at its end are what the report's canary section
// reads about the unit's fate.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSystemdShow, SYSTEMD_PROPERTIES, targetStateChanged } from '../logic/canary.js';
import type { SystemdUnitState, TargetState } from '../model/canary.js';

/** A unit's state is asked of systemd this often (a process each time: kept modest). */
const POLL_MS = 5000;
const SYSTEMCTL_TIMEOUT_MS = 5000;

export type TargetMoment = 'start' | 'change' | 'end';

/** The cgroup's state: `populated 1` in cgroup.events, or no such cgroup. */
export function cgroupState(dir: string): TargetState['cgroup_state'] {
  let events: string;
  try {
    events = readFileSync(join(dir, 'cgroup.events'), 'utf8');
  } catch {
    return 'absent';
  }
  return /^populated 1$/m.test(events) ? 'populated' : 'empty';
}

/** systemd's state of a unit; null when systemd does not answer (no systemd, no such unit), 'absent' without systemctl. */
function systemdState(unit: string): Promise<SystemdUnitState | null | 'absent'> {
  return new Promise((resolve) => {
    execFile(
      'systemctl',
      ['show', `--property=${SYSTEMD_PROPERTIES.join(',')}`, '--', unit],
      { encoding: 'utf8', timeout: SYSTEMCTL_TIMEOUT_MS },
      (err, stdout) => {
        if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') resolve('absent');
        else resolve(err ? null : parseSystemdShow(stdout));
      },
    );
  });
}

export class TargetWatch {
  private last: TargetState | null = null;
  private systemd: SystemdUnitState | null = null;
  private noSystemctl = false;
  private asking = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;

  /**
   * `unit`: the unit's name, to ask systemd (null for a cgroup or container); `recreated`: how
   * often the canary followed the unit to a new cgroup so far.
   */
  constructor(
    private readonly dir: () => string,
    private readonly unit: string | null,
    private readonly recreated: () => number,
    private readonly write: (at: TargetMoment, state: TargetState) => void,
  ) {
    this.timer = setInterval(() => this.poll(), POLL_MS).unref();
    this.poll();
  }

  /** Looks now (also when the canary saw the unit's cgroup made anew); a line when anything changed. */
  poll(): void {
    if (this.closed) return;
    if (this.unit === null || this.noSystemctl) {
      this.record();
      return;
    }
    if (this.asking) return;
    this.asking = true;
    void systemdState(this.unit).then((state) => {
      this.asking = false;
      if (state === 'absent') this.noSystemctl = true;
      else this.systemd = state;
      this.record();
    });
  }

  /** The canary ended: its target's state then, written whatever it is. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.write('end', this.state());
  }

  private state(): TargetState {
    return { cgroup_state: cgroupState(this.dir()), recreated: this.recreated(), systemd: this.systemd };
  }

  private record(): void {
    if (this.closed) return;
    const state = this.state();
    if (!targetStateChanged(this.last, state)) return;
    const at = this.last === null ? 'start' : 'change';
    this.last = state;
    this.write(at, state);
  }
}
