#!/usr/bin/env bash
# Debian packages the project needs to build, test and package itself (root).
# Running the analyzer needs only Node.js >= 20 and libbpf (>= 0.6).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  clang llvm libbpf-dev libbpf1 bpftool   # build and inspect the BPF object
  libsystemd-dev g++ make python3         # sd-notify's native addon (node-gyp)
  iproute2 curl python3-botocore time     # test hosts in network namespaces, real clients, peak RSS
  awscli python3-boto3 ruby ruby-aws-sdk-core                 # the canary's real clients (test/rig/sdk-clients.ts)
  golang-go golang-github-aws-aws-sdk-go-dev golang-github-aws-aws-sdk-go-v2-dev  # Go SDK v1/v2 clients, built offline
  systemd-container debootstrap           # the nspawn boot test
  rpm rpmlint                             # the RPM
  zip unzip                               # the SSM Distributor package (scripts/ssm-package.mjs)
  linux-libc-dev                          # syscall tables the AL2 unit's filter is checked against
  qemu-system-x86 busybox-static cpio     # the kernel matrix under qemu
  qemu-system-arm g++-aarch64-linux-gnu   # its arm64 row; the aarch64 RPM's sd-notify addon
  qemu-user-static file                   # running and checking arm64 binaries on this host
  chromium fonts-dejavu-core              # the HTML report opened in a headless browser
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
