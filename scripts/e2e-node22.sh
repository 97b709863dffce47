#!/usr/bin/env bash
# The capture and attribution end-to-end suites once more under Node.js 22, the runtime of the
# Amazon Linux 2023 package (npm test runs everything under the Node.js on PATH, 20 here).
# Node.js 22 is the npm registry's repackaged official build (scripts/fetch-node.sh, cached
# outside the repo). vitest, the daemon it starts and the node clients all run under it.
#   scripts/e2e-node22.sh [vitest arguments]       (root: the suites load the BPF object)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(scripts/fetch-node.sh 22)
export PATH=$prefix/bin:$PATH
major=$(node -p 'process.versions.node.split(".")[0]')
[[ $major == 22 ]] || { echo "e2e-node22: node on PATH is $major, not 22" >&2; exit 1; }
echo "e2e-node22: $(command -v node) $(node --version)"
npx vitest run test/e2e/capture.test.ts test/e2e/attribution.test.ts "$@"
