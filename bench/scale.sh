#!/usr/bin/env bash
# Costs as the data grows: for each backend and each size, a fresh database is seeded
# (N products, N orders, N/10 users, N/100 posts), the server started on it, and the same
# reads run against it (random ids, cursors and words sampled from the whole tables, the
# cache off). One table at the end puts the sizes side by side, with the p99 growth.
#
#   bench/scale.sh
#
# Environment: SIZES (default "10000 1000000"), BACKENDS ("sqlite postgres"), PG_URL (a
# server to create databases on; default postgres://postgres@127.0.0.1:5432), DURATION (5s),
# CONNECTIONS (64), THREADS (2), WARMUP (2s), ENCODING (gzip). Each PostgreSQL size gets its
# own database, bench_scale_N, dropped and created afresh.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"10000 1000000"}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-2s}
APP_PORT=3110

cargo build --release --quiet --bin ecommerce-api

source bench/lib.sh
mkdir -p "$work/results"

# The loads, in the table's order: key, connections, label.
LOADS=(
  "product 64 GET /products/{id}"
  "list 64 GET /products?limit=20"
  "list_deep 64 GET /products?cursor= (random page)"
  "list_filtered 64 GET /products?categoryId&price&inStock"
  "search_rare 64 search: brand + noun"
  "search_common 64 search: common word"
  "orders_customer 64 GET /orders (top customer)"
  "orders_admin 64 GET /orders?status=PENDING (admin)"
  "users_search 64 GET /users?search= (admin)"
  "posts 64 GET /posts"
  "stats 4 GET /users/stats (admin)"
)

token() { # token EMAIL PASSWORD
  api POST /api/v1/auth/login "{\"email\":\"$1\",\"password\":\"$2\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["token"])'
}

# run BACKEND SIZE: seed, start, measure; results under $work/results/BACKEND-SIZE-*.
run() {
  local backend=$1 size=$2 url out=$work/results/$1-$2
  case $backend in
    sqlite) url="sqlite://$work/scale-$size.db" ;;
    postgres)
      url="$PG_URL/bench_scale_$size"
      psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS bench_scale_$size" \
        -c "CREATE DATABASE bench_scale_$size" >/dev/null
      ;;
    *) echo "BACKENDS are sqlite and postgres" >&2; exit 1 ;;
  esac
  export DATABASE_URL=$url
  echo
  echo "== $backend, $size products: seeding" >&2
  LOG_LEVEL=warn /usr/bin/time -f '%M' -o "$out-seed-rss" target/release/ecommerce-api seed \
    --products "$size" --orders "$size" --users $((size / 10)) --posts $((size / 100)) \
    2>/dev/null | tail -1 >"$out-seed-summary"
  # The summary says "… in 113.2 s (53717 rows/s); …".
  awk '{ for (i = 1; i <= NF; i++) if ($i == "in" && $(i + 2) == "s") print $(i + 1) }' \
    "$out-seed-summary" >"$out-seed-secs"
  awk '{ for (i = 1; i <= NF; i++) if ($i ~ /rows\/s/) print $(i - 1) }' "$out-seed-summary" |
    tr -d '(,' >"$out-seed-rate"
  target/release/ecommerce-api create-admin --email scale-admin@example.com \
    --password "scale password 123" >/dev/null 2>&1

  # From exec to the first 200 of /health, on the database just seeded.
  local begin
  begin=$(date +%s%N)
  PORT=$APP_PORT LOG_LEVEL=warn RATE_LIMIT_MAX=1000000000 CACHE_MAX_MB=0 \
    target/release/ecommerce-api >"$work/server.log" 2>&1 &
  local app_pid=$!
  pids+=($app_pid)
  until curl -fs "http://127.0.0.1:$APP_PORT/health" >/dev/null; do sleep 0.005; done
  echo $((($(date +%s%N) - begin) / 1000000)) >"$out-startup-ms"

  python3 bench/scale_paths.py "$url" "http://127.0.0.1:$APP_PORT" "$work/paths-$backend-$size"
  local paths=$work/paths-$backend-$size admin customer
  admin=$(token scale-admin@example.com "scale password 123")
  customer=$(token "$(cat "$paths/customer")" "demo password")
  echo "/api/v1/products?limit=20" >"$paths/list"
  echo "/api/v1/orders?limit=20" >"$paths/orders_customer"
  echo "/api/v1/orders?status=PENDING&limit=20" >"$paths/orders_admin"
  echo "/api/v1/posts?limit=10" >"$paths/posts"
  echo "/api/v1/users/stats" >"$paths/stats"

  # Each load's peak RSS is taken after its warm-up (lib.sh's PEAK_PID), so it is the reads'
  # own: the logins above leave Argon2's 19 MiB working area, freed 2 s after the last hash.
  export PEAK_PID=$app_pid
  heading "$backend, $size products" >&2
  local entry key connections label auth
  for entry in "${LOADS[@]}"; do
    read -r key connections label <<<"$entry"
    case $key in
      orders_customer) auth=(-H "Authorization: Bearer $customer") ;;
      orders_admin | users_search | stats) auth=(-H "Authorization: Bearer $admin") ;;
      *) auth=() ;;
    esac
    PATHS_FILE=$paths/$key load "results/$backend-$size-$key" "$label" "$connections" \
      "http://127.0.0.1:$APP_PORT" -s bench/lua/paths.lua "${auth[@]}" >&2
  done
  cat "$work"/results/"$backend-$size"-*.peak | sort -n | tail -1 >"$out-peak-mib"
  unset PEAK_PID
  kill "$app_pid"
  wait "$app_pid" 2>/dev/null || true
}

