#!/usr/bin/env bash
# Installs redis-server (Redis broker and multi-instance tests) and nginx (load-balancer tests)
# from Debian. Idempotent; does not start either: tests start their own on free ports.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
if [ ${#need[@]} -eq 0 ]; then
  echo "redis-server and nginx are installed"
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
apt install -y -qq --no-install-recommends "${need[@]}"
# Debian's packages may start a system nginx/redis where an init system runs; the tests need neither.
if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
  systemctl stop nginx redis-server 2>/dev/null || true
fi
redis-server --version
nginx -v
