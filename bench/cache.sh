#!/usr/bin/env bash
# The cache and the shared limiter (issue: scale-out), in one sitting on 10,000 products:
#   1. uncached (CACHE_MAX_MB=0): GET /health, GET /products/{id}, GET /products?limit=20;
#   2. cached in process only: the same reads;
#   3. cached with REDIS_URL (a private redis-server): the same reads, so the shared
#      limiter's cost is 3 against 2 (and Redis's count of script calls shows how many
#      requests each call served);
# with the server's peak RSS per phase and the cache's budget.
#
#   bench/cache.sh [DATABASE_URL]    (default: a fresh SQLite file; PostgreSQL: an empty database)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
APP_PORT=3100
REDIS_PORT=3179
CACHE_MB=${CACHE_MAX_MB:-16}

cargo build --release --quiet --bin ecommerce-api
source bench/lib.sh

DATABASE_URL=${1:-"sqlite://$work/bench.db"}
export DATABASE_URL
target/release/ecommerce-api seed --products 10000 2>/dev/null | tail -1

redis-server --bind 127.0.0.1 --port $REDIS_PORT --save "" --appendonly no >/dev/null &
pids+=($!)

kib() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }

# phase NAME [ENV…]: starts the server with ENV, runs the three reads, stops it.
phase() {
  local name=$1
  shift
  env PORT=$APP_PORT LOG_LEVEL=warn RATE_LIMIT_MAX=1000000000 "$@" \
    target/release/ecommerce-api >"$work/$name.log" 2>&1 &
  local pid=$!
  wait_for $APP_PORT
  if [ ! -s "$work/ids" ]; then product_ids; fi
  export IDS_FILE=$work/ids
  heading "$name"
  load "$name-health" "GET /health" "$CONNECTIONS" "http://127.0.0.1:$APP_PORT/health"
  load "$name-product" "GET /api/v1/products/{id}" "$CONNECTIONS" "http://127.0.0.1:$APP_PORT" \
    -s bench/lua/product_by_id.lua
  load "$name-list" "GET /api/v1/products?limit=20" "$CONNECTIONS" \
    "http://127.0.0.1:$APP_PORT/api/v1/products?limit=20"
  echo "peak RSS: $(($(kib $pid VmHWM) / 1024)) MiB (cache budget $CACHE_MB MiB)"
  kill $pid
  wait $pid 2>/dev/null || true
}

phase uncached CACHE_MAX_MB=0
phase cached CACHE_MAX_MB="$CACHE_MB"
phase redis CACHE_MAX_MB="$CACHE_MB" REDIS_URL=redis://127.0.0.1:$REDIS_PORT
calls=$(redis-cli -p $REDIS_PORT info commandstats | awk -F'[=,]' '/^cmdstat_evalsha:/ { print $2 }')
echo "limiter script calls in the Redis phase: ${calls:-0}"

echo
echo "cached product / /health (same phase):  $(ratio cached-product cached-health)"
echo "cached product / uncached product:      $(ratio cached-product uncached-product)"
echo "cached list / uncached list:            $(ratio cached-list uncached-list)"
echo "product with Redis / without (limiter): $(ratio redis-product cached-product)"
