#!/usr/bin/env bash
# Builds the imds-analyzer RPM for Amazon Linux 2023 or Amazon Linux 2 into dist-rpm/.
#
#   scripts/build-rpm.sh [--target al2023|al2] [--release N] [--node-major N | --nodedir DIR]
#                        [--bundle-node PATH] [--bundle-libbpf PATH] [--arch x86_64|aarch64]
#                        [--bpf-object PATH]
#
# --bpf-object packages another build of the BPF object than bpf/imds_analyzer.bpf.o (the boot
# test's upgrade to a changed object).
# The working tree is only read: the app is bundled (scripts/bundle.mjs: one ES module and its
# source map) and the two native modules it keeps outside, koffi and sd-notify, are installed
# in a private work directory, then rpmbuild runs with a private _topdir there.
# --arch defaults to this host's. An aarch64 (Graviton) RPM built on x86_64 gets koffi's arm64
# package and an sd-notify addon cross-compiled by scripts/cross-node-modules.sh; with
# --target al2 its --bundle-node is an arm64 node (scripts/fetch-node.sh N arm64).
#
# Native addons: koffi ships prebuilt N-API binaries (any Node.js major works); sd-notify is
# compiled against the V8 API, so it only loads in the Node.js major whose headers built it.
# The headers come from --nodedir DIR (a Node.js install prefix with include/node), else, with
# --node-major N, from the npm registry's repackaged official build node-linux-<arch>@N (cached
# in $IMDS_ANALYZER_NODE_CACHE by scripts/fetch-node.sh), else from the prefix of --bundle-node.
# AL2023 defaults to --node-major 22.
# The addon is loaded once with that prefix's bin/node (or the bundled node) to prove the match.
# The major becomes the package's nodejsNN requirement and is recorded in
# /usr/lib/imds-analyzer/build-info.json.
set -euo pipefail

usage() {
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() {
  echo "build-rpm: $*" >&2
  exit 1
}

target=al2023
release=1
bundle_node=
bundle_libbpf=
bpf_object=
nodedir=
node_major=
case "$(uname -m)" in
  x86_64) rpm_arch=x86_64 ;;
  aarch64) rpm_arch=aarch64 ;;
  *) die "unsupported build architecture $(uname -m)" ;;
esac
while [ $# -gt 0 ]; do
  case "$1" in
    --target) target=${2:?}; shift 2 ;;
    --release) release=${2:?}; shift 2 ;;
    --bundle-node) bundle_node=${2:?}; shift 2 ;;
    --bundle-libbpf) bundle_libbpf=${2:?}; shift 2 ;;
    --bpf-object) bpf_object=${2:?}; shift 2 ;;
    --nodedir) nodedir=${2:?}; shift 2 ;;
    --node-major) node_major=${2:?}; shift 2 ;;
    --arch) rpm_arch=${2:?}; shift 2 ;;
    -h | --help) usage ;;
    *) echo "build-rpm: unknown argument: $1" >&2; usage ;;
  esac
done

case "$target" in
  al2023)
    dist=.amzn2023
    # nodejs22 rather than nodejs20: Node.js 20 left upstream support in April 2026.
    [ -n "$nodedir$bundle_node" ] || node_major=${node_major:-22}
    ;;
  al2)
    dist=.amzn2
    # Amazon Linux 2 has no Node.js >= 18 package and only libbpf 0.x.
    [ -n "$bundle_node" ] || die "--target al2 needs --bundle-node (a Node.js built for glibc 2.26)"
    ;;
  *) die "unknown --target '$target' (al2023 or al2)" ;;
esac
[[ "$release" =~ ^[1-9][0-9]*$ ]] || die "--release must be a positive integer, got '$release'"
[ -z "$node_major" ] || [[ "$node_major" =~ ^[1-9][0-9]$ ]] || die "--node-major must be a Node.js major, got '$node_major'"
if [ -n "$bundle_node" ]; then
  [ -x "$bundle_node" ] || die "--bundle-node $bundle_node is not an executable"
  bundle_node=$(readlink -f "$bundle_node")
fi
if [ -n "$bundle_libbpf" ]; then
  [ -f "$bundle_libbpf" ] || die "--bundle-libbpf $bundle_libbpf does not exist"
  bundle_libbpf=$(readlink -f "$bundle_libbpf")
fi
for tool in npm rpmbuild tar strip; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done

repo=$(cd "$(dirname "$0")/.." && pwd)
# Amazon Linux 2 runs systemd 219, which needs a unit of its own (packaging/systemd/al2/).
case "$target" in
  al2) unit="$repo/packaging/systemd/al2/imds-analyzer.service" ;;
  *) unit="$repo/packaging/systemd/imds-analyzer.service" ;;
esac
[ -f "$unit" ] || die "$unit is missing"
[ -f "$repo/bpf/imds_analyzer.bpf.o" ] || die "bpf/imds_analyzer.bpf.o is missing (npm run build:bpf)"
version=$(node -p "require('$repo/package.json').version")

