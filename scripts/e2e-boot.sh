#!/usr/bin/env bash
# Boot-time proof under a real systemd: boots a debootstrapped Debian with
# systemd-nspawn inside a test network namespace wired to a test IMDS, with
# imds-analyzer installed from its RPM (scriptlets run for real) and enabled, and a
# stand-in cloud-init-local.service that makes an IMDSv1 call in early boot. Then it
# checks, from the booted system, that the call was caught, that the service was
# ready before network-pre.target and cloud-init-local, that it is active and clean
# under systemd-analyze, that a stop loses no line, and that the watchdog restarts a
# daemon whose event loop is stuck. With the RPM, an IMDSv2 client making one request
# every 20 ms runs through a SIGKILL (and the automatic restart), a `systemctl restart`,
# an upgrade to a package with a changed BPF object and one to a package whose maps
# changed layout: every request it made must be logged exactly once, each new daemon's
# ready line must say whether it continued the capture (a changed layout: drained, or a
# named gap), and `imds-analyzer report` over that window must answer YES. A `systemctl
# stop` then `start` must be a named gap (report: UNKNOWN). After `systemctl stop` and
# after `rpm -e`, `bpftool link` must show none of our links; a poweroff's stopping line
# must say system_shutdown. Prints the measured numbers. Needs root.
#
#   scripts/e2e-boot.sh [--flavour al2023|al2] [--install rpm|copy]
#     al2023  (default) the Amazon Linux 2023 package: runs /usr/bin/node-22, installed in the
#             root from the npm registry's Node.js 22 (scripts/fetch-node.sh)
#     al2     the Amazon Linux 2 package: bundles this host's Node.js and libbpf
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
install_mode=rpm
flavour=al2023
while (($#)); do
  case $1 in
    --install) install_mode=${2:?--install needs rpm or copy}; shift 2 ;;
    --flavour) flavour=${2:?--flavour needs al2023 or al2}; shift 2 ;;
    *) echo "e2e-boot: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ $flavour == al2023 || $flavour == al2 ]] || { echo "e2e-boot: unknown flavour '$flavour'" >&2; exit 2; }

note() { echo "e2e-boot: $*" >&2; }
# The analyses are typed modules (test/rig/boot/check.ts); this script only orchestrates.
check() { node "$repo/dist-test/test/rig/boot/check.js" "$@"; }
# Each phase names itself; a failure says which phase, why, and where what a person needs to see
# why is kept (the daemon's journal and counters, bpftool's view, the console, the logs).
phase=setup
phase() { phase=$1; note "phase: $phase"; }
evidence_dir=
fail() {
  trap - ERR
  echo "e2e-boot: FAIL in phase '$phase': $*" >&2
  keep_evidence
  exit 1
}
trap 'fail "command failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR
keep_evidence() {
  set +e
  evidence_dir=$(mktemp -d /var/tmp/imds-boot-evidence.XXXXXX)
  [[ -n ${init:-} ]] && kill -0 "$init" 2>/dev/null && {
    in_ct journalctl -u imds-analyzer --no-pager -n 300 >"$evidence_dir/journal-imds-analyzer.txt" 2>&1
    in_ct systemctl --failed --no-legend >"$evidence_dir/failed-units.txt" 2>&1
  }
  bpftool link show >"$evidence_dir/bpftool-link.txt" 2>&1
  bpftool prog show >"$evidence_dir/bpftool-prog.txt" 2>&1
  [[ -f ${work:-}/console.log ]] && cp "$work/console.log" "$evidence_dir/"
  if [[ -d ${logs:-} ]]; then
    cp -a "$logs" "$evidence_dir/logs"
    check counters "$logs" "$evidence_dir/counters.json" 2>>"$evidence_dir/counters.err"
  fi
  echo "e2e-boot: evidence of the failure kept in $evidence_dir (journal-imds-analyzer.txt, counters.json, bpftool-*.txt, console.log, logs/)" >&2
  tail -n 15 "$evidence_dir/journal-imds-analyzer.txt" 2>/dev/null | sed 's/^/e2e-boot: journal: /' >&2
}

