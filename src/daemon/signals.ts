// The signals the daemon answers. A stop asked for during the start (READY=1 comes before
// the log is open) waits for the start to finish, then stops cleanly: the default action
// would end the process mid-way. SIGHUP's default action (exit, which systemd takes for a
// clean stop) must never run either, even before there is a log file to reopen.
export interface Signals {
  /** The first SIGTERM or SIGINT. */
  readonly stopped: Promise<NodeJS.Signals>;
  /** Stops listening. */
  close(): void;
}

export function listenForSignals(onHangup: () => void): Signals {
  let stop: (signal: NodeJS.Signals) => void = () => {};
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    stop = resolve;
  });
  const hangup = () => onHangup();
  process.on('SIGHUP', hangup);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return {
    stopped,
    close() {
      process.off('SIGHUP', hangup);
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
    },
  };
}
