#!/usr/bin/env bash
# The cluster of compose.yaml from this machine's own binaries: a fresh PostgreSQL database,
# a private redis-server and nats-server, migrations run once, two instances of the release
# binary on free ports and Debian's nginx in front; then a smoke test through nginx.
#
#   deploy/cluster.sh [POSTGRES_ADMIN_URL]     (default postgres://postgres@127.0.0.1:5432/test)
#   KEEP=1 deploy/cluster.sh                   leaves it running until Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."

ADMIN_URL=${1:-postgres://postgres@127.0.0.1:5432/test}
work=$(mktemp -d)
pids=()
database=cluster_$$_$RANDOM
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "nothing listens on $1" >&2; exit 1; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "installing nginx from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q nginx-light >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q nginx-light; }
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release --quiet
bin=target/release/ecommerce-api

psql -q "$ADMIN_URL" -c "CREATE DATABASE $database" >/dev/null
redis_port=$(free_port); nats_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no >/dev/null &
pids+=($!)
/usr/sbin/nats-server -a 127.0.0.1 -p "$nats_port" -js -sd "$work/nats" >/dev/null 2>&1 &
pids+=($!)
wait_port "$redis_port"; wait_port "$nats_port"

export DATABASE_URL=${ADMIN_URL%/*}/$database
export REDIS_URL=redis://127.0.0.1:$redis_port NATS_URL=nats://127.0.0.1:$nats_port
export APP_ENV=production JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export TRUST_PROXY=true TRUSTED_PROXY_HOPS=1 RATE_LIMIT_MAX=${RATE_LIMIT_MAX:-200} LOG_LEVEL=warn

# Migrations once, then the instances (which find nothing pending).
"$bin" migrate
ports=()
for i in 1 2; do
  port=$(free_port)
  PORT=$port "$bin" serve >"$work/app-$i.log" 2>&1 &
  pids+=($!)
  ports+=("$port")
done
for port in "${ports[@]}"; do wait_port "$port"; done

proxy_port=$(free_port)
sed -e "s/listen 8080;/listen 127.0.0.1:$proxy_port;/" \
    -e "s/server app-1:3000/server 127.0.0.1:${ports[0]}/" \
    -e "s/server app-2:3000/server 127.0.0.1:${ports[1]}/" \
    -e "s|pid /tmp/ecommerce-nginx.pid;|pid $work/nginx.pid;|" \
    -e "s|/tmp/ecommerce-nginx-|$work/nginx-|g" \
    -e 's|proxy_set_header X-Request-Id $request_id;|&\n      add_header X-Upstream $upstream_addr always;|' \
    deploy/nginx.conf >"$work/nginx.conf"
# Run as root, nginx's workers drop to an unprivileged user: let them write their temp files.
chmod 755 "$work"
mkdir -p "$work/nginx-body" "$work/nginx-proxy"
chmod 777 "$work/nginx-body" "$work/nginx-proxy"
"$NGINX" -e stderr -p "$work" -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)
wait_port "$proxy_port"
proxy=http://127.0.0.1:$proxy_port
echo "cluster: nginx $proxy -> instances ${ports[*]}; redis $redis_port, nats $nats_port, database $database"

json() { python3 -c "import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

# 1. Probes through nginx.
curl -fsS "$proxy/health" | json 'd["status"]' | grep -qx healthy || fail "/health"
ready=$(curl -fsS "$proxy/ready")
[ "$(json 'd["status"], d["checks"]["redis"], d["checks"]["nats"]' <<<"$ready")" = "('ready', 'up', 'up')" ] \
  || fail "/ready: $ready"
ok "/health and /ready (redis up, nats up) through nginx"

# 2. Both instances answer behind nginx.
seen=$(for _ in $(seq 1 20); do curl -fsS -o /dev/null -D - "$proxy/health" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-upstream" { print $2 }'; done | sort -u | wc -l)
[ "$seen" -eq 2 ] || fail "nginx reached $seen instance(s)"
ok "nginx spreads requests over both instances"

# 3. A write through nginx is read on each instance directly within a second.
ADMIN_PASSWORD='cluster admin password' "$bin" create-admin --email admin@cluster.test >/dev/null
token=$(curl -fsS "$proxy/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"admin@cluster.test","password":"cluster admin password"}' | json 'd["data"]["token"]')
auth=(-H "authorization: Bearer $token" -H 'content-type: application/json')
id=$(curl -fsS "$proxy/api/v1/products" "${auth[@]}" -d '{"name":"Mug","price":"10.00","inStock":5}' | json 'd["data"]["id"]')
for port in "${ports[@]}"; do curl -fsS "http://127.0.0.1:$port/api/v1/products/$id" >/dev/null; done
curl -fsS -X PATCH "$proxy/api/v1/products/$id" "${auth[@]}" -d '{"price":"12.50"}' >/dev/null
sleep 1
for port in "${ports[@]}"; do
  price=$(curl -fsS "http://127.0.0.1:$port/api/v1/products/$id" | json 'd["data"]["price"]')
  [ "$price" = "12.50" ] || fail "instance $port still reads $price after 1 s"
done
ok "a price change through nginx is read on both instances within 1 s"

# 4. Oversized bodies are JSON 413s: past 1 MiB nginx's (in the app's envelope), past a
#    route's own limit the app's.
too_large() { # too_large BYTES: the status, content type and error code of a login that big
  head -c "$1" /dev/zero | tr '\0' ' ' >"$work/big.json"
  local status
  status=$(curl -s -o "$work/413.json" -w '%{http_code} %{content_type}' "$proxy/api/v1/auth/login" \
    -H 'content-type: application/json' --data-binary @"$work/big.json")
  echo "$status $(json 'd["error"]["code"]' <"$work/413.json" 2>/dev/null || head -c 100 "$work/413.json")"
}
for size in 1500000 40000; do
  answer=$(too_large $size)
  [ "$answer" = "413 application/json PAYLOAD_TOO_LARGE" ] || fail "a $size-byte body: $answer"
done
ok "oversized bodies are JSON 413s (1.5 MB: nginx's, 40 kB: the app's), not nginx's page"

# 5. One rate budget for the client nginx saw, over both instances.
left=$(curl -fsS -D - -o /dev/null "$proxy/api/v1/categories" | tr -d '\r' | awk -F': ' 'tolower($1) == "ratelimit-remaining" { print $2 }')
allowed=0
for _ in $(seq 1 $((left + 5))); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$proxy/api/v1/categories")
  [ "$code" = 200 ] && allowed=$((allowed + 1))
done
[ "$allowed" -eq "$left" ] || fail "allowed $allowed of the $left left (the budget is not shared)"
ok "the rate budget ($RATE_LIMIT_MAX) is shared: $left left, $allowed allowed, the rest refused"

# 6. Redis down: degraded, still correct; back: ready.
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
sleep 1.5
[ "$(curl -fsS "$proxy/ready" | json 'd["status"], d["checks"]["redis"]')" = "('degraded', 'down')" ] || fail "/ready without Redis"
curl -fsS -X PATCH "$proxy/api/v1/products/$id" "${auth[@]}" -d '{"price":"14.00"}' >/dev/null
for port in "${ports[@]}"; do
  price=$(curl -fsS "http://127.0.0.1:$port/api/v1/products/$id" | json 'd["data"]["price"]')
  [ "$price" = "14.00" ] || fail "instance $port reads $price without Redis"
done
ok "Redis down: /ready degraded, both instances read the new price from the database"
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no >/dev/null &
pids[0]=$!
for _ in $(seq 1 50); do
  [ "$(curl -fsS "$proxy/ready" | json 'd["status"]')" = ready ] && break
  sleep 0.2
done
[ "$(curl -fsS "$proxy/ready" | json 'd["status"]')" = ready ] || fail "/ready after Redis returned"
ok "Redis back: /ready is ready again without a restart"

echo "cluster smoke test passed"
if [ -n "${KEEP:-}" ]; then
  echo "running; Ctrl-C stops it"
  wait
fi