for backend in $BACKENDS; do
  for size in $SIZES; do
    run "$backend" "$size"
  done
done

# The side-by-side table: per backend, req/s p50 p99 and the server's peak RSS (MiB) at each
# size, and p99 growth from the smallest size to the largest.
sizes=($SIZES)
small=${sizes[0]}
large=${sizes[-1]}
for backend in $BACKENDS; do
  echo
  printf '%-44s' "$backend"
  for size in $SIZES; do printf ' | %31s' "$size products"; done
  printf ' | %s\n' "p99 x"
  printf '%-44s' ""
  for size in $SIZES; do printf ' | %9s %8s %8s %3s' req/s p50 p99 MiB; done
  printf ' |\n'
  for entry in "${LOADS[@]}"; do
    read -r key connections label <<<"$entry"
    printf '%-44s' "$label (c$connections)"
    for size in $SIZES; do
      line=$(cat "$work/results/$backend-$size-$key.line")
      # The label has spaces; the last four fields are req/s, p50, p99 and non-2xx.
      awk -v mib="$(cat "$work/results/$backend-$size-$key.peak")" \
        '{ printf " | %9s %8s %8s %3s", $(NF-3), $(NF-2), $(NF-1), mib }' <<<"$line"
    done
    awk -v a="$(awk '{ print $(NF-1) }' "$work/results/$backend-$small-$key.line")" \
      -v b="$(awk '{ print $(NF-1) }' "$work/results/$backend-$large-$key.line")" '
      function ms(t) {
        if (t ~ /us$/) return t / 1000
        if (t ~ /ms$/) return t + 0
        if (t ~ /s$/) return t * 1000
        return t
      }
      BEGIN { printf " | %.1f\n", ms(b) / ms(a) }'
  done
  for size in $SIZES; do
    out=$work/results/$backend-$size
    printf '%s products: seed %s s (%s rows/s, peak RSS %s MiB), start-up to first /health %s ms, server peak RSS under load %s MiB\n' \
      "$size" "$(cat "$out-seed-secs")" "$(cat "$out-seed-rate")" \
      "$(($(cat "$out-seed-rss") / 1024))" "$(cat "$out-startup-ms")" "$(cat "$out-peak-mib")"
  done
done
