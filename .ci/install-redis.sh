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
source "$(dirname "$0")/apt.sh"
apt_install "${need[@]}"
# Debian's packages may start a system nginx/redis where an init system runs; the tests need neither.
if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
  systemctl stop nginx redis-server 2>/dev/null || true
fi
redis-server --version
nginx -v
