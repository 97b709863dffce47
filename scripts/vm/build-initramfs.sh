#!/usr/bin/env bash
# Build the initramfs that boots one kernel of the matrix under qemu.
#   scripts/vm/build-initramfs.sh KERNEL_ROOT OUT.cpio
# KERNEL_ROOT is what fetch-kernel.sh printed. The image is three uncompressed newc
# archives back to back (the kernel unpacks each in turn); uncompressed because gunzip
# under TCG costs more than copying the bytes:
#   base       busybox, node, curl, python3, ip, bpftool and their libraries (cached, shared)
#   modules    this kernel's veth/bridge/dummy modules, decompressed, in load order (cached)
#   project    /init, dist/, the test rig (dist-test/), bpf/, production node_modules, scripts/vm (rebuilt every time)
set -euo pipefail

kernel_root=${1:?usage: build-initramfs.sh KERNEL_ROOT OUT.cpio}
out=${2:?usage: build-initramfs.sh KERNEL_ROOT OUT.cpio}
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${IMDS_VM_CACHE:-/var/cache/imds-analyzer}/initramfs
mkdir -p "$cache"

# Host programs the guest runs. Python is the interpreter and its standard library only
# (urllib is what the Python test client uses); botocore is not shipped.
host_programs=(/usr/bin/busybox /usr/bin/node /usr/bin/curl /usr/sbin/ip /usr/sbin/bpftool /usr/bin/python3.11 /usr/bin/unshare)
python_lib=/usr/lib/python3.11
modules_wanted=(veth bridge dummy)

pack() { # pack DIR OUT: a newc archive owned by root
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$2"
}

copy_libraries() { # copy_libraries ROOT FILE: every shared library FILE loads, at the same path under ROOT
  local root=$1 lib
  { ldd "$2" 2>/dev/null || true; } | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }' | while read -r lib; do
    [[ -e $root$lib ]] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

copy_with_libraries() { # copy_with_libraries ROOT FILE...: the files themselves and their libraries
  local root=$1 file
  shift
  for file in "$@"; do
    mkdir -p "$root$(dirname "$file")"
    cp -L "$file" "$root$file"
    copy_libraries "$root" "$file"
  done
}

