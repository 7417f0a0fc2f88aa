#!/usr/bin/env bash
# Where a request's CPU goes: the release build with symbols (`--profile profiling`) on a fresh
# database with 10,000 products, sampled by `perf` while wrk loads one request at a time:
# GET /health, GET /products/{id}, GET /products?limit=20 and POST /orders. Prints, per
# request, req/s (while sampled: lower than bench/run.sh's) and the share of samples by binary (app, libc, kernel) and the top symbols.
#
#   bench/profile.sh [DATABASE_URL]   (default: a fresh SQLite file; a PostgreSQL URL must name
#                                      an empty database, whose own processes are not sampled)
#
# Environment: DURATION (default 10s), CONNECTIONS (64), THREADS (2), TOP (25 symbols),
# ENCODING and WARMUP as in bench/lib.sh, BIN (a binary with symbols to profile instead of
# building this checkout's, e.g. an older commit's for a before-and-after). `perf` comes from
# Debian's linux-perf.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
TOP=${TOP:-25}
APP_PORT=3100
bin=${BIN:-target/profiling/ecommerce-api}

if ! command -v perf >/dev/null; then
  echo "installing perf from Debian's packages" >&2
  apt-get install -y linux-perf >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y linux-perf >/dev/null; }
fi
if [[ -z ${BIN:-} ]]; then cargo build --profile profiling --quiet --bin ecommerce-api; fi

source bench/lib.sh

DATABASE_URL=${1:-"sqlite://$work/bench.db"}
export DATABASE_URL
"$bin" seed --products 10000 2>/dev/null | tail -1
"$bin" create-admin --email bench-admin@example.com --password "bench password 123" >/dev/null 2>&1

PORT=$APP_PORT LOG_LEVEL=${LOG_LEVEL:-info} RATE_LIMIT_MAX=1000000000 CACHE_MAX_MB=0 \
  "$bin" >"$work/server.log" 2>&1 &
app_pid=$!
pids+=($app_pid)
wait_for $APP_PORT

product_ids
orders_ready 100000000

# profile KEY NAME URL [wrk args…]: the load, measured, while perf samples the server.
profile() {
  local key=$1 name=$2 url=$3
  shift 3
  perf record -q -F 999 -p "$app_pid" -o "$work/$key.perf" 2>/dev/null &
  local recorder=$!
  heading "$name"
  load "$key" "$name" "$CONNECTIONS" "$url" "$@"
  kill -INT $recorder
  wait $recorder 2>/dev/null || true
  echo "-- share of samples by binary"
  # sed reads to the end (head would stop perf with SIGPIPE, a failure under pipefail).
  perf report -q -i "$work/$key.perf" --no-children --sort dso --stdio 2>/dev/null | sed -n 1,6p
  echo "-- top $TOP symbols"
  perf report -q -i "$work/$key.perf" --no-children --sort symbol --stdio 2>/dev/null |
    cut -c1-150 | sed -n "1,${TOP}p"
}

# The warm-up is sampled too: it is the same request.
profile health "GET /health" "http://127.0.0.1:$APP_PORT/health"
profile product "GET /api/v1/products/{id}" "http://127.0.0.1:$APP_PORT" -s bench/lua/product_by_id.lua
profile list "GET /api/v1/products?limit=20" "http://127.0.0.1:$APP_PORT/api/v1/products?limit=20"
profile orders "POST /api/v1/orders (1 unit)" "http://127.0.0.1:$APP_PORT" -s bench/lua/place_order.lua
