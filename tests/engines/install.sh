#!/usr/bin/env bash
# Installs the engines the integration suite starts for itself, from Debian's packages:
# redis-server (the shared counters of several instances), nginx (two instances behind one
# proxy), postgresql (the rows of several instances) and openssl (test certificates for TLS
# to the engines). Each test runs its own server on a free loopback port in a temp dir, as in
# production (PostgreSQL as the `postgres` user when run as root); nothing here starts a
# service. Quick when they are already there.
#
#   tests/engines/install.sh
#
# Needs root (CI runs as root) or password-less sudo. Where neither works, it says which
# packages are missing and fails: the tests that need them would fail anyway.
set -euo pipefail

need=()
command -v redis-server >/dev/null || command -v valkey-server >/dev/null || [ -x /usr/bin/redis-server ] || need+=(redis-server)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v openssl >/dev/null || need+=(openssl)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0

apt=(apt-get)
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "engines: missing ${need[*]}; install them (as root: apt-get install ${need[*]})" >&2; exit 1; }
  apt=(sudo -n apt-get)
fi
echo "engines: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
"${apt[@]}" install -y -qq "${need[@]}" >/dev/null 2>&1 \
  || { "${apt[@]}" update -qq >/dev/null 2>&1 && "${apt[@]}" install -y -qq "${need[@]}" >/dev/null; }
