#!/usr/bin/env bash
# make postman: run the Postman collection with newman against a fresh service it starts (embedded mode:
# SQLite under var/postman, jobs in-process, the sandbox) on a free loopback port, then stop the service.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-node.sh
# newman lives in postman/node_modules (never a global install); npm ci only when the lock file changed.
if [ ! -x postman/node_modules/.bin/newman ] || [ postman/package-lock.json -nt postman/node_modules/.package-lock.json ]; then
  echo "installing newman into postman/node_modules..." >&2
  npm ci --prefix postman --no-audit --no-fund --loglevel=error >/dev/null
fi

PORT=${POSTMAN_PORT:-$(.venv/bin/python scripts/free-port.py)}
RUN_DIR=var/postman
rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR"
export APP_ENV=development INSTAGRAM_MODE=sandbox HOST=127.0.0.1 PORT LOG_JSON=false \
  WEBHOOK_ALLOW_LOOPBACK=true APP_VAR_DIR="$RUN_DIR" DATABASE_URL="sqlite+aiosqlite:///$RUN_DIR/instagram.db"

.venv/bin/uvicorn app.main:app --host 127.0.0.1 --port "$PORT" >"$RUN_DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true' EXIT

for _ in $(seq 1 60); do
  .venv/bin/python -c 'import sys, httpx; httpx.get(sys.argv[1], timeout=1).raise_for_status()' \
    "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { echo "the service did not start:" >&2; tail -20 "$RUN_DIR/server.log" >&2; exit 1; }
  sleep 0.5
done

TOKEN=$(.venv/bin/python -m app token --sub postman)
echo "newman: the collection against http://127.0.0.1:$PORT (server log: $RUN_DIR/server.log)" >&2
postman/node_modules/.bin/newman run postman/instagram-service.postman_collection.json \
  --environment postman/instagram-service.postman_environment.json \
  --env-var "base_url=http://127.0.0.1:$PORT" --env-var "jwt_token=$TOKEN" \
  --timeout-request 60000 --color off --no-insecure-file-read
