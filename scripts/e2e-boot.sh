#!/usr/bin/env bash
# Boot-time proof under a real systemd: boots a debootstrapped Debian with
# systemd-nspawn inside a test network namespace wired to a test IMDS, with
# imds-analyzer installed from its RPM (scriptlets run for real) and enabled, and a
# stand-in cloud-init-local.service that makes an IMDSv1 call in early boot. Then it
# checks, from the booted system, that the call was caught, that the service was
# ready before network-pre.target and cloud-init-local, that it is active and clean
# under systemd-analyze, that a stop loses no line, and that the watchdog restarts a
# daemon whose event loop is stuck. Prints the measured numbers. Needs root.
#
#   scripts/e2e-boot.sh [--install rpm|copy]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
install_mode=rpm
[[ ${1:-} == --install ]] && install_mode=${2:?--install needs rpm or copy}

fail() { echo "e2e-boot: FAIL: $*" >&2; exit 1; }
note() { echo "e2e-boot: $*" >&2; }

base=$(scripts/boot/make-root.sh)
work=$(mktemp -d /var/tmp/imds-boot.XXXXXX)
machine=imdsboot$$
merged=$work/merged
hold_pid= nspawn_pid=
cleanup() {
  set +e
  [[ -n $nspawn_pid ]] && kill "$nspawn_pid" 2>/dev/null && wait "$nspawn_pid" 2>/dev/null
  [[ -n $hold_pid ]] && kill "$hold_pid" 2>/dev/null && wait "$hold_pid" 2>/dev/null
  mountpoint -q "$merged" && umount "$merged"
  rm -rf "$work"
}
trap cleanup EXIT

# A throwaway writable layer over the cached root.
mkdir -p "$work"/{upper,work,merged}
mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/work" "$merged"

