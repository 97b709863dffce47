#!/usr/bin/env bash
# Fetch and extract one Debian cloud kernel with apt, into a cache outside the repo.
#   scripts/vm/fetch-kernel.sh SUITE [ARCH]   (bullseye -> 5.10, bookworm -> 6.1, trixie -> 6.12;
#                                             ARCH amd64, the default, or arm64)
# Prints the extracted kernel's root directory (holding boot/vmlinuz-* and lib/modules/*).
set -euo pipefail

suite=${1:?usage: fetch-kernel.sh SUITE [ARCH]}
arch=${2:-amd64}
cache=${IMDS_VM_CACHE:-/var/cache/imds-analyzer}
source "$(dirname "$0")/apt.sh"
apt_private_setup "$suite" "$arch"

# The metapackage depends on exactly one versioned image package: that is the suite's kernel.
image=$(apt-cache "${apt_private[@]}" depends "linux-image-cloud-$arch" |
  awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[[ -n $image ]] || { echo "fetch-kernel: no cloud kernel found for $suite" >&2; exit 1; }
version=$(apt-cache "${apt_private[@]}" show "$image" | awk '/^Version:/ { print $2; exit }')

root=$cache/kernels/$image
if [[ ! -f $root/.complete ]]; then
  rm -rf "$root" && mkdir -p "$root"
  debs=$cache/debs && mkdir -p "$debs"
  (cd "$debs" && apt-get "${apt_private[@]}" -qq download "$image=$version" >&2)
  deb=$(ls -t "$debs/${image}_${version//:/%3a}"_*.deb | head -1)
  dpkg-deb -x "$deb" "$root"
  echo "$version" >"$root/.version"
  touch "$root/.complete"
fi
echo "$root"
