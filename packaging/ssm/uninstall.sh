#!/bin/sh
# SSM Distributor runs this as root to remove the package: the RPM's %preun stops and disables
# the unit. The logs in /var/log/imds-analyzer stay (delete them yourself once collected).
set -eu
if [ -n "${IMDS_ANALYZER_TEST_ROOT:-}" ]; then
  # Tests only: the throwaway root install.sh installed into.
  rpm --root "$IMDS_ANALYZER_TEST_ROOT" --dbpath /var/lib/rpm -e imds-analyzer
  exit 0
fi
if ! rpm -q imds-analyzer >/dev/null 2>&1; then
  echo "uninstall.sh: imds-analyzer is not installed"
  exit 0
fi
if command -v dnf >/dev/null 2>&1; then
  dnf remove -y imds-analyzer
else
  yum remove -y imds-analyzer
fi
