#!/usr/bin/env bash
# A Node.js install prefix (bin/node and include/node) for one major and architecture, from the
# npm registry's repackaged official build node-linux-ARCH@MAJOR, fetched once into a cache
# outside the repo ($IMDS_ANALYZER_NODE_CACHE, default /var/cache/imds-analyzer).
#   scripts/fetch-node.sh MAJOR [x64|arm64]     prints the prefix (arch: this host's by default)
set -euo pipefail

major=${1:?usage: fetch-node.sh MAJOR [x64|arm64]}
case $(uname -m) in aarch64) host_arch=arm64 ;; *) host_arch=x64 ;; esac
arch=${2:-$host_arch}
[[ $major =~ ^[1-9][0-9]$ ]] || { echo "fetch-node: not a Node.js major: '$major'" >&2; exit 2; }
[[ $arch == x64 || $arch == arm64 ]] || { echo "fetch-node: arch is x64 or arm64, not '$arch'" >&2; exit 2; }
cache=${IMDS_ANALYZER_NODE_CACHE:-/var/cache/imds-analyzer}/node-$major-linux-$arch
mkdir -p "$cache"
exec 9>"$cache.lock"
flock 9
if [[ ! -f $cache/package/include/node/node_version.h || ! -x $cache/package/bin/node ]]; then
  echo "fetch-node: fetching Node.js $major (npm: node-linux-$arch@$major) into $cache" >&2
  rm -rf "${cache:?}"/* && cd "$cache"
  tarball=$(npm pack "node-linux-$arch@$major" --silent --prefer-offline) ||
    { echo "fetch-node: cannot fetch node-linux-$arch@$major from the npm registry" >&2; exit 1; }
  tar -xzf "$tarball" && rm "$tarball"
fi
echo "$cache/package"
