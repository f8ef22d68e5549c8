#!/usr/bin/env bash
# Make sure Debian's wrk (the HTTP load generator make bench drives) is installed; install it when missing and
# running as root, otherwise say in one line what to install.
set -euo pipefail

WRK=${WRK_BINARY:-/usr/bin/wrk}

[ -x "$WRK" ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "wrk is needed by make bench: install Debian's wrk (or set WRK_BINARY)" >&2
  exit 1
fi
echo "installing Debian's wrk (first run only)..." >&2
# Wait for another apt run to finish rather than failing on its lock.
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@"; }
apt_get install -y -qq --no-install-recommends wrk >/dev/null 2>&1 || {
  apt_get update -qq >/dev/null && apt_get install -y -qq --no-install-recommends wrk >/dev/null
}
[ -x "$WRK" ] || { echo "wrk still missing after the install" >&2; exit 1; }
echo "installed $("$WRK" --version 2>&1 | head -n1)" >&2
