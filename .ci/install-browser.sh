#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests (driven by playwright-core, which downloads no
# browser of its own). Idempotent.
set -euo pipefail
if command -v chromium >/dev/null; then
  chromium --version
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt() {
  # apt may be locked for a moment by another install: retry.
  for i in 1 2 3 4 5 6 7 8 9 10; do
    if apt-get -o DPkg::Lock::Timeout=60 "$@"; then return 0; fi
    echo "apt-get $1 failed (attempt $i); retrying" >&2
    sleep 5
  done
  return 1
}
apt update -qq
apt install -y -qq --no-install-recommends chromium
chromium --version
