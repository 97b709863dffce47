#!/usr/bin/env bash
# Debootstraps the Debian root the boot test boots, once, into a cache outside the
# repository (IMDS_BOOT_CACHE, default /var/cache/imds-analyzer). Prints its path.
set -euo pipefail
cache=${IMDS_BOOT_CACHE:-/var/cache/imds-analyzer}
root=$cache/rootfs-bookworm
# rpm: the RPM's upgrade and erase are run inside the booted system.
packages=systemd,systemd-sysv,dbus,libbpf1,libstdc++6,curl,iproute2,procps,ca-certificates,rpm
version=2
if [[ $(cat "$root/.complete" 2>/dev/null) != "$version" ]]; then
  rm -rf "$root"
  mkdir -p "$cache"
  debootstrap --variant=minbase --include="$packages" bookworm "$root" http://deb.debian.org/debian >&2
  # A machine id and no getty: the container boots quietly and fast.
  systemd-machine-id-setup --root="$root" >&2
  rm -f "$root"/etc/systemd/system/getty.target.wants/* "$root"/etc/systemd/system/multi-user.target.wants/getty*
  echo "$version" > "$root/.complete"
fi
echo "$root"
