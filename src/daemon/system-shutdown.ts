// Whether a stop signal came because the system is shutting down (the stopping line's
// system_shutdown): then this run covers its boot to the end; any other stop leaves a gap
// until the next start. Asked of systemd, in two ways both systemd 219 and 252 answer:
//  - `systemctl is-system-running` prints "stopping" while shutdown.target has a start job
//    queued (the unit has Conflicts=shutdown.target, so it is stopped inside that job);
//  - that state says "starting" when the boot never finished, so `systemctl list-jobs` is
//    asked then: a start job of shutdown.target (or reboot/poweroff/halt/kexec.target).
// No file tells it on both versions (/run/systemd/shutdown/scheduled exists only for a
// shutdown scheduled ahead). Outside systemd, or when systemctl does not answer: false.
import { execFile } from 'node:child_process';

const ANSWER_WAIT_MS = 1000;
const SHUTDOWN_JOB = /^\s*\d+\s+(?:shutdown|reboot|poweroff|halt|kexec)\.target\s+start\b/m;

function systemctl(args: string[]): Promise<string> {
  return new Promise((resolve) => {
    // Its exit status is not 0 for most states: the state is on stdout either way.
    execFile(
      'systemctl',
      args,
      { timeout: ANSWER_WAIT_MS, env: { ...process.env, SYSTEMD_PAGER: '' } },
      (_err, stdout) => resolve(typeof stdout === 'string' ? stdout : ''),
    );
  });
}

/** What systemctl's answers say (pure, for the unit test). */
export function shutdownInAnswers(state: string, jobs: string | null): boolean {
  if (state.trim() === 'stopping') return true;
  return jobs !== null && SHUTDOWN_JOB.test(jobs);
}

/** True when systemd is shutting the system down; false outside systemd or without an answer. */
export async function systemShuttingDown(): Promise<boolean> {
  if (!process.env.NOTIFY_SOCKET) return false;
  const state = await systemctl(['is-system-running']);
  if (shutdownInAnswers(state, null)) return true;
  if (state.trim() !== 'starting' && state.trim() !== 'initializing') return false;
  return shutdownInAnswers(state, await systemctl(['list-jobs', '--no-legend', '--no-pager']));
}