install_payload() {
  if [[ $install_mode == rpm ]]; then
    # Amazon Linux 2 flavour: bundles this host's Node.js and libbpf, so the Debian root
    # needs neither. rpm --root runs the package's own scriptlets inside the root.
    rm -rf dist-rpm
    bash scripts/build-rpm.sh --target al2 --release 1 --bundle-node "$(command -v node)" \
      --bundle-libbpf "$(ldconfig -p | awk '/libbpf\.so\.1 .*x86-64/ {print $NF; exit}')" >&2
    rpm --root "$merged" --initdb
    rpm --root "$merged" -i --nodeps dist-rpm/*.rpm >&2
  else
    local app=$merged/usr/lib/imds-analyzer
    mkdir -p "$app/runtime/bin" "$app/bpf" "$merged/etc/imds-analyzer"
    cp -a dist node_modules package.json "$app/"
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
echo '{ "statsIntervalSeconds": 2, "responseWaitMs": 500 }' > "$merged/etc/imds-analyzer/config.json"
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
netns=$(node -e 'const t = JSON.parse(process.argv[1]); console.log(t.netnsPaths?.[0] ?? `/run/netns/${t.clientNs}`)' "$testbed_json")
note "test IMDS up; container joins $netns"

boot_started=$(date +%s.%N)
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn --boot --quiet --register=no --keep-unit --machine="$machine" \
  -D "$merged" --network-namespace-path="$netns" --capability=all \
  --system-call-filter='bpf perf_event_open' --bind-ro=/sys/kernel/btf \
  >"$work/console.log" 2>&1 &
nspawn_pid=$!

# nspawn's child is the container's systemd.
init=
for _ in $(seq 1 100); do
  init=$(pgrep -P "$nspawn_pid" | head -1 || true)
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
[[ $(show imds-analyzer ActiveState) == active ]] || fail "imds-analyzer is not active: $(in_ct journalctl -u imds-analyzer --no-pager 2>&1 | tail -20)"

logs=$merged/var/log/imds-analyzer
line=
for _ in $(seq 1 40); do
  line=$(cat "$logs"/*.log 2>/dev/null | grep '"event":"imds_request"' | grep '"comm":"curl"' | head -1 || true)
  [[ -n $line ]] && break
  sleep 0.25
done
[[ -n $line ]] || fail "the stand-in's IMDSv1 call is not in $logs"
node -e '
  const l = JSON.parse(process.argv[1]);
  const ok = l.imds_version === "v1" && l.unit === "cloud-init-local.service" &&
    l.process.argv.join(" ") === process.argv[2]; // compares argv with the stand-in run in the nspawn container
  console.error(`e2e-boot: caught: ${l.imds_version} ${l.request.path} unit=${l.unit} pid=${l.process.pid} argv=${l.process.argv.join(" ")}`);
  process.exit(ok ? 0 : 1);
' "$line" "$stand_in_curl" || fail "the stand-in's line is not what was expected"

# Ordering and readiness, from systemd's own monotonic timestamps (microseconds).
mono() { show "$1" "$2"; }
ready_at=$(mono imds-analyzer ActiveEnterTimestampMonotonic)
started_at=$(mono imds-analyzer ExecMainStartTimestampMonotonic)
netpre_at=$(mono network-pre.target ActiveEnterTimestampMonotonic)
cloud_start=$(mono cloud-init-local.service ExecMainStartTimestampMonotonic)
echo "boot: process start -> READY=1: $(( (ready_at - started_at) / 1000 )) ms"
boot0=$(in_ct systemctl show -p UserspaceTimestampMonotonic --value)
echo "boot: after the container's systemd started: imds-analyzer ready at $(( (ready_at - boot0) / 1000 )) ms, cloud-init-local started at $(( (cloud_start - boot0) / 1000 )) ms, network-pre.target reached at $(( (netpre_at - boot0) / 1000 )) ms"
(( ready_at <= cloud_start )) || fail "cloud-init-local started before imds-analyzer was ready"
(( ready_at <= netpre_at )) || fail "network-pre.target was reached before imds-analyzer was ready"

verify=$(in_ct systemd-analyze verify /etc/systemd/system/imds-analyzer.service 2>&1 | grep -v 'cloud-init\|^$' || true)
[[ -z $verify ]] || fail "systemd-analyze verify: $verify"
exposure=$(in_ct systemd-analyze security imds-analyzer.service 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]* [A-Z]*\).*/\1/p')
echo "boot: systemd-analyze security imds-analyzer.service: $exposure"

# A stop loses no line: everything the daemon counted is in the log, then "stopping".
in_ct systemctl stop imds-analyzer
grep -q '"event":"stopping"' "$logs"/*.log || fail "no stopping line after systemctl stop"
node -e '
  const fs = require("fs"), dir = process.argv[1];
  const lines = fs.readdirSync(dir).flatMap((f) => fs.readFileSync(`${dir}/${f}`, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)));
  const stopping = lines.filter((l) => l.event === "stopping").at(-1);
  const logged = lines.filter((l) => l.event === "imds_request").length;
  const counted = stopping.requests.v1 + stopping.requests.v2 + stopping.requests.unknown;
  console.error(`e2e-boot: stop: ${logged} request lines, ${counted} counted by the daemon, kernel lost ${stopping.kernel.events_lost}`);
  process.exit(logged === counted && stopping.kernel.events_lost === 0 ? 0 : 1);
' "$logs" || fail "lines were lost on stop"

# Watchdog: a daemon whose event loop is stuck is restarted by systemd.
mkdir -p "$merged/etc/systemd/system/imds-analyzer.service.d"
# The hook that blocks the loop on SIGUSR2 is a test rig file, loaded only through this drop-in.
install -D -m 0644 dist-test/test/rig/watchdog-hook.js "$merged/usr/local/lib/imds-analyzer-test/watchdog-hook.js"
printf '[Service]\nEnvironment=NODE_OPTIONS=--import=/usr/local/lib/imds-analyzer-test/watchdog-hook.js\nWatchdogSec=3\n' > "$merged/etc/systemd/system/imds-analyzer.service.d/watchdog-test.conf"
in_ct systemctl daemon-reload
in_ct systemctl start imds-analyzer
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
  rm -f "$merged/etc/systemd/system/imds-analyzer.service.d/watchdog-test.conf"
  in_ct systemctl daemon-reload
  in_ct systemctl restart imds-analyzer
  echo '{ "statsIntervalSeconds": 3 }' > "$merged/etc/imds-analyzer/config.json"
  before_pid=$(show imds-analyzer MainPID)
  bash scripts/build-rpm.sh --target al2 --release 2 --bundle-node "$(command -v node)" \
    --bundle-libbpf "$(ldconfig -p | awk '/libbpf\.so\.1 .*x86-64/ {print $NF; exit}')" >&2
  cp dist-rpm/*-2.*.rpm "$merged/var/tmp/upgrade.rpm"
  in_ct rpm -U --nodeps /var/tmp/upgrade.rpm >&2
  after_pid=$(show imds-analyzer MainPID)
  [[ $(cat "$merged/etc/imds-analyzer/config.json") == '{ "statsIntervalSeconds": 3 }' ]] || fail "the upgrade replaced the edited config.json"
  [[ $after_pid != "$before_pid" && $(show imds-analyzer ActiveState) == active ]] || fail "the upgrade did not restart the service ($before_pid -> $after_pid)"
  echo "boot: rpm -U release 2: service restarted (pid $before_pid -> $after_pid), edited config.json kept"
  in_ct rpm -e imds-analyzer >&2
  [[ $(show imds-analyzer ActiveState) != active ]] || fail "erase left the service running"
  if compgen -G "$merged/etc/systemd/system/*.wants/imds-analyzer.service" >/dev/null; then fail "erase left the unit enabled"; fi
  echo "boot: rpm -e: service stopped, no unit left enabled"
fi
echo "boot: PASS (install: $install_mode, boot ${boot_seconds}s)"
