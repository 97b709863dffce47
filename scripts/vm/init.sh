#!/bin/sh
# /init of the kernel-matrix VM (busybox sh). Mounts what the analyzer needs, loads the
# network modules, runs the job named by imds_mode= on the kernel command line, prints its
# output between markers on the serial console, and powers off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /sys/fs/cgroup /sys/fs/bpf /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
# A cgroup v1 name=systemd hierarchy beside the v2 one, as on Amazon Linux 2 (the v1_unit cell).
mkdir -p /run/netns /run/cgroup-v1-systemd
mount -t cgroup -o none,name=systemd cgroup /run/cgroup-v1-systemd
# Kernel chatter stays off the console the host parses.
echo 1 >/proc/sys/kernel/printk
hostname imds-vm
ip link set lo up

kver=$(uname -r)
while read -r mod; do
  insmod "/lib/modules/$kver/$mod.ko" || echo "init: insmod $mod failed"
done <"/lib/modules/$kver/load-order"

mode=$(sed -n 's/.*imds_mode=\([^ ]*\).*/\1/p' /proc/cmdline)
cd /project || exit 1
{
  echo "IMDS-VM-BEGIN kernel=$kver mode=$mode uptime=$(cut -d' ' -f1 /proc/uptime)"
  case $mode in
    probe)
      uname -r
      bpftool feature probe kernel | grep -E '^eBPF (program_type cgroup|map_type (ringbuf|sk_storage|task_storage))|CONFIG_(CGROUP_BPF|DEBUG_INFO_BTF|BPF_JIT)='
      ;;
    load) sh scripts/vm/load-check.sh bpf/imds_analyzer.bpf.o ;;
    # The driver runs even when bpftool's load failed: its own columns then say FAIL.
    matrix) sh scripts/vm/load-check.sh bpf/imds_analyzer.bpf.o; node scripts/vm/matrix-driver.mjs ;;
    matrix-quick) sh scripts/vm/load-check.sh bpf/imds_analyzer.bpf.o; node scripts/vm/matrix-driver.mjs --quick ;;
    *)
      echo "init: unknown imds_mode '$mode'"
      false
      ;;
  esac
  echo "IMDS-VM-END rc=$? uptime=$(cut -d' ' -f1 /proc/uptime)"
} >/dev/console 2>&1
sync
poweroff -f
