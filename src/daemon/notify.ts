// Readiness, status and watchdog pings to systemd through the sd-notify package. Every
// call is a no-op without NOTIFY_SOCKET (foreground runs, tests) and never throws: a
// failed notification must not take the daemon down.
import { createRequire } from 'node:module';

interface SdNotify {
  ready(): void;
  stopping(): void;
  sendStatus(text: string): void;
  watchdog(): void;
  watchdogInterval(): number;
}

export interface ServiceNotifier {
  ready(status: string): void;
  status(text: string): void;
  stopping(): void;
  /** Pings the watchdog from the event loop while `alive()` says the daemon does its work; returns how to stop. */
  startWatchdog(alive: () => boolean): () => void;
}

function loadSdNotify(): SdNotify | null {
  if (!process.env.NOTIFY_SOCKET) return null;
  try {
    return createRequire(import.meta.url)('sd-notify') as SdNotify;
  } catch (err) {
    // Under Type=notify this would end in a start timeout with no word why: say it.
    process.stderr.write(
      `imds-analyzer: cannot load sd-notify (built for another Node.js major?): ${(err as Error).message}\n`,
    );
    return null;
  }
}

export function createNotifier(): ServiceNotifier {
  const sd = loadSdNotify();
  const safely = (fn: (sd: SdNotify) => void) => {
    if (!sd) return;
    try {
      fn(sd);
    } catch {
      // Notifications are best effort.
    }
  };
  return {
    ready: (status) =>
      safely((s) => {
        s.sendStatus(status);
        s.ready();
      }),
    status: (text) => safely((s) => s.sendStatus(text)),
    stopping: () => safely((s) => s.stopping()),
    startWatchdog(alive) {
      let timer: NodeJS.Timeout | undefined;
      safely((s) => {
        // watchdogInterval() is WATCHDOG_USEC in ms (0 when no watchdog): ping twice per period
        // from the event loop, so a stuck loop, or a dead drain loop (alive() false twice in a
        // row), stops the pings and systemd restarts us.
        const periodMs = s.watchdogInterval();
        if (periodMs <= 0) return;
        const tick = () => {
          let ok = false;
          try {
            ok = alive();
          } catch {
            // A failing health check is no proof of health.
          }
          if (ok) safely((x) => x.watchdog());
        };
        timer = setInterval(tick, Math.max(100, Math.floor(periodMs / 2)));
        timer.unref();
      });
      return () => clearInterval(timer);
    },
  };
}
