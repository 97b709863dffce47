#!/usr/bin/env bash
# Fetch and extract one Debian cloud kernel with apt, into a cache outside the repo.
#   scripts/vm/fetch-kernel.sh SUITE      (bullseye -> 5.10, bookworm -> 6.1, trixie -> 6.12)
# Prints the extracted kernel's root directory (holding boot/vmlinuz-* and lib/modules/*).
# A private apt state per suite keeps the host's own apt configuration untouched.
set -euo pipefail

suite=${1:?usage: fetch-kernel.sh SUITE}
cache=${IMDS_VM_CACHE:-/var/cache/imds-analyzer}
aptdir=$cache/apt/$suite
mkdir -p "$aptdir"/{etc/preferences.d,state/lists/partial,cache/archives/partial}
# Concurrent matrix runs share the cache: one fetch per suite at a time.
exec 9>"$aptdir/.lock"
flock 9

cat >"$aptdir/etc/sources.list" <<SOURCES
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security $suite-security main
SOURCES

apt_private=(
  -o "Dir::Etc::SourceList=$aptdir/etc/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::Etc::PreferencesParts=$aptdir/etc/preferences.d"
  -o "Dir::State=$aptdir/state"
  -o "Dir::State::status=/dev/null"
  -o "Dir::Cache=$aptdir/cache"
  -o "APT::Architecture=amd64"
  -o "APT::Architectures=amd64"
  -o "Acquire::Languages=none"
  -o "APT::Sandbox::User=root"
)

# Refresh the index at most once a day: the matrix must not depend on a moving target mid-run.
stamp=$aptdir/state/updated
if [[ ! -f $stamp || -n $(find "$stamp" -mmin +1440) ]]; then
  apt-get "${apt_private[@]}" -qq update >&2
  touch "$stamp"
fi

# The metapackage depends on exactly one versioned image package: that is the suite's kernel.
image=$(apt-cache "${apt_private[@]}" depends linux-image-cloud-amd64 |
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
