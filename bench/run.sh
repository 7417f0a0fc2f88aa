#!/usr/bin/env bash
# Release-build baselines, load tool and server on the same machine:
#   1. GET /health: bare axum vs our full middleware stack (the ratio is what matters);
#   2. POST /auth/login (Argon2id), GET /users/me, and /health latency while logins run flat out.
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

PORT=$BARE_PORT target/release/examples/bare-axum &
pids+=($!)
wait_for $BARE_PORT

# The limiter runs (its cost is part of the stack) but never refuses the load tool.
DATABASE_URL=${1:-"sqlite://$work/bench.db"} PORT=$APP_PORT LOG_LEVEL=${LOG_LEVEL:-info} \
  RATE_LIMIT_MAX=1000000000 target/release/ecommerce-api >"$work/server.log" 2>&1 &
app_pid=$!
pids+=($app_pid)
wait_for $APP_PORT
sleep 1
idle_kib=$(kib $app_pid VmRSS)

for i in $(seq 1 $BENCH_USERS); do
  api POST /api/v1/auth/register "{\"email\":\"bench$i@example.com\",\"password\":\"bench password 123\"}" >/dev/null
done
token=$(api POST /api/v1/auth/login '{"email":"bench1@example.com","password":"bench password 123"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["token"])')

printf '%-40s %12s %10s %10s %8s\n' endpoint req/s p50 p99 non-2xx
load bare "bare axum GET /health" "$CONNECTIONS" "http://127.0.0.1:$BARE_PORT/health"
load health "GET /health" "$CONNECTIONS" "http://127.0.0.1:$APP_PORT/health"
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

peak_kib=$(kib $app_pid VmHWM)
ratio=$(awk -v a="$(cat "$work/health.rps")" -v b="$(cat "$work/bare.rps")" \
  'BEGIN { printf "%.2f", a / b }')
echo
echo "full stack / bare axum on /health:  $ratio"
echo "binary size:                        $(du -h target/release/ecommerce-api | cut -f1)"
echo "idle RSS:                           $((idle_kib / 1024)) MiB"
echo "peak RSS:                           $((peak_kib / 1024)) MiB"