base=$(scripts/boot/make-root.sh)
work=$(mktemp -d /var/tmp/imds-boot.XXXXXX)
machine=imdsboot$$
merged=$work/merged
hold_pid= nspawn_pid=
cleanup() {
  local status=$?
  set +e
  # An exit that no fail() explained (set -e inside a function): still name the phase, keep the evidence.
  if ((status != 0)) && [[ -z $evidence_dir ]]; then
    echo "e2e-boot: FAIL in phase '$phase': exit $status" >&2
    keep_evidence
  fi
  [[ -n $nspawn_pid ]] && kill "$nspawn_pid" 2>/dev/null && wait "$nspawn_pid" 2>/dev/null
  [[ -n $hold_pid ]] && kill "$hold_pid" 2>/dev/null && wait "$hold_pid" 2>/dev/null
  mountpoint -q "$merged" && umount "$merged"
  rm -rf "$work"
}
trap cleanup EXIT

# A throwaway writable layer over the cached root.
mkdir -p "$work"/{upper,work,merged}
mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/work" "$merged"

# The flavour's RPM of the given release, into dist-rpm/.
build_rpm() {  # release [extra build-rpm.sh arguments]
  local release=$1
  shift
  if [[ $flavour == al2023 ]]; then
    bash scripts/build-rpm.sh --target al2023 --release "$release" "$@" >&2
  else
    bash scripts/build-rpm.sh --target al2 --release "$release" --bundle-node "$(command -v node)" \
      --bundle-libbpf "$(ldconfig -p | awk '/libbpf\.so\.1 .*x86-64/ {print $NF; exit}')" "$@" >&2
  fi
}