build_base() {
  local dir=$1 applet
  mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,var/tmp}
  chmod 1777 "$dir/tmp" "$dir/var/tmp"
  copy_with_libraries "$dir" "${host_programs[@]}" /usr/lib/x86_64-linux-gnu/libbpf.so.1
  # glibc resolves users and hosts through NSS modules it loads at run time, not through ldd.
  copy_with_libraries "$dir" /lib/x86_64-linux-gnu/libnss_files.so.2
  ln -s python3.11 "$dir/usr/bin/python3"
  ln -s ../run "$dir/var/run"
  # busybox applets in /bin; the real ip, curl and bpftool come first on PATH.
  for applet in $(/usr/bin/busybox --list); do
    [[ -e $dir/bin/$applet ]] || ln -s /usr/bin/busybox "$dir/bin/$applet"
  done
  tar -C / --exclude='test' --exclude='config-3.*' --exclude='lib2to3' --exclude='ensurepip' \
    --exclude='pydoc_data' --exclude='site-packages' --exclude='dist-packages' \
    -cf - "${python_lib#/}" | tar -C "$dir" -xf -
  local so
  for so in "$dir$python_lib"/lib-dynload/*.so; do copy_libraries "$dir" "$so"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files\n' >"$dir/etc/nsswitch.conf"
  printf '127.0.0.1 localhost\n::1 localhost\n' >"$dir/etc/hosts"
  echo imds-vm >"$dir/etc/hostname"
}

# Modules of one kernel in load order: each module's dependencies (from its .modinfo
# "depends=" line) before the module itself. Writes the .ko files and a load-order list.
build_modules() {
  local dir=$1 moddir kver
  moddir=$( (find "$kernel_root/lib/modules" "$kernel_root/usr/lib/modules" -mindepth 1 -maxdepth 1 -type d 2>/dev/null || true) | head -1)
  [[ -n $moddir ]] || { echo "build-initramfs: no modules under $kernel_root" >&2; return 1; }
  kver=$(basename "$moddir")
  mkdir -p "$dir/lib/modules/$kver"
  local -A path_of=() loaded=()
  local ko name
  while read -r ko; do
    name=$(basename "$ko"); name=${name%%.ko*}; path_of[${name//-/_}]=$ko
  done < <(find "$moddir/kernel" -name '*.ko*')
  local order=()
  add_module() {
    local mod=${1//-/_} src dep deps
    [[ -n ${loaded[$mod]:-} ]] && return 0
    src=${path_of[$mod]:-}
    [[ -n $src ]] || { echo "build-initramfs: module $mod not in $kver" >&2; return 1; }
    loaded[$mod]=1
    case $src in
      *.xz) xz -dc "$src" ;; *.zst) zstd -qdc "$src" ;; *.gz) gzip -dc "$src" ;; *) cat "$src" ;;
    esac >"$dir/lib/modules/$kver/$mod.ko"
    deps=$(strings -a "$dir/lib/modules/$kver/$mod.ko" | sed -n 's/^depends=//p' | head -1)
    for dep in ${deps//,/ }; do add_module "$dep"; done
    order+=("$mod")
  }
  local want
  for want in "${modules_wanted[@]}"; do add_module "$want"; done
  printf '%s\n' "${order[@]}" >"$dir/lib/modules/$kver/load-order"
  # bpftool feature probe reads the kernel's config from /boot.
  mkdir -p "$dir/boot" && cp "$kernel_root/boot/config-$kver" "$dir/boot/"
}

build_project() {
  local dir=$1 pkg
  install -m 0755 "$repo/scripts/vm/init.sh" "$dir/init"
  mkdir -p "$dir/project/scripts"
  cp -r "$repo/bpf" "$repo/package.json" "$dir/project/"
  # dist/ and the test rig's dist-test/ are optional here: the probe and load jobs need only bpf/;
  # the matrix driver says so if they are missing.
  if [[ -d $repo/dist ]]; then cp -r "$repo/dist" "$dir/project/"; fi
  if [[ -d $repo/dist-test ]]; then
    mkdir -p "$dir/project/dist-test/test"
    cp -r "$repo/dist-test/src" "$dir/project/dist-test/"
    cp -r "$repo/dist-test/test/rig" "$dir/project/dist-test/test/"
  fi
  cp -r "$repo/scripts/vm" "$dir/project/scripts/"
  # Production dependencies only: vitest, typescript and esbuild stay on the host.
  (cd "$repo" && npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2) | while read -r pkg; do
    mkdir -p "$dir/project/${pkg#"$repo"/}"
    cp -r "$pkg/." "$dir/project/${pkg#"$repo"/}/"
  done
  # Native addons (koffi, sd-notify) load libraries of their own.
  local addon
  while read -r addon; do copy_libraries "$dir" "$addon"; done < <(find "$dir/project" -name '*.node')
}

# The base archive is keyed on the host programs it copies and on this script.
base_key=$( (stat -c '%n %s %Y' "${host_programs[@]}"; cat "$0") | sha256sum | cut -c1-16)
base=$cache/base-$base_key.cpio
if [[ ! -f $base ]]; then
  rm -f "$cache"/base-*.cpio
  work=$(mktemp -d)
  build_base "$work"
  pack "$work" "$base.tmp" && mv "$base.tmp" "$base"
  rm -rf "$work"
fi

modules=$cache/modules-$(basename "$kernel_root")-$(sha256sum "$0" | cut -c1-8).cpio
if [[ ! -f $modules ]]; then
  rm -f "$cache/modules-$(basename "$kernel_root")"-*.cpio
  work=$(mktemp -d)
  build_modules "$work"
  pack "$work" "$modules.tmp" && mv "$modules.tmp" "$modules"
  rm -rf "$work"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build_project "$work"
pack "$work" "$work.project.cpio"
cat "$base" "$modules" "$work.project.cpio" >"$out"
rm -f "$work.project.cpio"
