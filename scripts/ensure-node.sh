#!/usr/bin/env bash
# Make sure Node.js and npm are installed (make postman runs newman with them); install Debian's nodejs and
# npm when missing and running as root, otherwise say in one line what to install.
set -euo pipefail

command -v node >/dev/null && command -v npm >/dev/null && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "Node.js and npm are needed to run newman: install them (Debian: apt-get install nodejs npm) and run make postman again" >&2
  exit 1
fi
echo "installing Debian's nodejs and npm (first run only)..." >&2
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@"; }
apt_get install -y -qq --no-install-recommends nodejs npm >/dev/null 2>&1 || {
  apt_get update -qq >/dev/null && apt_get install -y -qq --no-install-recommends nodejs npm >/dev/null
}
command -v node >/dev/null && command -v npm >/dev/null || { echo "node or npm still missing after the install" >&2; exit 1; }
echo "installed node $(node --version), npm $(npm --version)" >&2
