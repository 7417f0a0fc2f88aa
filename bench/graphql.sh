#!/usr/bin/env bash
# GraphQL against REST on a release build, load tool and server on one machine:
#   - product(id) over POST /graphql against GET /api/v1/products/{id}, the same fields, random
#     ids of 10,000 seeded products; the ratio of their req/s;
#   - a page of 20 orders with items and each item's product (POST /graphql) against
#     GET /api/v1/orders?limit=20, for a user with 40 orders of 3 lines each;
#   - the SQL statements each request sends (Server-Timing).
#
#   bench/graphql.sh [DATABASE_URL]   (default: a fresh SQLite file; a PostgreSQL URL must name
#                                      an empty database)
#
# Environment: DURATION (default 10s), CONNECTIONS (64), THREADS (2).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
APP_PORT=3110

if ! command -v wrk >/dev/null; then
  echo "installing wrk from Debian's packages" >&2
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
cargo build --release --quiet --bin ecommerce-api

work=$(mktemp -d)
app_pid=
cleanup() {
  [[ -n $app_pid ]] && kill "$app_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

DATABASE_URL=${1:-"sqlite://$work/bench.db"}
export DATABASE_URL
target/release/ecommerce-api seed --products 10000 2>/dev/null | tail -1
target/release/ecommerce-api create-admin --email bench-admin@example.com \
  --password "bench password 123" >/dev/null 2>&1

PORT=$APP_PORT LOG_LEVEL=warn RATE_LIMIT_MAX=1000000000 \
  target/release/ecommerce-api >"$work/server.log" 2>&1 &
app_pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$APP_PORT/health" >/dev/null && break
  sleep 0.1
done

api() { # api METHOD PATH [JSON] [TOKEN]
  curl -fsS -X "$1" "http://127.0.0.1:$APP_PORT$2" -H 'content-type: application/json' \
    ${4:+-H "authorization: Bearer $4"} ${3:+-d "$3"}
}
token_of() {
  api POST /api/v1/auth/login "{\"email\":\"$1\",\"password\":\"bench password 123\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["token"])'
}

curl -fsS "http://127.0.0.1:$APP_PORT/api/v1/products?limit=100" |
  python3 -c 'import json, sys; [print(p["id"]) for p in json.load(sys.stdin)["data"]]' >"$work/ids"
export IDS_FILE=$work/ids
admin=$(token_of bench-admin@example.com)
mapfile -t ids <"$work/ids"
for id in "${ids[@]:0:30}"; do
  api PATCH "/api/v1/products/$id" '{"inStock":100000}' "$admin" >/dev/null
done
api POST /api/v1/auth/register '{"email":"buyer@example.com","password":"bench password 123"}' >/dev/null
TOKEN=$(token_of buyer@example.com)
export TOKEN
for n in $(seq 0 39); do
  api POST /api/v1/orders "{\"items\":[{\"productId\":\"${ids[$((n % 30))]}\",\"quantity\":1},{\"productId\":\"${ids[$(((n + 7) % 30))]}\",\"quantity\":2},{\"productId\":\"${ids[$(((n + 13) % 30))]}\",\"quantity\":1}]}" "$TOKEN" >/dev/null
done

# load KEY NAME URL [wrk args…]: prints name, req/s, p50, p99, non-2xx; keeps req/s in KEY.rps.
load() {
  local key=$1 name=$2 url=$3 out
  shift 3
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url")
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  errors=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
  printf '%-46s %12s %10s %10s %8s\n' "$name" "$rps" "$p50" "$p99" "${errors:-0}"
  echo "$rps" >"$work/$key.rps"
}
statements() { # statements CURL_ARGS…: the Server-Timing count of one request
  curl -fsS -o /dev/null -D - "$@" | awk -F'"' 'tolower($0) ~ /^server-timing/ { print $2 }'
}

printf '\n%-46s %12s %10s %10s %8s\n' "" req/s p50 p99 non-2xx
load rest "GET /api/v1/products/{id}" "http://127.0.0.1:$APP_PORT" -s bench/lua/product_by_id.lua
load graphql "POST /graphql product(id)" "http://127.0.0.1:$APP_PORT" -s bench/lua/graphql_product.lua
load rest_orders "GET /api/v1/orders?limit=20 (3 lines each)" \
  "http://127.0.0.1:$APP_PORT/api/v1/orders?limit=20" -H "Authorization: Bearer $TOKEN"
load graphql_orders "POST /graphql 20 orders, items, products" "http://127.0.0.1:$APP_PORT" \
  -s bench/lua/graphql_orders.lua

orders_query='{"query":"{ orders(limit: 20) { items { id items { quantity product { id name price } } } } }"}'
echo
echo "product(id) / GET /products/{id}:    $(awk -v a="$(cat "$work/graphql.rps")" -v b="$(cat "$work/rest.rps")" 'BEGIN { printf "%.2f", a / b }')"
echo "statements, GET /products/{id}:      $(statements "http://127.0.0.1:$APP_PORT/api/v1/products/${ids[0]}")"
echo "statements, 20 orders over GraphQL:  $(statements -X POST "http://127.0.0.1:$APP_PORT/graphql" \
  -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" -d "$orders_query")"
