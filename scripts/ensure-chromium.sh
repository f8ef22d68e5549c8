#!/usr/bin/env bash
# Make sure Debian's Chromium and its ChromeDriver are installed (make test-browser drives them through
# selenium); install them when missing and running as root, otherwise say in one line what to install.
set -euo pipefail

CHROMIUM=${CHROMIUM_BINARY:-/usr/bin/chromium}
CHROMEDRIVER=${CHROMEDRIVER_BINARY:-/usr/bin/chromedriver}

[ -x "$CHROMIUM" ] && [ -x "$CHROMEDRIVER" ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "Chromium and ChromeDriver are needed: install Debian's chromium and chromium-driver (or set CHROMIUM_BINARY and CHROMEDRIVER_BINARY)" >&2
  exit 1
fi
echo "installing Debian's chromium and chromium-driver (first run only, about a minute)..." >&2
# Wait for another apt run to finish rather than failing on its lock.
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@"; }
apt_get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1 || {
  apt_get update -qq >/dev/null && apt_get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
}
[ -x "$CHROMIUM" ] && [ -x "$CHROMEDRIVER" ] || { echo "chromium or chromedriver still missing after the install" >&2; exit 1; }
echo "installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)" >&2
