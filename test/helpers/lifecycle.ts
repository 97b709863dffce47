// What a daemon describes itself with on its lifecycle lines, for tests that write such lines,
// and the part of a report's host that is its answer (the verdict line carries the same).
import type { DaemonDescription } from '../../src/model/log-line.js';
import type { HostVerdict } from '../../src/report/index.js';

export function daemonDescription(pid: number, logDir: string): DaemonDescription {
  return {
    kernel_release: '6.18.0',
    libbpf_version: '1.1',
    buffer: 'ringbuf',
    cgroup_root: '/sys/fs/cgroup',
    programs: ['imds_connect4'],
    program_ids: { imds_connect4: 7 },
    version: '0.1.0',
    pid,
    log_dir: logDir,
  };
}

/** A host's answer without the ends of its window (lines after its last verdict line move them). */
export const hostAnswer = (h: HostVerdict) => ({
  host: h.host,
  verdict: h.verdict,
  reasons: h.reasons.map((r) => r.code),
  imdsv1_programs: h.imdsv1_programs,
  imdsv1_requests: h.imdsv1_requests,
  boots: h.boots,
  coverage: h.coverage.map(({ boot_id, from_start, runs, uncovered_gaps }) => ({
    boot_id,
    from_start,
    runs,
    uncovered_gaps,
  })),
});
