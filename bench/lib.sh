# Shared by the bench/*.sh scripts (sourced, after `cd` to the repository): wrk, a work folder
# cleaned up on exit with every process in `pids`, and the helpers below. Expects APP_PORT,
# DURATION and THREADS to be set.

if ! command -v wrk >/dev/null; then
  echo "installing wrk from Debian's packages" >&2
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_for() { # wait_for PORT: until /health answers there
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$1/health" >/dev/null && return 0
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2
  exit 1
}

api() { # api METHOD PATH [JSON] [TOKEN]
  curl -fsS -X "$1" "http://127.0.0.1:$APP_PORT$2" -H 'content-type: application/json' \
    ${4:+-H "authorization: Bearer $4"} ${3:+-d "$3"}
}

token_of() { # token_of EMAIL: an access token (every bench account has the same password)
  api POST /api/v1/auth/login "{\"email\":\"$1\",\"password\":\"bench password 123\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["token"])'
}

product_ids() { # product_ids: the first 100 products' ids into $work/ids, named by IDS_FILE
  curl -fsS "http://127.0.0.1:$APP_PORT/api/v1/products?limit=100" |
    python3 -c 'import json, sys; [print(p["id"]) for p in json.load(sys.stdin)["data"]]' >"$work/ids"
  export IDS_FILE=$work/ids
}

orders_ready() { # orders_ready STOCK: every product in $work/ids gets STOCK units (as
  # bench-admin@example.com, which must exist), and buyer@example.com's token is in TOKEN.
  local admin id
  admin=$(token_of bench-admin@example.com)
  while read -r id; do
    api PATCH "/api/v1/products/$id" "{\"inStock\":$1}" "$admin" >/dev/null
  done <"$work/ids"
  api POST /api/v1/auth/register '{"email":"buyer@example.com","password":"bench password 123"}' >/dev/null
  TOKEN=$(token_of buyer@example.com)
  export TOKEN
}

heading() { printf '\n%-46s %12s %10s %10s %8s\n' "$1" req/s p50 p99 non-2xx; }

# Requests say they accept gzip, as every browser and HTTP library does (ENCODING=none: they
# do not). Scripts that build their own headers copy wrk.headers, where this lands.
ENCODING=${ENCODING:-gzip}
case $ENCODING in
  gzip) encoding=(-H 'Accept-Encoding: gzip') ;;
  none) encoding=() ;;
  *) echo "ENCODING must be gzip or none" >&2; exit 1 ;;
esac

# Each load runs this long unmeasured first (WARMUP=0: not at all), so pools, caches and the
# allocator are warm when counting starts.
WARMUP=${WARMUP:-3s}

# load KEY NAME CONNECTIONS URL [wrk args…]: prints name, req/s, p50, p99 and non-2xx count,
# and keeps req/s under $work/KEY.rps and the printed line under $work/KEY.line. With PEAK_PID
# set, also that process's peak RSS in MiB during the measured run (after the warm-up) under
# $work/KEY.peak.
load() {
  local key=$1 name=$2 connections=$3 url=$4 out
  shift 4
  if [[ $WARMUP != 0 ]]; then
    wrk -t"$THREADS" -c"$connections" -d"$WARMUP" "${encoding[@]}" "$@" "$url" >/dev/null
  fi
  # Writing 5 to clear_refs resets the peak RSS to the current RSS.
  if [[ -n ${PEAK_PID:-} ]]; then echo 5 >"/proc/$PEAK_PID/clear_refs"; fi
  out=$(wrk -t"$THREADS" -c"$connections" -d"$DURATION" --latency "${encoding[@]}" "$@" "$url")
  if [[ -n ${PEAK_PID:-} ]]; then
    awk '$1 == "VmHWM:" { print int($2 / 1024) }' "/proc/$PEAK_PID/status" >"$work/$key.peak"
  fi
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  errors=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
  printf '%-46s %12s %10s %10s %8s\n' "$name" "$rps" "$p50" "$p99" "${errors:-0}" |
    tee "$work/$key.line"
  echo "$rps" >"$work/$key.rps"
}

ratio() { # ratio KEY KEY: the first load's req/s over the second's
  awk -v a="$(cat "$work/$1.rps")" -v b="$(cat "$work/$2.rps")" 'BEGIN { printf "%.2f", a / b }'
}
