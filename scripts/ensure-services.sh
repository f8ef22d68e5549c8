#!/usr/bin/env bash
# Make sure the PostgreSQL and Redis the tests use are reachable; start them (installing Debian's packages
# first when absent and running as root) when they are not. Otherwise say in one line what to start.
set -euo pipefail

PG_HOST=${TEST_PG_HOST:-127.0.0.1}
PG_PORT=${TEST_PG_PORT:-5432}
REDIS_HOST=${TEST_REDIS_HOST:-127.0.0.1}
REDIS_PORT=${TEST_REDIS_PORT:-6379}

reachable() { # host port
  python3 - "$1" "$2" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}

wait_for() { # name host port
  for _ in $(seq 1 30); do reachable "$2" "$3" && return 0; sleep 1; done
  echo "$1 did not come up on $2:$3" >&2; return 1
}

is_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
  is_root || return 1
  command -v apt-get >/dev/null || return 1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  }
}

ensure_postgres() {
  reachable "$PG_HOST" "$PG_PORT" && return 0
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql || { echo "PostgreSQL is not running on $PG_HOST:$PG_PORT: start it (trust auth for user postgres) and run make test again" >&2; exit 1; }
  fi
  is_root || { echo "PostgreSQL is not running on $PG_HOST:$PG_PORT: start it with 'pg_ctlcluster <version> main start'" >&2; exit 1; }
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  # The tests connect as postgres without a password over TCP on loopback.
  if ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || pg_ctlcluster "$version" main start
  wait_for PostgreSQL "$PG_HOST" "$PG_PORT"
  echo "started PostgreSQL $version"
}

ensure_redis() {
  reachable "$REDIS_HOST" "$REDIS_PORT" && return 0
  command -v redis-server >/dev/null || apt_install redis-server || {
    echo "Redis is not running on $REDIS_HOST:$REDIS_PORT: start it (redis-server --port $REDIS_PORT) and run make test again" >&2; exit 1; }
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "${TMPDIR:-/tmp}" --logfile "${TMPDIR:-/tmp}/redis-test.log"
  wait_for Redis "$REDIS_HOST" "$REDIS_PORT"
  echo "started Redis"
}

ensure_postgres
ensure_redis
