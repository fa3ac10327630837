# Sourced by the .ci/install-*.sh scripts: apt-get with retries, and one `apt-get update` per CI run.
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

# apt-get "$@", retried: apt may be locked for a moment by another install.
apt_retry() {
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    if $SUDO apt-get -o DPkg::Lock::Timeout=60 "$@"; then return 0; fi
    echo "apt-get $1 failed (attempt $i); retrying" >&2
    sleep 5
  done
  return 1
}

# Installs Debian packages; the package lists are refreshed once per caller (one .ci/run), not per script.
apt_install() {
  local stamp="${TMPDIR:-/tmp}/oneport-apt-updated-$PPID"
  if [ ! -f "$stamp" ]; then
    apt_retry update -qq
    touch "$stamp"
  fi
  apt_retry install -y -qq --no-install-recommends "$@"
}
