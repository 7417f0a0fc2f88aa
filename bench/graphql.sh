#!/usr/bin/env bash
# GraphQL against REST on a release build, load tool and server on one machine:
#   - product(id) over POST /graphql against GET /api/v1/products/{id}, the same fields, random
#     ids of 10,000 seeded products; the ratio of their req/s;
#   - a page of 20 orders with items and each item's product (POST /graphql) against
#     GET /api/v1/orders?limit=20, for a user with 40 orders of 3 lines each;
#   - the SQL statements each request sends (Server-Timing).
# The response cache is off (CACHE_MAX_MB=0), so both transports read the database.
#
#   bench/graphql.sh [DATABASE_URL]   (default: a fresh SQLite file; a PostgreSQL URL must name
#                                      an empty database)
#
# Environment: DURATION (default 10s), CONNECTIONS (64), THREADS (2), LIGHT (4: the connections
# of the light-load run of the orders query).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
LIGHT=${LIGHT:-4}
APP_PORT=3110

cargo build --release --quiet --bin ecommerce-api

source bench/lib.sh

DATABASE_URL=${1:-"sqlite://$work/bench.db"}
export DATABASE_URL
target/release/ecommerce-api seed --products 10000 2>/dev/null | tail -1
target/release/ecommerce-api create-admin --email bench-admin@example.com \
  --password "bench password 123" >/dev/null 2>&1

PORT=$APP_PORT LOG_LEVEL=warn RATE_LIMIT_MAX=1000000000 CACHE_MAX_MB=0 \
  target/release/ecommerce-api >"$work/server.log" 2>&1 &
pids+=($!)
wait_for $APP_PORT

product_ids
orders_ready 100000
mapfile -t ids <"$work/ids"
for n in $(seq 0 39); do
  api POST /api/v1/orders "{\"items\":[{\"productId\":\"${ids[$((n % 30))]}\",\"quantity\":1},{\"productId\":\"${ids[$(((n + 7) % 30))]}\",\"quantity\":2},{\"productId\":\"${ids[$(((n + 13) % 30))]}\",\"quantity\":1}]}" "$TOKEN" >/dev/null
done

statements() { # statements CURL_ARGS…: the Server-Timing count of one request
  curl -fsS -o /dev/null -D - "$@" | awk -F'"' 'tolower($0) ~ /^server-timing/ { print $2 }'
}

heading "GraphQL and REST"
load rest "GET /api/v1/products/{id}" "$CONNECTIONS" "http://127.0.0.1:$APP_PORT" -s bench/lua/product_by_id.lua
load graphql "POST /graphql product(id)" "$CONNECTIONS" "http://127.0.0.1:$APP_PORT" -s bench/lua/graphql_product.lua
load rest_orders "GET /api/v1/orders?limit=20 (3 lines each)" "$CONNECTIONS" \
  "http://127.0.0.1:$APP_PORT/api/v1/orders?limit=20" -H "Authorization: Bearer $TOKEN"
load graphql_orders "POST /graphql 20 orders, items, products" "$CONNECTIONS" "http://127.0.0.1:$APP_PORT" \
  -s bench/lua/graphql_orders.lua
# The same at light load: at 64 connections on two shared cores a request's p99 is mostly its
# wait in the queue (Little's law: 64 / req/s), so its own latency shows at a few connections.
load graphql_orders_light "POST /graphql 20 orders, $LIGHT connections" "$LIGHT" \
  "http://127.0.0.1:$APP_PORT" -s bench/lua/graphql_orders.lua

orders_query='{"query":"{ orders(limit: 20) { items { id items { quantity product { id name price } } } } }"}'
echo
echo "product(id) / GET /products/{id}:    $(ratio graphql rest)"
echo "statements, GET /products/{id}:      $(statements "http://127.0.0.1:$APP_PORT/api/v1/products/${ids[0]}")"
echo "statements, 20 orders over GraphQL:  $(statements -X POST "http://127.0.0.1:$APP_PORT/graphql" \
  -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" -d "$orders_query")"
