#!/usr/bin/env bash
# Fetch the Debian packages below for another architecture, with everything they depend on,
# and unpack them into one directory: the userland of the arm64 matrix VM, and the sysroot
# the arm64 sd-notify addon is built against. No maintainer script runs.
#   scripts/vm/fetch-root.sh SUITE ARCH
# Prints the root directory (cached under $IMDS_VM_CACHE/roots, keyed on suite, arch and list).
set -euo pipefail

suite=${1:?usage: fetch-root.sh SUITE ARCH}
arch=${2:?usage: fetch-root.sh SUITE ARCH}
packages=(
  libc6 libstdc++6                        # node (the binary itself comes from npm: node-linux-ARCH)
  libsystemd0 libsystemd-dev              # the sd-notify addon: loads libsystemd, built against it
  libbpf1 bpftool                         # the daemon's libbpf; the matrix's load check
  busybox-static util-linux               # /init and its tools; unshare
  curl iproute2 python3.11                # the test clients and the test IMDS's namespaces
)
cache=${IMDS_VM_CACHE:-/var/cache/imds-analyzer}
source "$(dirname "$0")/apt.sh"
apt_private_setup "$suite" "$arch"

root=$cache/roots/$suite-$arch-$(echo "${packages[*]}" | sha256sum | cut -c1-12)
if [[ ! -f $root/.complete ]]; then
  rm -rf "$root" && mkdir -p "$root"
  # An empty dpkg status: apt downloads the whole dependency closure of what is named.
  archives=$root.debs
  mkdir -p "$archives/partial"
  apt-get "${apt_private[@]}" -o "Dir::Cache::Archives=$archives" -qq -y --no-install-recommends \
    -o Debug::NoLocking=1 install --download-only "${packages[@]}" >&2
  for deb in "$archives"/*.deb; do dpkg-deb -x "$deb" "$root"; done
  # Debian 12+ roots are merged-/usr: /bin, /sbin and /lib are links into /usr.
  for dir in bin sbin lib; do
    if [[ -d $root/$dir && ! -L $root/$dir ]]; then
      cp -a "$root/$dir/." "$root/usr/$dir/" && rm -rf "${root:?}/$dir"
    fi
    [[ -e $root/$dir ]] || ln -s "usr/$dir" "$root/$dir"
  done
  touch "$root/.complete"
fi
echo "$root"
