#!/usr/bin/env bash
# Load generators for `npm run bench` (not needed by `npm test`): h2load (nghttp2-client) and wrk.
set -euo pipefail
if command -v h2load >/dev/null && command -v wrk >/dev/null; then exit 0; fi
source "$(dirname "$0")/apt.sh"
apt_install nghttp2-client wrk
