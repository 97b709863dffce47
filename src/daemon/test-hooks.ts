// Hooks for tests of the service itself, off unless IMDS_ANALYZER_TEST_HOOKS=1.
// SIGUSR2 then blocks the event loop for good, which is how the watchdog test proves
// that systemd restarts a daemon whose loop is stuck.
export function installTestHooks(): void {
  if (process.env.IMDS_ANALYZER_TEST_HOOKS !== '1') return;
  process.on('SIGUSR2', () => {
    for (;;) {
      // A stuck event loop: no watchdog ping is ever sent again.
    }
  });
}