install_payload() {
  if [[ $install_mode == rpm ]]; then
    # AL2023 needs what its nodejs22 package brings, /usr/bin/node-22 (the Debian root has
    # libbpf 1.x and libsystemd). The AL2 package bundles Node.js and libbpf: the root needs
    # neither. rpm --root runs the package's own scriptlets inside the root.
    rm -rf dist-rpm
    build_rpm 1
    if [[ $flavour == al2023 ]]; then
      install -D -m 0755 "$(scripts/fetch-node.sh 22)/bin/node" "$merged/usr/bin/node-22"
    fi
    rpm --root "$merged" --initdb
    rpm --root "$merged" -i --nodeps dist-rpm/*.rpm >&2
  else
    local app=$merged/usr/lib/imds-analyzer
    mkdir -p "$app/runtime/bin" "$app/bpf" "$merged/etc/imds-analyzer"
    cp -a bundle node_modules package.json "$app/"
    cp bpf/imds_analyzer.bpf.o "$app/bpf/"
    cp "$(command -v node)" "$app/runtime/bin/node"
    sed 's/@NODE_MAJOR@/20/' packaging/rpm/imds-analyzer.sh > "$merged/usr/bin/imds-analyzer"
    chmod 755 "$merged/usr/bin/imds-analyzer"
    cp packaging/systemd/imds-analyzer.service "$merged/etc/systemd/system/"
    echo '{}' > "$merged/etc/imds-analyzer/config.json"
  fi
}
npm run --silent build
install_payload
# Stats every 2 s so the test sees counters quickly.
# Every request gets its own line (no summary lines): the continuity check follows each one.
echo '{ "statsIntervalSeconds": 2, "responseWaitMs": 500, "summary": { "enabled": false } }' > "$merged/etc/imds-analyzer/config.json"
systemctl --root="$merged" enable imds-analyzer.service >&2

# The stand-in, ordered exactly like cloud-init's own cloud-init-local.service (and
# not ordered after imds-analyzer): the first IMDS call of a real EC2 boot.
stand_in_curl="/usr/bin/curl -s -m 5 -o /dev/null http://169.254.169.254/latest/meta-data/instance-id"  # runs only inside the nspawn container, in the test netns
cat > "$merged/etc/systemd/system/cloud-init-local.service" <<UNIT
[Unit]
Description=Stand-in for cloud-init-local: an IMDSv1 call in early boot
DefaultDependencies=no
Wants=network-pre.target
After=systemd-remount-fs.service
Before=network-pre.target shutdown.target sysinit.target
Conflicts=shutdown.target
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=$stand_in_curl
[Install]
WantedBy=sysinit.target
UNIT
systemctl --root="$merged" enable cloud-init-local.service >&2

# The test IMDS and the namespace the container boots in.
exec {hold_fd}< <(exec node dist-test/test/rig/hold.js --prefix boot)
hold_pid=$!
read -r -u "$hold_fd" testbed_json
netns=$(check netns "$testbed_json")
note "test IMDS up; container joins $netns"

phase boot
boot_started=$(date +%s.%N)
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn --boot --quiet --register=no --keep-unit --machine="$machine" \
  -D "$merged" --network-namespace-path="$netns" --capability=all \
  --system-call-filter='bpf perf_event_open' --bind-ro=/sys/kernel/btf \
  >"$work/console.log" 2>&1 &
nspawn_pid=$!

# nspawn's child that runs systemd is the container's init (nspawn forks short-lived helpers
# first: taking one of those for init made every later nsenter fail).
init=
for _ in $(seq 1 100); do
  init=$(pgrep -P "$nspawn_pid" -x systemd | head -1 || true)
  [[ -n $init ]] && break
  sleep 0.1
done
[[ -n $init ]] || fail "container did not start: $(tail -20 "$work/console.log")"
in_ct() { nsenter -t "$init" -m -u -i -n -p -- "$@"; }

state=
for _ in $(seq 1 120); do
  state=$(in_ct systemctl is-system-running 2>/dev/null || true)
  [[ $state == running || $state == degraded ]] && break
  sleep 0.5
done
boot_seconds=$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $boot_started }")
note "container booted: $state in ${boot_seconds}s"
[[ $state == running ]] || note "failed units: $(in_ct systemctl --failed --no-legend 2>&1 | tr '\n' ' ')"

show() { in_ct systemctl show "$1" -p "$2" --value; }
# Links whose program is one of ours (imds_*), machine-wide: the kernel's view, not the daemon's.
our_links() { check links; }
# Waits (up to 3 s: a closed link is freed after the fd goes) until none of our links is left.
expect_no_links() {
  local n
  for _ in $(seq 1 30); do
    n=$(our_links)
    [[ $n == 0 ]] && { echo "boot: $1: bpftool link shows none of our links"; return; }
    sleep 0.1
  done
  fail "$1 left $n of our links attached: $(bpftool link show)"
}
logs=$merged/var/log/imds-analyzer
[[ $(show imds-analyzer ActiveState) == active ]] || fail "imds-analyzer is not active"

phase "early boot call"
# Compares the logged argv with the stand-in's, run in the nspawn container.
check stand-in "$logs" "$stand_in_curl" || fail "the stand-in's IMDSv1 call is not in $logs as expected"

phase "ordering and readiness"
# Ordering and readiness, from systemd's own monotonic timestamps (microseconds).
mono() { show "$1" "$2"; }
ready_at=$(mono imds-analyzer ActiveEnterTimestampMonotonic)
started_at=$(mono imds-analyzer ExecMainStartTimestampMonotonic)
netpre_at=$(mono network-pre.target ActiveEnterTimestampMonotonic)
cloud_start=$(mono cloud-init-local.service ExecMainStartTimestampMonotonic)
echo "boot: process start -> READY=1: $(( (ready_at - started_at) / 1000 )) ms"
# Which Node.js the unit really started: AL2023's versioned node-22, AL2's bundled one.
daemon_exe=$(in_ct readlink "/proc/$(show imds-analyzer MainPID)/exe")
daemon_node=$(in_ct "$daemon_exe" --version)
echo "boot: flavour $flavour: the daemon runs $daemon_exe ($daemon_node)"
# Nice= from the unit on every thread, so a user's process flood cannot starve the drain.
unit_nice=$(sed -n 's/^Nice=//p' "$repo/packaging/systemd/imds-analyzer.service")
thread_nices=$(in_ct ps -L -o nice= -p "$(show imds-analyzer MainPID)" | sort -u | tr -d ' ')
[[ $thread_nices == "$unit_nice" ]] || fail "the daemon's threads run at nice '$thread_nices', the unit says $unit_nice"
echo "boot: every thread of the daemon runs at nice $unit_nice"
if [[ $flavour == al2023 ]]; then
  [[ $daemon_exe == /usr/bin/node-22 && $daemon_node == v22.* ]] || fail "the AL2023 unit did not start /usr/bin/node-22"
fi
boot0=$(in_ct systemctl show -p UserspaceTimestampMonotonic --value)
echo "boot: after the container's systemd started: imds-analyzer ready at $(( (ready_at - boot0) / 1000 )) ms, cloud-init-local started at $(( (cloud_start - boot0) / 1000 )) ms, network-pre.target reached at $(( (netpre_at - boot0) / 1000 )) ms"
(( ready_at <= cloud_start )) || fail "cloud-init-local started before imds-analyzer was ready"
(( ready_at <= netpre_at )) || fail "network-pre.target was reached before imds-analyzer was ready"

verify=$(in_ct systemd-analyze verify /etc/systemd/system/imds-analyzer.service 2>&1 | grep -v 'cloud-init\|^$' || true)
[[ -z $verify ]] || fail "systemd-analyze verify: $verify"
exposure=$(in_ct systemd-analyze security imds-analyzer.service 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]* [A-Z]*\).*/\1/p')
echo "boot: systemd-analyze security imds-analyzer.service: $exposure"

phase "lossless stop"
# A stop loses no line: everything the daemon counted is in the log, then "stopping".
in_ct systemctl stop imds-analyzer
check stop "$logs" || fail "lines were lost on stop, or no stopping line"
# Node.js 22 saved its compile cache on the way out, where the sandbox lets it (CacheDirectory=).
if [[ $flavour == al2023 ]]; then
  cached=$(find "$merged/var/cache/imds-analyzer" -type f 2>/dev/null | wc -l)
  (( cached > 0 )) || fail "Node.js 22 left no compile cache in /var/cache/imds-analyzer"
  echo "boot: compile cache: $cached files in /var/cache/imds-analyzer"
fi
expect_no_links "systemctl stop"

phase watchdog
# Watchdog: a daemon whose event loop is stuck is restarted by systemd.
mkdir -p "$merged/etc/systemd/system/imds-analyzer.service.d"
# The hook that blocks the loop on SIGUSR2 is a test rig file, loaded only through this drop-in.
install -D -m 0644 dist-test/test/rig/watchdog-hook.js "$merged/usr/local/lib/imds-analyzer-test/watchdog-hook.js"
printf '[Service]\nEnvironment=NODE_OPTIONS=--import=/usr/local/lib/imds-analyzer-test/watchdog-hook.js\nWatchdogSec=3\n' > "$merged/etc/systemd/system/imds-analyzer.service.d/watchdog-test.conf"
in_ct systemctl daemon-reload
in_ct systemctl start imds-analyzer
echo "boot: second start (compile cache warm on al2023): process start -> READY=1: $(( ($(mono imds-analyzer ActiveEnterTimestampMonotonic) - $(mono imds-analyzer ExecMainStartTimestampMonotonic)) / 1000 )) ms"
restarts_before=$(show imds-analyzer NRestarts)
stuck_pid=$(show imds-analyzer MainPID)
in_ct kill -USR2 "$stuck_pid"
for _ in $(seq 1 60); do
  pid_now=$(show imds-analyzer MainPID)
  [[ $(show imds-analyzer NRestarts) -gt $restarts_before && $pid_now != 0 && $pid_now != "$stuck_pid" && $(show imds-analyzer ActiveState) == active ]] && break
  sleep 0.5
done
restarts_after=$(show imds-analyzer NRestarts)
(( restarts_after > restarts_before )) || fail "the watchdog did not restart the stuck daemon"
in_ct journalctl -u imds-analyzer --no-pager | grep -qi 'watchdog timeout' || fail "no watchdog timeout in the journal"
echo "boot: watchdog restarted the stuck daemon (NRestarts $restarts_before -> $restarts_after, pid $stuck_pid -> $(show imds-analyzer MainPID))"
# The package's own scriptlets under a running systemd: an upgrade keeps an edited
# config.json and restarts the service; an erase stops it and leaves no unit enabled.
if [[ $install_mode == rpm ]]; then
  phase "upgrade packages"
  rm -f "$merged/etc/systemd/system/imds-analyzer.service.d/watchdog-test.conf"
  in_ct systemctl daemon-reload
  in_ct systemctl restart imds-analyzer
  # Release 2 carries a changed BPF object: the same source built for BPF ISA v2 (other
  # instructions, so other program tags), as a real upgrade would.
  variant=$work/imds_analyzer.v2.bpf.o
  clang -target bpf -mcpu=v2 -O2 -g -Wall -Werror -I bpf -I "/usr/include/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)" \
    -c bpf/imds_analyzer.bpf.c -o "$variant"
  llvm-strip -g "$variant"
  ! cmp -s "$variant" bpf/imds_analyzer.bpf.o || fail "the upgrade's BPF object is not different"
  build_rpm 2 --bpf-object "$variant"
  cp dist-rpm/*-2.*.rpm "$merged/var/tmp/upgrade.rpm"
  # Release 3 changes a map's layout (scratch_depth's value: 4 -> 8 bytes, written whole), so
  # the maps of release 2 cannot be taken over: the new daemon loads fresh ones.
  relayout=$work/imds_analyzer.relayout.bpf.o
  perl -0pe 's/(__type\(value, )__u32(\);\n\} scratch_depth)/${1}__u64$2/; s/__u32 \*depth/__u64 *depth/g' \
    bpf/imds_analyzer.bpf.c > "$work/relayout.bpf.c"
  grep -q '__u64 \*depth' "$work/relayout.bpf.c" || fail "the relayout variant did not change scratch_depth"
  clang -target bpf -O2 -g -Wall -Werror -I bpf -I "/usr/include/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)" \
    -c "$work/relayout.bpf.c" -o "$relayout"
  llvm-strip -g "$relayout"
  build_rpm 3 --bpf-object "$relayout"
  cp dist-rpm/*-3.*.rpm "$merged/var/tmp/relayout.rpm"

  # Continuity: an IMDSv2 client takes a token, then makes one request every 20 ms, each on a new
  # connection and with its own number, through a crash, a restart and the upgrades; it records
  # each answered request and stops when told, never mid-request. It runs as a unit so that it
  # is in the container's cgroup. Only IMDSv2 from here on: the report over this window says YES.
  phase continuity
  out=/var/tmp/imds-client.out
  rm -f "$merged$out" "$merged/var/tmp/imds-client.stop"
  install -m 0644 dist-test/test/rig/boot/imds-client.js "$merged/var/tmp/imds-client.mjs"
  # The window the report answers for: from just before the client's first request.
  window_since=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
  # The client runs on the node the unit started: the flavour's (AL2023: node-22, AL2: bundled).
  in_ct systemd-run --unit=imds-client --quiet "$daemon_exe" /var/tmp/imds-client.mjs "$out" /var/tmp/imds-client.stop
  # The report (this tree's) over the logs since $1, as an operator would ask it: its lines and
  # exit status (report_status) printed under "$2".
  report_since() {
    report_status=0
    report=$(node bundle/imds-analyzer.mjs report --min-observed 0 --allow-no-boot --since "$1" "$logs" 2>&1) ||
      report_status=$?
    sed "s/^/boot: report over $2: /" <<<"$report"
    echo "boot: report over $2: exit $report_status"
  }
  client_at() { sort -n "$merged$out" 2>/dev/null | tail -1 | cut -d' ' -f1; }
  wait_active_after() {  # pid before; waits for a new main pid, active
    for _ in $(seq 1 100); do
      local pid; pid=$(show imds-analyzer MainPID)
      [[ $pid != 0 && $pid != "$1" && $(show imds-analyzer ActiveState) == active ]] && return
      sleep 0.1
    done
    fail "imds-analyzer did not come back after pid $1"
  }
  sleep 2
  marks=("start $(client_at)")
  pid=$(show imds-analyzer MainPID)
  in_ct systemctl kill -s KILL imds-analyzer
  wait_active_after "$pid"
  sleep 2
  marks+=("kill $(client_at)")
  pid=$(show imds-analyzer MainPID)
  in_ct systemctl restart imds-analyzer
  wait_active_after "$pid"
  sleep 2
  marks+=("restart $(client_at)")
  # Taken over, not attached again: still exactly one link per program.
  programs=$(node dist-test/test/rig/bpf-programs.js)
  [[ $(our_links) == "$programs" ]] || fail "after the restarts $(our_links) of our links are attached, not $programs"

  echo '{ "statsIntervalSeconds": 3, "summary": { "enabled": false } }' > "$merged/etc/imds-analyzer/config.json"
  before_pid=$(show imds-analyzer MainPID)
  in_ct rpm -U --nodeps /var/tmp/upgrade.rpm >&2
  wait_active_after "$before_pid"
  sleep 2
  marks+=("upgrade $(client_at)")
  # The cgroup links switched in place; the old raw_tp links stay beside the new ones until a stop.
  links_after_upgrade=$(our_links)
  most_links=$(check links-after-upgrade)
  (( links_after_upgrade <= most_links )) || fail "after the upgrade $links_after_upgrade of our links are attached (at most $most_links)"
  echo "boot: after the upgrade: $links_after_upgrade of our links attached"
  upgraded_pid=$(show imds-analyzer MainPID)
  in_ct rpm -U --nodeps /var/tmp/relayout.rpm >&2
  wait_active_after "$upgraded_pid"
  sleep 2
  marks+=("relayout $(client_at)")
  touch "$merged/var/tmp/imds-client.stop"
  for _ in $(seq 1 50); do [[ $(show imds-client ActiveState) == active ]] || break; sleep 0.1; done
  # Past the daemon's response wait (default 2 s after the upgrade's config), every line is out.
  sleep 3
  check continuity "$logs" "$merged$out" "${marks[@]}" || fail "a request was lost or logged twice across the faults"
  # How each daemon took over: from its ready line, and what its replay did not log again.
  check handovers "$logs"
  # Each takeover in the window says what it was: the crash, the restart and the same-layout
  # upgrade continued the capture; the changed layout drained the old ring (continued) or names its gap.
  check takeovers "$logs" "$window_since" || fail "a takeover in the window did not say it continued the capture, or a gap went unnamed"
  # The report over the client's window (IMDSv2 only) credits every takeover: YES.
  report_since "$window_since" "the crash, restart and upgrades"
  (( report_status == 0 )) || fail "the report over the faults' window did not answer YES"

  upgraded_to=$(show imds-analyzer MainPID)
  [[ $(cat "$merged/etc/imds-analyzer/config.json") == '{ "statsIntervalSeconds": 3, "summary": { "enabled": false } }' ]] || fail "the upgrade replaced the edited config.json"
  [[ $upgraded_pid != "$before_pid" && $(show imds-analyzer ActiveState) == active ]] || fail "the upgrade did not restart the service ($before_pid -> $upgraded_pid)"
  echo "boot: rpm -U release 2: service restarted (pid $before_pid -> $upgraded_pid), edited config.json kept"

  phase "stop and start"
  # A stop then a start on the same boot: systemd let go of the capture, so the next daemon
  # starts afresh and the time between is a gap the report names: UNKNOWN.
  gap_since=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
  in_ct systemctl stop imds-analyzer
  in_ct systemctl start imds-analyzer
  wait_active_after "$upgraded_to"
  sleep 3
  check stop-start "$logs" || fail "a stop and start did not read as a gap"
  report_since "$gap_since" "a stop and start"
  (( report_status == 2 )) && grep -q 'fresh_start' <<<"$report" || fail "the report over a stop and start did not answer UNKNOWN naming the gap"

  phase erase
  in_ct rpm -e imds-analyzer >&2
  [[ $(show imds-analyzer ActiveState) != active ]] || fail "erase left the service running"
  expect_no_links "rpm -e"
  if compgen -G "$merged/etc/systemd/system/*.wants/imds-analyzer.service" >/dev/null; then fail "erase left the unit enabled"; fi
  echo "boot: rpm -e: service stopped, no unit left enabled"

  phase poweroff
  # A shutdown: installed again and started, then the system powers off. The daemon's last
  # stopping line says the system was shutting down (its run covers the boot to its end).
  in_ct rpm -i --nodeps /var/tmp/relayout.rpm >&2
  in_ct systemctl start imds-analyzer
  wait_active_after 0
  # --- Canary phase (test/boot/canary-phase.ts): --unit under this systemd; it ends on stop, restart, erase.
  node dist-test/test/boot/canary-phase.js --init "$init" --root "$merged" --package /var/tmp/relayout.rpm ||
    fail "the canary phase (its FAIL line above)"
  # --- End of the canary phase: the package is installed again and the service running.
  # Its bus connection may be cut by the poweroff itself; the wait below tells.
  in_ct systemctl poweroff || true
  for _ in $(seq 1 300); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$nspawn_pid" 2>/dev/null || fail "the container did not power off"
  wait "$nspawn_pid" || true
  nspawn_pid=
  check poweroff "$logs" || fail "the stopping line at poweroff does not say system_shutdown"
fi
echo "boot: PASS (flavour: $flavour, install: $install_mode, boot ${boot_seconds}s)"
