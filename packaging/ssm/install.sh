#!/bin/sh
# SSM Distributor runs this as root in the unzipped package: installs the imds-analyzer RPM
# beside it (dnf on Amazon Linux 2023, yum on Amazon Linux 2, which fetch nodejs22 or the
# bundled runtime's libraries), whose preset enables the unit for every boot, then starts the
# daemon now. Callers that run at boot are seen from the next boot on (docs/fleet.md).
set -eu
cd "$(dirname "$0")"
set -- ./imds-analyzer-*.rpm
if [ $# -ne 1 ] || [ ! -f "$1" ]; then
  echo "install.sh: expected exactly one imds-analyzer RPM in $(pwd)" >&2
  exit 1
fi
if [ -n "${IMDS_ANALYZER_TEST_ROOT:-}" ]; then
  # Tests only: a throwaway root on the build host, whose rpm database holds none of the
  # dependencies, for the package of either architecture (the scriptlets run the root's shell).
  rpm --root "$IMDS_ANALYZER_TEST_ROOT" --dbpath /var/lib/rpm -U --replacepkgs --nodeps --ignorearch "$1"
  exit 0
fi
if command -v dnf >/dev/null 2>&1; then
  dnf install -y "$1"
else
  yum install -y "$1"
fi
if [ -d /run/systemd/system ]; then
  systemctl start imds-analyzer.service
fi
