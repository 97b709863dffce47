// Telling a system shutdown from a stop of the service (src/daemon/system-shutdown.ts), from
// what systemctl answers on systemd 219 and 252.
import { describe, expect, it } from 'vitest';
import { shutdownInAnswers, systemShuttingDown } from '../../src/daemon/system-shutdown.js';

describe('shutdownInAnswers', () => {
  it('is-system-running says stopping: a shutdown', () => {
    expect(shutdownInAnswers('stopping\n', null)).toBe(true);
  });

  it('any other state, without a shutdown job: not a shutdown', () => {
    for (const state of ['running\n', 'degraded\n', 'starting\n', 'maintenance\n', ''])
      expect(shutdownInAnswers(state, null)).toBe(false);
    expect(shutdownInAnswers('starting\n', '  98 cloud-init.service start running\n')).toBe(false);
  });

  it('a boot that never finished: a start job of shutdown.target or its kin in list-jobs', () => {
    const jobs = (unit: string, type = 'start') =>
      `1021 imds-analyzer.service stop running\n1003 ${unit} ${type} waiting\n`;
    expect(shutdownInAnswers('starting\n', jobs('shutdown.target'))).toBe(true);
    expect(shutdownInAnswers('starting\n', jobs('reboot.target'))).toBe(true);
    expect(shutdownInAnswers('starting\n', jobs('poweroff.target'))).toBe(true);
    expect(shutdownInAnswers('starting\n', jobs('shutdown.target', 'stop'))).toBe(false);
    expect(shutdownInAnswers('starting\n', jobs('my-shutdown.target'))).toBe(false);
  });
});

describe('systemShuttingDown', () => {
  it('outside systemd (no NOTIFY_SOCKET): false, without asking', async () => {
    const saved = process.env.NOTIFY_SOCKET;
    delete process.env.NOTIFY_SOCKET;
    try {
      expect(await systemShuttingDown()).toBe(false);
    } finally {
      if (saved !== undefined) process.env.NOTIFY_SOCKET = saved;
    }
  });
});
