# Sourced by fetch-kernel.sh and fetch-root.sh: a private apt state for one Debian suite and
# architecture under $IMDS_VM_CACHE, so the host's own apt configuration stays untouched.
#   apt_private_setup SUITE ARCH   sets $aptdir and the apt_private option array, holds the
#                                  suite's lock (fd 9) and refreshes its index once a day.
apt_private_setup() {
  local suite=$1 arch=$2 cache=${IMDS_VM_CACHE:-/var/cache/imds-analyzer}
  # amd64 keeps the directory it always had.
  aptdir=$cache/apt/$suite
  [[ $arch == amd64 ]] || aptdir+=-$arch
  mkdir -p "$aptdir"/{etc/preferences.d,state/lists/partial,cache/archives/partial}
  # Concurrent matrix runs share the cache: one fetch per suite at a time.
  exec 9>"$aptdir/.lock"
  flock 9
  cat >"$aptdir/etc/sources.list" <<SOURCES
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security $suite-security main
SOURCES
  apt_private=(
    -o "Dir::Etc::SourceList=$aptdir/etc/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::Etc::PreferencesParts=$aptdir/etc/preferences.d"
    -o "Dir::State=$aptdir/state"
    -o "Dir::State::status=/dev/null"
    -o "Dir::Cache=$aptdir/cache"
    -o "APT::Architecture=$arch"
    -o "APT::Architectures=$arch"
    -o "Acquire::Languages=none"
    -o "APT::Sandbox::User=root"
  )
  # Refresh the index at most once a day: the matrix must not depend on a moving target mid-run.
  local stamp=$aptdir/state/updated
  if [[ ! -f $stamp || -n $(find "$stamp" -mmin +1440) ]]; then
    apt-get "${apt_private[@]}" -qq update >&2
    touch "$stamp"
  fi
}
