#!/bin/sh
# SSM Distributor's in-place update: installing the newer RPM upgrades the installed one, and
# its %post restarts a running daemon.
set -eu
exec /bin/sh "$(dirname "$0")/install.sh"
