// An unprivileged local user, as the hostile-user tests and the bench play one: a fresh uid
// (no account, no groups) and, as systemd's user@UID.service would give it, a cgroup subtree
// delegated to that uid, where it names cgroups as it likes.
import { spawn } from 'node:child_process';
import { chownSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Testbed } from './netns.js';

/** The system python (a pyenv shim under /root is out of an unprivileged user's reach). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** A uid no account has. */
export function freshUid(): number {
  const taken = new Set(
    readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((line) => Number(line.split(':')[2])),
  );
  for (;;) {
    const uid = 200_000 + Math.floor(Math.random() * 100_000);
    if (!taken.has(uid)) return uid;
  }
}

/** `argv` run as `uid` (same gid), with no supplementary groups and no capabilities. */
export function asUser(uid: number, argv: readonly string[]): string[] {
  return ['setpriv', '--reuid', String(uid), '--regid', String(uid), '--clear-groups', '--', ...argv];
}

/** user.slice/user-UID.slice/user@UID.service in the testbed's cgroup2 tree, handed to `uid` as systemd delegates it. */
export function delegatedSubtree(bed: Testbed, uid: number): { relative: string; path: string } {
  const relative = `user.slice/user-${uid}.slice/user@${uid}.service`;
  const path = bed.cgroupPath(relative);
  for (const name of ['', 'cgroup.procs', 'cgroup.threads', 'cgroup.subtree_control'])
    chownSync(join(path, name), uid, uid);
  return { relative, path };
}

/** Removes what the user made below `path` (its own cgroups), deepest first. */
export function removeUserCgroups(path: string): void {
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const child = join(path, entry.name);
    removeUserCgroups(child);
    rmdirSync(child);
  }
}

// For each i, a child that makes <subtree>/app.slice/<marker>-<i>.scope (plus `depth` levels
// below it), moves itself there and makes one IMDSv1 GET ?t=<marker>-<i>; 32 children at a time.
const STORM = String.raw`
import os, socket, sys
base, count, depth, marker = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
failed, running = 0, 0
def reap():
    global failed, running
    _, status = os.wait()
    running -= 1
    failed += status != 0
for i in range(count):
    path = os.path.join(base, 'app.slice', '%s-%d.scope' % (marker, i), *['d%d' % k for k in range(depth)])
    while running >= 32:
        reap()
    if os.fork() == 0:
        try:
            os.makedirs(path)
            with open(os.path.join(path, 'cgroup.procs'), 'w') as f:
                f.write(str(os.getpid()))
            s = socket.create_connection(('169.254.169.254', 80), timeout=10)  # in the test netns (nsenter)
            s.sendall(('GET /latest/meta-data/instance-id?t=%s-%d HTTP/1.0\r\nHost: 169.254.169.254\r\n\r\n' % (marker, i)).encode())
            while s.recv(4096):
                pass
            os._exit(0)
        except Exception as e:
            sys.stderr.write('%d: %s\n' % (i, e))
            os._exit(1)
    running += 1
while running:
    reap()
print(failed)
`;

/**
 * Runs `argv` as `uid` inside the delegated `subtree` (it starts there and may move itself into
 * cgroups it makes below), in the testbed's client namespace. nsenter, unlike ip netns exec,
 * keeps the cgroup2 mount in sight.
 */
export async function runInSubtree(
  bed: Testbed,
  uid: number,
  subtree: string,
  argv: readonly string[],
): Promise<{ code: number | null; pid: number; stdout: string; stderr: string; elapsedMs: number }> {
  if (!statSync(subtree).isDirectory()) throw new Error(`${subtree} is not a cgroup directory`);
  const command = [
    'sh',
    '-c',
    'echo $$ > "$1/cgroup.procs" && shift && exec "$@"',
    'sh',
    subtree,
    'nsenter',
    `--net=/run/netns/${bed.clientNs}`,
    ...asUser(uid, argv),
  ];
  const started = Date.now();
  const child = spawn(command[0] as string, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, pid: child.pid as number, stdout, stderr, elapsedMs: Date.now() - started };
}

/**
 * `count` IMDS connections as `uid`, each from a cgroup the user makes fresh in its delegated
 * subtree, `depth` levels below its scope (the kernel sends 8 levels of a caller's cgroup path:
 * deeper ones arrive cut, and attribution rests on the cgroup id).
 */
export async function connectFromFreshCgroups(
  bed: Testbed,
  options: { uid: number; subtree: string; count: number; depth: number; marker: string },
): Promise<{ elapsedMs: number; failed: number }> {
  const { uid, subtree, count, depth, marker } = options;
  const run = await runInSubtree(bed, uid, subtree, [
    SYSTEM_PYTHON,
    '-c',
    STORM,
    subtree,
    String(count),
    String(depth),
    marker,
  ]);
  if (run.code !== 0) throw new Error(`cgroup storm ended with ${run.code}: ${run.stderr}`);
  return { elapsedMs: run.elapsedMs, failed: Number(run.stdout.trim()) };
}
