// systemd's file descriptor store (FileDescriptorStoreMax=, systemd 219 and later): fds
// sent with FDSTORE=1 are kept by systemd across a crash with Restart=, `systemctl
// restart` and the package's try-restart, handed back at the next start (LISTEN_FDS), and
// closed on a real stop. Sending fds needs SCM_RIGHTS, which Node cannot do: libsystemd's
// sd_pid_notify_with_fds does it. Like every notification, a failure is reported, not fatal.
import koffi, { type LibraryHandle } from 'koffi';

const SD_LISTEN_FDS_START = 3;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

export interface FdStore {
  /** The fds systemd handed back at this start (none outside systemd or on a fresh start). */
  readonly inherited: number[];
  /** Running under systemd with libsystemd at hand: fds can be stored. */
  readonly available: boolean;
  /** Asks systemd to keep these fds; false when there is no store (not under systemd). */
  store(fds: number[]): boolean;
}

/** Reads LISTEN_FDS/LISTEN_PID once and clears them, so children inherit neither the fds nor the claim. */
function takeListenFds(fcntl: ((fd: number, cmd: number, arg: number) => number) | null): number[] {
  const { LISTEN_PID, LISTEN_FDS } = process.env;
  delete process.env.LISTEN_PID;
  delete process.env.LISTEN_FDS;
  delete process.env.LISTEN_FDNAMES;
  if (LISTEN_PID !== String(process.pid) || !LISTEN_FDS) return [];
  const count = Number.parseInt(LISTEN_FDS, 10);
  if (!Number.isInteger(count) || count <= 0) return [];
  const fds = Array.from({ length: count }, (_, i) => SD_LISTEN_FDS_START + i);
  for (const fd of fds) fcntl?.(fd, F_SETFD, FD_CLOEXEC);
  return fds;
}

export function openFdStore(): FdStore {
  let libc: LibraryHandle | null = null;
  try {
    libc = koffi.load('libc.so.6');
  } catch {
    libc = null;
  }
  const fcntl = libc
    ? (libc.func('int fcntl(int fd, int cmd, int arg)') as unknown as (fd: number, cmd: number, arg: number) => number)
    : null;
  const inherited = takeListenFds(fcntl);
  type NotifyWithFds = (pid: number, unset: number, state: string, fds: Int32Array, n: number) => number;
  let notifyWithFds: NotifyWithFds | null = null;
  if (process.env.NOTIFY_SOCKET) {
    try {
      const libsystemd = koffi.load('libsystemd.so.0');
      notifyWithFds = libsystemd.func(
        'int sd_pid_notify_with_fds(int pid, int unset_environment, const char *state, const int *fds, unsigned int n_fds)',
      ) as unknown as NotifyWithFds;
    } catch (err) {
      process.stderr.write(`imds-analyzer: no systemd fd store (libsystemd): ${(err as Error).message}\n`);
    }
  }
  return {
    inherited,
    available: notifyWithFds !== null,
    store(fds) {
      if (!notifyWithFds || fds.length === 0) return false;
      // FDPOLL=0 (systemd 246+; older ones ignore it): systemd otherwise polls each stored fd
      // and drops it on EPOLLERR, which the kernel reports for every BPF map but a ring buffer.
      return notifyWithFds(0, 0, 'FDSTORE=1\nFDPOLL=0', Int32Array.from(fds), fds.length) > 0;
    },
  };
}
