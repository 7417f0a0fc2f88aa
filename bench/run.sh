#!/usr/bin/env bash
# Release-build baselines, load tool and server on the same machine:
#   1. platform: GET /health, bare axum vs our full middleware stack (the ratio matters);
#   2. catalog: 10,000 seeded products; GET /products/{id} (and the same read from a minimal
#      axum + sqlx server), GET /products?limit=20, two-word search;
#   3. orders: POST /orders, one unit of a random product with plenty of stock;
#   4. accounts: POST /auth/login (Argon2id), GET /users/me, /health while logins run flat out.
# Each phase reports the server's peak RSS during that phase.
#
#   bench/run.sh [DATABASE_URL]      (default: a fresh SQLite file in a temp folder; a
#                                     PostgreSQL URL must name an empty database)
#
# Environment: DURATION (default 10s), CONNECTIONS (64), THREADS (2), LOG_LEVEL (info),
# ENCODING (gzip: requests send Accept-Encoding: gzip, as browsers do; none: they do not),
# WARMUP (3s of unmeasured load before each measured one; 0: none).
# Compare numbers from one run, not across machines.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
APP_PORT=3100
BARE_PORT=3101
BENCH_USERS=256
PRODUCTS=${PRODUCTS:-10000}
export BENCH_USERS

cargo build --release --quiet --bin ecommerce-api --example bare-axum

source bench/lib.sh

kib() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }

DATABASE_URL=${1:-"sqlite://$work/bench.db"}
export DATABASE_URL

# Seed before the server starts, as an operator would load data, so the catalog phase reads
# a settled database (checkpointed on SQLite, vacuumed on PostgreSQL).
target/release/ecommerce-api seed --products "$PRODUCTS" 2>/dev/null | tail -1

PORT=$BARE_PORT target/release/examples/bare-axum &
pids+=($!)
wait_for $BARE_PORT

# The limiter runs (its cost is part of the stack) but never refuses the load tool; the cache
# is off, so these are the costs of a miss (bench/cache.sh measures hits).
PORT=$APP_PORT LOG_LEVEL=${LOG_LEVEL:-info} RATE_LIMIT_MAX=1000000000 CACHE_MAX_MB=0 \
  target/release/ecommerce-api >"$work/server.log" 2>&1 &
app_pid=$!
pids+=($app_pid)
wait_for $APP_PORT
sleep 1
idle_kib=$(kib $app_pid VmRSS)

# Peak RSS since the last call, then start counting afresh (writing 5 to clear_refs resets
# the kernel's high-water mark).
phase_peak() {
  local peak
  peak=$(kib $app_pid VmHWM)
  echo 5 >"/proc/$app_pid/clear_refs"
  echo "$((peak / 1024)) MiB"
}

phase_peak >/dev/null
heading "platform"
load bare "bare axum GET /health" "$CONNECTIONS" "http://127.0.0.1:$BARE_PORT/health"
load health "GET /health" "$CONNECTIONS" "http://127.0.0.1:$APP_PORT/health"
platform_peak=$(phase_peak)

product_ids
heading "catalog ($PRODUCTS products)"
PREFIX=/products load minimal "minimal axum+sqlx GET /products/{id}" "$CONNECTIONS" \
  "http://127.0.0.1:$BARE_PORT" -s bench/lua/product_by_id.lua
load product "GET /api/v1/products/{id}" "$CONNECTIONS" "http://127.0.0.1:$APP_PORT" \
  -s bench/lua/product_by_id.lua
load list "GET /api/v1/products?limit=20" "$CONNECTIONS" \
  "http://127.0.0.1:$APP_PORT/api/v1/products?limit=20"
load search "GET /api/v1/products/search (2 words)" "$CONNECTIONS" "http://127.0.0.1:$APP_PORT" \
  -s bench/lua/search.lua
catalog_peak=$(phase_peak)

# Plenty of stock on the products the order load picks from.
target/release/ecommerce-api create-admin --email bench-admin@example.com \
  --password "bench password 123" >/dev/null 2>&1
orders_ready 100000000
phase_peak >/dev/null
heading "orders"
load orders "POST /api/v1/orders (1 unit)" "$CONNECTIONS" "http://127.0.0.1:$APP_PORT" \
  -s bench/lua/place_order.lua
orders_peak=$(phase_peak)

for i in $(seq 1 $BENCH_USERS); do
  api POST /api/v1/auth/register "{\"email\":\"bench$i@example.com\",\"password\":\"bench password 123\"}" >/dev/null
done
token=$(token_of bench1@example.com)
phase_peak >/dev/null
heading "accounts"
load me "GET /api/v1/users/me" "$CONNECTIONS" "http://127.0.0.1:$APP_PORT/api/v1/users/me" \
  -H "Authorization: Bearer $token"
load login "POST /api/v1/auth/login" 16 "http://127.0.0.1:$APP_PORT/api/v1/auth/login" \
  -s bench/lua/login.lua
# Health probes (4 connections, as a load balancer would poll) while logins run flat out.
wrk -t1 -c16 -d"$DURATION" -s bench/lua/login.lua "http://127.0.0.1:$APP_PORT/api/v1/auth/login" \
  >"$work/login-background.txt" &
background=$!
sleep 1
THREADS=1 load health_under_login "GET /health while logins run" 4 "http://127.0.0.1:$APP_PORT/health"
wait $background
accounts_peak=$(phase_peak)

echo
echo "full stack / bare axum on /health:  $(ratio health bare)"
echo "product by id / minimal axum+sqlx:  $(ratio product minimal)"
echo "binary size:                        $(du -h target/release/ecommerce-api | cut -f1)"
echo "idle RSS:                           $((idle_kib / 1024)) MiB"
echo "peak RSS: platform $platform_peak, catalog $catalog_peak, orders $orders_peak, accounts $accounts_peak"
