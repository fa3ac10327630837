#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests (driven by playwright-core, which downloads no
# browser of its own). Idempotent.
set -euo pipefail
if command -v chromium >/dev/null; then
  chromium --version
  exit 0
fi
source "$(dirname "$0")/apt.sh"
apt_install chromium
chromium --version
