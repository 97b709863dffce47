// Loaded into the daemon only by the boot test (`NODE_OPTIONS=--import <this file>` in a
// drop-in): SIGUSR2 then blocks the event loop for good, which is how the test proves
// that systemd's watchdog restarts a daemon whose loop is stuck. Never shipped.
process.on('SIGUSR2', () => {
  for (;;) {
    // A stuck event loop: no watchdog ping is ever sent again.
  }
});
