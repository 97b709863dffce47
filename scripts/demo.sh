#!/usr/bin/env bash
# One command from a fresh clone to a running demo: installs what is missing,
# builds, and runs the demo (test/rig/demo.ts: a test IMDS in network
# namespaces; nothing leaves the machine). Needs root for BPF and network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $EUID -ne 0 ]]; then
  echo "demo: run as root (BPF programs and network namespaces need it)" >&2
  exit 1
fi
bash scripts/install-deps.sh
[[ -d node_modules ]] || npm ci --no-audit --no-fund
npm run --silent build
npm run --silent build:test
exec node dist-test/test/rig/demo.js
