#!/usr/bin/env bash
# Build the CO-RE BPF object that is committed under bpf/.
#   scripts/build-bpf.sh          rebuild bpf/imds_analyzer.bpf.o
#   scripts/build-bpf.sh --check  fail when the committed object differs from a fresh build
# Both print the clang and libbpf-header versions found and expected, and stop when they differ.
# Needs clang and llvm-strip (clang, llvm) and libbpf's headers (libbpf-dev); running
# the analyzer needs none of them. The object holds no architecture-specific code:
# the same file loads on x86_64 and arm64.
set -euo pipefail
cd "$(dirname "$0")/.."

# The toolchain the committed objects are built with (Debian 12: clang-14 1:14.0.6, libbpf-dev
# 1:1.1.2). Another clang, or other libbpf headers, may compile the same source to other
# bytes: --check would call a fresh object stale, a rebuild would commit an object nobody
# can reproduce. Both modes refuse another toolchain and say which.
expected_clang=14.0.6
expected_libbpf_headers=1.1
found_clang=$(clang --version 2>/dev/null | sed -n '1s/.*version \([0-9][0-9.]*\).*/\1/p') || true
found_libbpf_headers=$(awk '$2 == "LIBBPF_MAJOR_VERSION" { major = $3 } $2 == "LIBBPF_MINOR_VERSION" { minor = $3 }
  END { if (major != "") print major "." minor }' /usr/include/bpf/libbpf_version.h 2>/dev/null) || true
echo "build-bpf: clang ${found_clang:-none} (expected $expected_clang), libbpf headers ${found_libbpf_headers:-none} (expected $expected_libbpf_headers)"
if [[ $found_clang != "$expected_clang" || $found_libbpf_headers != "$expected_libbpf_headers" ]]; then
  echo "build-bpf: this host's BPF toolchain is not the one the objects are built with:" \
    "clang expected $expected_clang, found ${found_clang:-none};" \
    "libbpf headers expected $expected_libbpf_headers, found ${found_libbpf_headers:-none}" \
    "(Debian 12 has both: bash scripts/install-deps.sh)" >&2
  exit 1
fi

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
