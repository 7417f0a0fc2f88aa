#!/usr/bin/env bash
# Release-build baselines, load tool and server on the same machine:
#   1. platform: GET /health, bare axum vs our full middleware stack (the ratio matters);
#   2. catalog: 10,000 seeded products; GET /products/{id} (and, on PostgreSQL, the same read
#      from a minimal axum + sqlx server), GET /products?limit=20, two-word search;
#   3. orders: POST /orders, one unit of a random product with plenty of stock;
#   4. accounts: POST /auth/login (Argon2id), GET /users/me, /health while logins run flat out.
# Each phase reports the server's peak RSS during that phase.
#
#   bench/run.sh [DATABASE_URL]      (default: a fresh SQLite file in a temp folder; a
#                                     PostgreSQL URL must name an empty database)
#
# Environment: DURATION (default 10s), CONNECTIONS (64), THREADS (2), LOG_LEVEL (info).
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

if ! command -v wrk >/dev/null; then
  echo "installing wrk from Debian's packages" >&2
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

cargo build --release --quiet --bin ecommerce-api --example bare-axum

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_for() {
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$1/health" >/dev/null && return 0
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2
  exit 1
}

kib() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }

# load KEY NAME CONNECTIONS URL [wrk args…]: prints name, req/s, p50, p99 and non-2xx count,
# and keeps req/s under $work/KEY.rps.
load() {
  local key=$1 name=$2 connections=$3 url=$4 out
  shift 4
  out=$(wrk -t"$THREADS" -c"$connections" -d"$DURATION" --latency "$@" "$url")
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  errors=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
  printf '%-40s %12s %10s %10s %8s\n' "$name" "$rps" "$p50" "$p99" "${errors:-0}"
  echo "$rps" >"$work/$key.rps"
}

api() { # api METHOD PATH [JSON] [TOKEN]
  curl -fsS -X "$1" "http://127.0.0.1:$APP_PORT$2" -H 'content-type: application/json' \
    ${4:+-H "authorization: Bearer $4"} ${3:+-d "$3"}
}

DATABASE_URL=${1:-"sqlite://$work/bench.db"}
export DATABASE_URL

# Seed before the server starts, as an operator would load data, so the catalog phase reads
# a settled database (checkpointed on SQLite, vacuumed on PostgreSQL).
target/release/ecommerce-api seed --products "$PRODUCTS" 2>/dev/null | tail -1

PORT=$BARE_PORT target/release/examples/bare-axum &
pids+=($!)
wait_for $BARE_PORT

# The limiter runs (its cost is part of the stack) but never refuses the load tool.
PORT=$APP_PORT LOG_LEVEL=${LOG_LEVEL:-info} RATE_LIMIT_MAX=1000000000 \
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
heading() { printf '\n%-40s %12s %10s %10s %8s\n' "$1" req/s p50 p99 non-2xx; }

phase_peak >/dev/null
heading "platform"
load bare "bare axum GET /health" "$CONNECTIONS" "http://127.0.0.1:$BARE_PORT/health"
load health "GET /health" "$CONNECTIONS" "http://127.0.0.1:$APP_PORT/health"
platform_peak=$(phase_peak)

curl -fsS "http://127.0.0.1:$APP_PORT/api/v1/products?limit=100" |
  python3 -c 'import json, sys; [print(p["id"]) for p in json.load(sys.stdin)["data"]]' >"$work/ids"
export IDS_FILE=$work/ids
heading "catalog ($PRODUCTS products)"
if [[ $DATABASE_URL == postgres* ]]; then
  PREFIX=/products load minimal "minimal axum+sqlx GET /products/{id}" "$CONNECTIONS" \
    "http://127.0.0.1:$BARE_PORT" -s bench/lua/product_by_id.lua
fi
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
admin=$(api POST /api/v1/auth/login '{"email":"bench-admin@example.com","password":"bench password 123"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["token"])')
while read -r id; do
  api PATCH "/api/v1/products/$id" '{"inStock":100000000}' "$admin" >/dev/null
done <"$work/ids"
api POST /api/v1/auth/register '{"email":"buyer@example.com","password":"bench password 123"}' >/dev/null
TOKEN=$(api POST /api/v1/auth/login '{"email":"buyer@example.com","password":"bench password 123"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["token"])')
export TOKEN
phase_peak >/dev/null
heading "orders"
load orders "POST /api/v1/orders (1 unit)" "$CONNECTIONS" "http://127.0.0.1:$APP_PORT" \
  -s bench/lua/place_order.lua
orders_peak=$(phase_peak)

for i in $(seq 1 $BENCH_USERS); do
  api POST /api/v1/auth/register "{\"email\":\"bench$i@example.com\",\"password\":\"bench password 123\"}" >/dev/null
done
token=$(api POST /api/v1/auth/login '{"email":"bench1@example.com","password":"bench password 123"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["token"])')
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

ratio() { awk -v a="$(cat "$work/$1.rps")" -v b="$(cat "$work/$2.rps")" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "full stack / bare axum on /health:  $(ratio health bare)"
if [[ -f $work/minimal.rps ]]; then
  echo "product by id / minimal axum+sqlx:  $(ratio product minimal)"
fi
echo "binary size:                        $(du -h target/release/ecommerce-api | cut -f1)"
echo "idle RSS:                           $((idle_kib / 1024)) MiB"
echo "peak RSS: platform $platform_peak, catalog $catalog_peak, orders $orders_peak, accounts $accounts_peak"
