#!/usr/bin/env bash
# Throughput baselines on a release build: bare axum vs our full stack on GET /health.
#
#   bench/run.sh [DATABASE_URL]      (default: a fresh SQLite file in a temp folder)
#
# Environment: DURATION (default 10s), CONNECTIONS (64), THREADS (2).
# Load and server share the machine, so compare numbers from one run, not across machines.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
APP_PORT=3100
BARE_PORT=3101

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

# Prints: name req/s p50 p99, and keeps req/s under $work/<key>.rps
load() {
  local key=$1 name=$2 url=$3 out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url")
  local rps p50 p99
  rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  printf '%-28s %12s %10s %10s\n' "$name" "$rps" "$p50" "$p99"
  echo "$rps" >"$work/$key.rps"
}

PORT=$BARE_PORT target/release/examples/bare-axum &
pids+=($!)
wait_for $BARE_PORT

DATABASE_URL=${1:-"sqlite://$work/bench.db"} PORT=$APP_PORT LOG_LEVEL=${LOG_LEVEL:-info} \
  RATE_LIMIT_MAX=100 target/release/ecommerce-api >"$work/server.log" 2>&1 &
app_pid=$!
pids+=($app_pid)
wait_for $APP_PORT
sleep 1
idle_kib=$(kib $app_pid VmRSS)

printf '%-28s %12s %10s %10s\n' endpoint req/s p50 p99
load bare "bare-axum GET /health" "http://127.0.0.1:$BARE_PORT/health"
load health "ecommerce-api GET /health" "http://127.0.0.1:$APP_PORT/health"

peak_kib=$(kib $app_pid VmHWM)
ratio=$(awk -v a="$(cat "$work/health.rps")" -v b="$(cat "$work/bare.rps")" \
  'BEGIN { printf "%.2f", a / b }')
echo
echo "full stack / bare axum:   $ratio"
echo "binary size:              $(du -h target/release/ecommerce-api | cut -f1)"
echo "idle RSS:                 $((idle_kib / 1024)) MiB"
echo "peak RSS under load:      $((peak_kib / 1024)) MiB"
