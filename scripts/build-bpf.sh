#!/usr/bin/env bash
# Build the CO-RE BPF object that is committed under bpf/.
#   scripts/build-bpf.sh          rebuild bpf/imds_analyzer.bpf.o
#   scripts/build-bpf.sh --check  fail when the committed object differs from a fresh build
# Needs clang and llvm-strip (clang, llvm) and libbpf's headers (libbpf-dev); running
# the analyzer needs none of them. The object holds no architecture-specific code:
# the same file loads on x86_64 and arm64.
set -euo pipefail
cd "$(dirname "$0")/.."

# The analyzer's object, and the benchmark's empty programs of the same types.
objects=(imds_analyzer imds_canary bench_empty)
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

build() {
  local src=$1 target=$2
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
  for name in "${objects[@]}"; do
    build "bpf/$name.bpf.c" "$tmp/$name.o"
    if ! cmp -s "$tmp/$name.o" "bpf/$name.bpf.o"; then
      echo "build-bpf: bpf/$name.bpf.o is stale: run 'npm run build:bpf' and commit the result" >&2
      exit 1
    fi
    echo "build-bpf: bpf/$name.bpf.o matches its source"
  done
else
  for name in "${objects[@]}"; do
    build "bpf/$name.bpf.c" "bpf/$name.bpf.o"
    echo "build-bpf: wrote bpf/$name.bpf.o ($(stat -c %s "bpf/$name.bpf.o") bytes)"
  done
fi
