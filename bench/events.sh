#!/usr/bin/env bash
# The cost of events: POST /orders without NATS, then with NATS_URL (a private nats-server with
# JetStream), the time from commit to JetStream's acknowledgement under that load (p50/p99 of
# outbox_publish_latency_seconds), and how many statements an idle instance runs per minute
# (sqlx logs each one at debug).
#
#   bench/events.sh [DATABASE_URL]   (default: a fresh SQLite file; a PostgreSQL URL must name
#                                     an empty database)
#
# Environment: DURATION (10s), CONNECTIONS (64), THREADS (2), IDLE_SECS (60).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
IDLE_SECS=${IDLE_SECS:-60}
APP_PORT=3110
NATS_PORT=4333

cargo build --release --quiet --bin ecommerce-api
bin=target/release/ecommerce-api
source bench/lib.sh

DATABASE_URL=${1:-"sqlite://$work/bench.db"}
# One secret for every server of the run, so a token outlives a restart.
JWT_SECRET=$(head -c 32 /dev/urandom | base64)
export DATABASE_URL JWT_SECRET
"$bin" seed --products 1000 >/dev/null 2>&1
"$bin" create-admin --email bench-admin@example.com --password "bench password 123" >/dev/null 2>&1

/usr/sbin/nats-server -a 127.0.0.1 -p $NATS_PORT -js -sd "$work/nats" >/dev/null 2>&1 &
pids+=($!)

# start [ENV…]: the server with extra environment; sets $server.
start() {
  env PORT=$APP_PORT RATE_LIMIT_MAX=0 LOG_LEVEL=${LOG_LEVEL:-warn} "$@" "$bin" >"$work/server.log" 2>&1 &
  server=$!
  pids+=($server)
  wait_for $APP_PORT
}
stop() {
  kill "$server"
  wait "$server" 2>/dev/null || true
}

start
product_ids
orders_ready 1000000000

orders() { load "$1" "POST /api/v1/orders, $2" "$CONNECTIONS" "http://127.0.0.1:$APP_PORT" -s bench/lua/place_order.lua; }
heading "orders (1 unit)"
orders plain "without NATS_URL"
stop
start NATS_URL=nats://127.0.0.1:$NATS_PORT
orders nats "with NATS_URL"
sleep 2
metrics=$(curl -fsS "http://127.0.0.1:$APP_PORT/metrics")
quantile() {
  awk -v q="$1" '$1 == "outbox_publish_latency_seconds{quantile=\"" q "\"}" { printf "%.1f ms", $2 * 1000 }' <<<"$metrics"
}
echo
echo "commit to JetStream ack: p50 $(quantile 0.5), p99 $(quantile 0.99), max $(quantile 1)"
echo "outbox backlog after the load: $(awk '$1 == "outbox_backlog" { print $2 }' <<<"$metrics")"
echo "throughput with NATS / without:  $(ratio nats plain)"
stop

# Idle: count the statements sqlx runs (it logs each at debug) over IDLE_SECS.
LOG_LEVEL=warn,sqlx::query=debug start NATS_URL=nats://127.0.0.1:$NATS_PORT
sleep 5
before=$(grep -c 'sqlx::query' "$work/server.log" || true)
sleep "$IDLE_SECS"
after=$(grep -c 'sqlx::query' "$work/server.log" || true)
echo "statements of an idle instance in ${IDLE_SECS} s: $((after - before))"
