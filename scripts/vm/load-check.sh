#!/bin/sh
# Loads every program of the prebuilt object with bpftool, the way libbpf does, then
# reports each program's verifier cost. Runs in the VM (busybox sh) and on the host.
#   scripts/vm/load-check.sh OBJECT
# Prints "load: ok in N ms" and one "program NAME processed_insns=N" line per program, or
# "load: FAILED" followed by the full verifier log; exits non-zero on failure.
# The count is the verifier's own "processed N insns" from a log-level-1 load, which every
# kernel prints (bpf_prog_info.verified_insns needs 5.16 and a newer bpftool than 7.1).
object=${1:?usage: load-check.sh OBJECT}
pin=/sys/fs/bpf/imds-load-check-$$
log=${TMPDIR:-/tmp}/imds-load-check-$$.log
uptime_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }

start=$(uptime_ms)
if ! bpftool prog loadall "$object" "$pin" >"$log" 2>&1; then
  echo "load: FAILED; verifier log follows"
  bpftool -d prog loadall "$object" "$pin" 2>&1
  rm -rf "$pin" "$log"
  exit 1
fi
echo "load: ok in $(($(uptime_ms) - start)) ms"
rm -rf "$pin"
bpftool -d prog loadall "$object" "$pin" 2>&1 |
  awk "/^libbpf: prog '.*': -- BEGIN PROG LOAD LOG --/ { split(\$0, q, \"'\"); name = q[2] }
       /^processed [0-9]+ insns/ && name != \"\" { print \"program \" name \" processed_insns=\" \$2; name = \"\" }"
rm -rf "$pin" "$log"
