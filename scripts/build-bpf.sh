#!/usr/bin/env bash
# Build the CO-RE BPF object that is committed under bpf/.
#   scripts/build-bpf.sh          rebuild bpf/imds_analyzer.bpf.o
#   scripts/build-bpf.sh --check  fail when the committed object differs from a fresh build
# Needs clang and llvm-strip (clang, llvm) and libbpf's headers (libbpf-dev); running
# the analyzer needs none of them. The object holds no architecture-specific code:
# the same file loads on x86_64 and arm64.
set -euo pipefail
cd "$(dirname "$0")/.."

src=bpf/imds_analyzer.bpf.c
out=bpf/imds_analyzer.bpf.o
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

build() {
  local target=$1
  # Relative paths and stripped DWARF keep the object byte-for-byte reproducible
  # from any checkout directory; BTF and CO-RE relocations stay.
  clang -target bpf -O2 -g -Wall -Werror \
    -I bpf -I "/usr/include/$multiarch" -fdebug-prefix-map="$PWD"=. \
    -c "$src" -o "$target"
  llvm-strip -g "$target"
}

if [[ ${1:-} == --check ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  build "$tmp/fresh.o"
  if ! cmp -s "$tmp/fresh.o" "$out"; then
    echo "build-bpf: $out is stale: run 'npm run build:bpf' and commit the result" >&2
    exit 1
  fi
  echo "build-bpf: $out matches its source"
else
  build "$out"
  echo "build-bpf: wrote $out ($(stat -c %s "$out") bytes)"
fi