strip=strip
case "$rpm_arch" in
  x86_64) node_arch=x64 ;;
  aarch64) node_arch=arm64 ;;
  *) die "unknown --arch '$rpm_arch' (x86_64 or aarch64)" ;;
esac
koffi_platform=linux_$node_arch
cross=0
if [ "$rpm_arch" != "$(uname -m)" ]; then
  [ "$rpm_arch" = aarch64 ] || die "cross-building is only from x86_64 to aarch64"
  # A --bundle-node is then an aarch64 node: it is not run here; the addon is proven under
  # qemu-user in the node of the headers' prefix (its own, without --nodedir).
  cross=1 strip=aarch64-linux-gnu-strip
fi

if [ -z "$nodedir" ] && [ -n "$node_major" ]; then
  nodedir=$("$repo/scripts/fetch-node.sh" "$node_major" "$node_arch") || die "no Node.js $node_major for $node_arch"
elif [ -z "$nodedir" ]; then
  [ -n "$bundle_node" ] || die "say which Node.js to build for: --node-major N or --nodedir DIR"
  nodedir=$(dirname "$(dirname "$bundle_node")")
fi
version_header="$nodedir/include/node/node_version.h"
[ -f "$version_header" ] || die "no Node.js headers at $version_header: pass --nodedir or --node-major"
header_major=$(awk '$2 == "NODE_MAJOR_VERSION" { print $3 }' "$version_header")
[[ "$header_major" =~ ^[0-9]+$ ]] || die "cannot read NODE_MAJOR_VERSION from $version_header"
[ -z "$node_major" ] || [ "$node_major" = "$header_major" ] ||
  die "--node-major $node_major but the headers in $nodedir are Node.js $header_major"
node_major=$header_major
# The node that proves the addon loads: the bundled one, else the headers' own. A cross
# build proves it under qemu-user instead (scripts/cross-node-modules.sh).
check_node=${bundle_node:-$nodedir/bin/node}
if [ "$cross" = 0 ]; then
  [ -x "$check_node" ] || die "no $check_node to check the sd-notify addon with"
  check_major=$("$check_node" -p 'process.versions.node.split(".")[0]') || die "$check_node does not run on this build host"
  [ "$check_major" = "$node_major" ] || die "$check_node is Node.js $check_major but the headers in $nodedir are $node_major"
fi

# Leaves what runs: this platform's glibc koffi binary, the stripped sd-notify addon and the
# JavaScript. Tests, docs, CI files, type declarations and native build inputs go.
prune_node_modules() {
  local modules=$1 dir
  for dir in "$modules"/@koromix/koffi-*; do
    [ "$dir" = "$modules/@koromix/koffi-${koffi_platform/_/-}" ] || rm -rf "$dir"
  done
  find "$modules/@koromix" "$modules/koffi" -mindepth 1 -maxdepth 3 -type d \
    \( -name 'musl_*' -o -name 'linux_*' -o -name 'darwin_*' -o -name 'win32_*' -o -name 'freebsd_*' \
    -o -name 'openbsd_*' -o -name 'android_*' \) ! -name "$koffi_platform" -prune -exec rm -rf {} +

  local addon="$modules/sd-notify/build/Release/notify.node"
  [ -f "$addon" ] || die "sd-notify was not built ($addon missing)"
  mv "$addon" "$work/notify.node"
  rm -rf "$modules/sd-notify/build"
  install -D -m 0755 "$work/notify.node" "$addon"
  "$strip" --strip-unneeded "$addon"

  find "$modules" -mindepth 1 -type d \( -name test -o -name tests -o -name __tests__ -o -name benchmarks \
    -o -name examples -o -name docs -o -name doc -o -name vendor -o -name '.*' \) -prune -exec rm -rf {} +
  find "$modules" -type f \( -name '.*' -o \( -name '*.md' ! -iname 'license*' \) -o -name '*.ts' \
    -o -name '*.d.cts' -o -name '*.d.mts' -o -name '*.map' -o -name 'tsconfig*.json' -o -name 'eslint.config.*' \
    -o -name '*.yml' -o -name '*.sh' -o -name CNAME -o -name favicon.ico -o -name 'bench*.js' \
    -o -name '*.c' -o -name '*.cc' -o -name '*.h' -o -name '*.hh' -o -name '*.inc' -o -name '*.def' \
    -o -name '*.S' -o -name '*.asm' \
    -o -name '*.gyp' -o -name CMakeLists.txt -o -name cnoke.cjs -o -name trampolines.cjs \) -delete
  # Command-line entry points of dependencies (pino's bin.js) are not used by the daemon.
  rm -f "$modules/pino/bin.js"
  find "$modules" -type d -empty -delete
  find "$modules" -type f ! -name '*.node' -exec chmod 0644 {} +
  find "$modules" -type f -name '*.node' -exec chmod 0755 {} +
}

work=$(mktemp -d "${TMPDIR:-/tmp}/imds-analyzer-rpm.XXXXXX")
trap 'rm -rf "$work"' EXIT
npm_quiet=(--no-audit --no-fund --prefer-offline --loglevel=error)

