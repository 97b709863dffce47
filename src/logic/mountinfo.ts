// /proc/self/mountinfo, parsed: where the cgroup v2 hierarchy is mounted.

/** Mount points of cgroup2 whose root is the hierarchy's root, from /proc/self/mountinfo. */
export function cgroup2Mounts(mountinfo: string): string[] {
  const mounts: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fields = left.split(' ');
    if (right.split(' ')[0] === 'cgroup2' && fields[3] === '/' && fields[4]) {
      mounts.push(fields[4].replace(/\\040/g, ' '));
    }
  }
  return mounts;
}
