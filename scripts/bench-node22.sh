#!/usr/bin/env bash
# `npm run bench` under Node.js 22, the runtime of the Amazon Linux 2023 package.
#   scripts/bench-node22.sh [bench arguments, e.g. --only ready,churn]      (root)
# The daemon whose READY=1 is timed is the package's: the bundle, beside production node_modules
# built for Node.js 22 (sd-notify is a native addon; the checkout's are built for the Node.js on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(scripts/fetch-node.sh 22)
npm run --silent build >/dev/null
npm run --silent build:test >/dev/null
app=$(mktemp -d "${TMPDIR:-/tmp}/imds-bench-node22-XXXXXX")
trap 'rm -rf "$app"' EXIT
cp -a bundle bpf package.json package-lock.json "$app/"
(cd "$app" && npm ci --omit=dev --nodedir="$prefix" --no-audit --no-fund --loglevel=error >&2)
PATH=$prefix/bin:$PATH node dist-test/bench/main.js --cli "$app/bundle/imds-analyzer.mjs" "$@"
