#!/usr/bin/env bash
# Boot one kernel under qemu (TCG) with the matrix initramfs and run one job inside.
#   scripts/vm/boot.sh KERNEL_ROOT INITRAMFS MODE [TIMEOUT_S] [amd64|arm64]
# arm64 runs qemu-system-aarch64's "virt" machine (Graviton-like: Neoverse is Armv8.2+;
# cortex-a72 is the cheapest CPU for TCG that Debian's arm64 kernel runs on).
# Prints the guest's output (between its markers) and exits with the guest job's status;
# 124 on timeout, 125 when the guest never reported. The full serial log is kept beside
# the initramfs as <initramfs>.<mode>.serial for post-mortems.
set -euo pipefail

kernel_root=${1:?usage: boot.sh KERNEL_ROOT INITRAMFS MODE [TIMEOUT_S]}
initramfs=${2:?}
mode=${3:?}
timeout_s=${4:-900}
arch=${5:-amd64}
vmlinuz=$(ls "$kernel_root"/boot/vmlinuz-* | head -1)
serial=$initramfs.$mode.serial

case $arch in
  amd64) machine=(qemu-system-x86_64 -cpu max) console=ttyS0 ;;
  arm64) machine=(qemu-system-aarch64 -machine virt -cpu cortex-a72) console=ttyAMA0 ;;
  *) echo "boot: unknown arch '$arch' (amd64 or arm64)" >&2; exit 2 ;;
esac

rc=0
timeout --foreground "$timeout_s" "${machine[@]}" \
  -accel tcg -m 3G -smp 2 -no-reboot -nic none \
  -display none -monitor none -serial "file:$serial" \
  -kernel "$vmlinuz" -initrd "$initramfs" \
  -append "console=$console panic=-1 quiet loglevel=1 imds_mode=$mode" || rc=$?
[[ $rc == 124 ]] && { echo "boot: timed out after ${timeout_s}s" >&2; exit 124; }

tr -d '\r' <"$serial" | sed -n '/^IMDS-VM-BEGIN/,/^IMDS-VM-END/p'
status=$(tr -d '\r' <"$serial" | sed -n 's/^IMDS-VM-END rc=\([0-9]*\).*/\1/p' | tail -1)
if [[ -z $status ]]; then
  echo "boot: the guest never reported; last serial lines:" >&2
  tail -n 30 "$serial" >&2
  exit 125
fi
exit "$status"
