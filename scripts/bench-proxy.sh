#!/usr/bin/env bash
# Proxy benchmark (issue 4): POST /chat/send/text against
#   (a) the simulated upstream directly, (b) nginx as a plain keepalive reverse proxy,
#   (c) the gateway (/wa/chat/send/text) with all checks on and a warm entitlement cache.
# Same upstream, same wrk settings, one run. Prints req/s, p50, p99 and the ratios (c)/(b).
#
# Usage: scripts/bench-proxy.sh [duration_secs=30] [connections=64] [threads=2]
# Needs: cargo, PostgreSQL (scripts/ensure-postgres.sh), nginx and wrk (apt-get installed if
# missing). Uses ports 18071 (upstream), 18072 (nginx), 18070 (gateway) and a database
# `wa_gw_bench` that it recreates.
set -euo pipefail

DURATION="${1:-30}"
CONNS="${2:-64}"
THREADS="${3:-2}"
UP_PORT=18071
NGINX_PORT=18072
GW_PORT=18070
TOKEN="bench-token-0001"
UPSTREAM_USER="0123456789abcdef0123456789abcdef"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d /tmp/wa-bench.XXXXXX)"
PIDS=()

cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  if [ -f "$WORK/nginx.pid" ]; then kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true; fi
}
trap cleanup EXIT

log() { echo "bench: $*" >&2; }

need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    log "installing $2"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2") >&2
  fi
}
need wrk wrk
need nginx nginx

log "building release"
(cd "$ROOT" && cargo build --release --quiet)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/wa-gateway"

BASE_URL="$("$ROOT/scripts/ensure-postgres.sh")"
DB_URL="$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path="/wa_gw_bench").geturl())' "$BASE_URL")"
psql "$BASE_URL" -qc 'DROP DATABASE IF EXISTS wa_gw_bench WITH (FORCE)' >/dev/null
psql "$BASE_URL" -qc 'CREATE DATABASE wa_gw_bench' >/dev/null

export DATABASE_URL="$DB_URL" WA_SERVER_URL="http://127.0.0.1:$UP_PORT" PORT="$GW_PORT" LOG_LEVEL=warn

log "starting the simulated upstream on :$UP_PORT"
"$BIN" fake-upstream --port "$UP_PORT" --no-webhooks --users "$TOKEN:$UPSTREAM_USER" --workers 1 \
  >"$WORK/upstream.log" 2>&1 &
PIDS+=($!)
UP_PID=$!

"$BIN" migrate >/dev/null
USER_ID="$("$BIN" user create --name bench --email bench@example.com | python3 -c 'import json,sys; print(json.load(sys.stdin)["user_id"])')"
"$BIN" subscription grant --user "$USER_ID" --max-sessions 5 --days 30 >/dev/null
"$BIN" session add --user "$USER_ID" --token "$TOKEN" --session-id "$UPSTREAM_USER" --connected >/dev/null

cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream wa { server 127.0.0.1:$UP_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://wa;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }
}
EOF
log "starting nginx on :$NGINX_PORT"
nginx -c "$WORK/nginx.conf" -p "$WORK" -e "$WORK/nginx-error.log"

log "starting the gateway on :$GW_PORT"
"$BIN" serve >"$WORK/gateway.log" 2>&1 &
PIDS+=($!)
GW_PID=$!

for port in $UP_PORT $NGINX_PORT $GW_PORT; do
  for _ in $(seq 1 100); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.1
  done
done

cat >"$WORK/send.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"Phone":"6281234567890","Body":"benchmark message"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["token"] = "$TOKEN"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests))
end
EOF

# Warm up: the entitlement cache and the connection pools.
curl -sf -X POST -H "token: $TOKEN" -H 'Content-Type: application/json' \
  -d '{"Phone":"6281234567890","Body":"warm"}' "http://127.0.0.1:$GW_PORT/wa/chat/send/text" >/dev/null

run() { # name url
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$WORK/send.lua" "$2" >"$WORK/$1.out"
  local r; r="$(grep '^RESULT' "$WORK/$1.out" | tail -1)"
  echo "$1 $r"
}

log "wrk -t$THREADS -c$CONNS -d${DURATION}s POST /chat/send/text"
A="$(run upstream "http://127.0.0.1:$UP_PORT/chat/send/text")"; sleep 2
B="$(run nginx "http://127.0.0.1:$NGINX_PORT/chat/send/text")"; sleep 2
# CPU split of the gateway run: process ticks of the gateway and the upstream, and all busy
# ticks of the machine (the rest is wrk, PostgreSQL and the kernel's other work).
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
g0=$(ticks "$GW_PID"); u0=$(ticks "$UP_PID"); b0=$(busy)
C="$(run gateway "http://127.0.0.1:$GW_PORT/wa/chat/send/text")"
g1=$(ticks "$GW_PID"); u1=$(ticks "$UP_PID"); b1=$(busy)
CPU_SPLIT="$(python3 -c "import sys; g,u,b,d=map(float,sys.argv[1:]); hz=100.0; cap=2*d
print(f'CPU during the gateway run ({d:.0f} s, {cap:.0f} core-s available): gateway {g/hz:.1f} core-s, upstream {u/hz:.1f} core-s, everything else (wrk, PostgreSQL, kernel) {(b-g-u)/hz:.1f} core-s, idle {cap-b/hz:.1f} core-s')" \
  $((g1 - g0)) $((u1 - u0)) $((b1 - b0)) "$DURATION")"

echo
printf '%-10s %12s %10s %10s %8s %10s\n' target "req/s" "p50(ms)" "p99(ms)" errors requests
for row in "$A" "$B" "$C"; do
  set -- $row
  printf '%-10s %12s %10s %10s %8s %10s\n' "$1" "$3" "$4" "$5" "$6" "$7"
done
python3 - "$B" "$C" <<'EOF'
import sys
b = sys.argv[1].split(); c = sys.argv[2].split()
rb, rc = float(b[2]), float(c[2]); pb, pc = float(b[4]), float(c[4])
print(f"\ngateway/nginx: req/s ratio {rc/rb:.2f} (target >= 0.90), p99 ratio {pc/pb:.2f} (target <= 1.30)")
EOF
echo "$CPU_SPLIT"
echo "machine: $(nproc) cores, $(uname -sr); wrk, upstream, nginx and gateway share the cores"
# Statistics recorded by the gateway during the run (one row, exact counters).
sleep 1
psql "$DB_URL" -Atc 'SELECT "totalMessagesSent", "totalMessagesFailed" FROM "WhatsAppMessageStats"' | sed 's/^/stats sent|failed: /'