echo "build-rpm: bundling the app" >&2
mkdir -p "$work/build/scripts"
cp -R "$repo/src" "$repo/package.json" "$repo/package-lock.json" "$work/build/"
cp -R "$repo/scripts/bundle.mjs" "$repo/scripts/rpm" "$work/build/scripts/"
# --ignore-scripts: the bundle needs no native addon built (esbuild's binary is its own package).
(cd "$work/build" && npm ci --ignore-scripts "${npm_quiet[@]}" >&2 && node scripts/bundle.mjs)
# What this script decides from files is typed (scripts/rpm/*.ts); esbuild makes it runnable.
"$work/build/node_modules/.bin/esbuild" --log-level=warning --platform=node --format=esm \
  --out-extension:.js=.mjs --outdir="$work/tools" "$work/build/scripts/rpm/"*.ts

echo "build-rpm: installing koffi and sd-notify for Node.js $node_major on $rpm_arch" >&2
src="$work/imds-analyzer-$version"
app="$src/app"
mkdir -p "$app/bpf" "$src/doc"
if [ "$cross" = 1 ]; then
  "$repo/scripts/cross-node-modules.sh" "$nodedir" "$app" >&2
else
  cp "$repo/package.json" "$repo/package-lock.json" "$app/"
  (cd "$app" && npm ci --omit=dev --nodedir="$nodedir" "${npm_quiet[@]}" >&2)
fi
# Everything else is in the bundle: keep only the external modules and what they depend on.
node "$work/tools/keep-modules.mjs" "$app/node_modules" koffi sd-notify | sed 's/^/build-rpm: node_modules: /' >&2
rm "$app/package-lock.json"
cp -R "$work/build/bundle" "$app/bundle"
cp "${bpf_object:-$repo/bpf/imds_analyzer.bpf.o}" "$app/bpf/imds_analyzer.bpf.o"
cp "$repo/bpf/imds_canary.bpf.o" "$app/bpf/imds_canary.bpf.o"

prune_node_modules "$app/node_modules"
# The package starts the bundle with an explicit node (launcher, unit): a `#!/usr/bin/env node`
# line would only pick whichever node is first on PATH. Replaced, not removed: the source map's
# lines stay right.
sed -i '1s|^#!.*|// started by /usr/bin/imds-analyzer with the node it was built for|' "$app/bundle/imds-analyzer.mjs"
# esbuild marks a file with a #! line executable; the package's JavaScript is read, not run.
chmod 0644 "$app/bundle/"*
if [ "$cross" = 0 ]; then
  (cd "$app" && "$check_node" -e "require('sd-notify')") || die "the sd-notify addon does not load in $check_node"
fi
bundle_node_flag=$([ -n "$bundle_node" ] && echo 1 || echo 0)
bundle_libbpf_flag=$([ -n "$bundle_libbpf" ] && echo 1 || echo 0)
node "$work/tools/build-info.mjs" "$app/build-info.json" "$target" "$version_header" \
  "$bundle_node_flag" "$bundle_libbpf_flag" | sed 's/^/build-rpm: build-info.json: /' >&2

if [ -n "$bundle_node" ]; then install -D -m 0755 "$bundle_node" "$src/runtime/bin/node"; fi
if [ -n "$bundle_libbpf" ]; then install -D -m 0755 "$bundle_libbpf" "$src/lib/libbpf.so.1"; fi
cp "$repo/packaging/rpm/imds-analyzer.sh" "$repo/packaging/rpm/config.json" \
  "$repo/packaging/rpm/50-imds-analyzer.preset" "$unit" "$repo/LICENSE" "$src/"
cp "$repo/docs/"*.md "$src/doc/"
cp -R "$repo/packaging/fleet" "$src/fleet"
if [ -f "$repo/README.md" ]; then cp "$repo/README.md" "$src/doc/"; fi
chmod -R u=rwX,go=rX "$src"

echo "build-rpm: running rpmbuild ($target, Node.js $node_major, release $release)" >&2
top="$work/rpmbuild"
mkdir -p "$top/SOURCES" "$top/SPECS"
tar -C "$work" --owner=0 --group=0 -cf "$top/SOURCES/imds-analyzer-$version.tar" "imds-analyzer-$version"
rpmbuild -bb --quiet --target "$rpm_arch" \
  --define "_topdir $top" \
  --define "packager imds-analyzer maintainers <imds-analyzer@users.noreply.github.com>" \
  --define "imds_version $version" \
  --define "imds_release $release" \
  --define "dist $dist" \
  --define "node_major $node_major" \
  --define "bundle_node $bundle_node_flag" \
  --define "bundle_libbpf $bundle_libbpf_flag" \
  "$repo/packaging/rpm/imds-analyzer.spec" >&2

mkdir -p "$repo/dist-rpm"
for rpm_file in "$top"/RPMS/*/*.rpm; do
  cp "$rpm_file" "$repo/dist-rpm/"
  echo "$repo/dist-rpm/$(basename "$rpm_file")"
done
