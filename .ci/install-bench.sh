#!/usr/bin/env bash
# Load generators for `npm run bench` (not needed by `npm test`): h2load (nghttp2-client) and wrk.
set -euo pipefail
if command -v h2load >/dev/null && command -v wrk >/dev/null; then exit 0; fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
for i in 1 2 3 4 5; do
  if $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nghttp2-client wrk; then exit 0; fi
  echo "apt busy, retrying ($i)..." >&2; sleep 5
done
exit 1
