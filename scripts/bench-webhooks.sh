#!/usr/bin/env bash
# Durable webhook ingest benchmark (issue 7): BENCH_EVENTS `Message` events posted to
# /webhook/wa with BENCH_CONCURRENCY requests in flight (each answered only after its row is
# committed), then the same rows loaded with PostgreSQL COPY (psql \copy) into a table of the
# same shape, and the router's processing lag (processed_at - received_at: p50/p99/max).
# Runs the ignored test webhooks::bench_ingest_message_events against a real PostgreSQL.
#
#   scripts/bench-webhooks.sh                          # debug build, 20,000 events, 64 in flight
#   RELEASE=1 BENCH_EVENTS=50000 BENCH_CONCURRENCY=128 scripts/bench-webhooks.sh
#
# The test binary is copied right after the build, so a target directory shared with other
# checkouts cannot swap it before it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
DATABASE_URL="$(scripts/ensure-postgres.sh)"
export DATABASE_URL
export BENCH_EVENTS="${BENCH_EVENTS:-20000}" BENCH_CONCURRENCY="${BENCH_CONCURRENCY:-64}"
profile=()
label=debug
if [[ "${RELEASE:-0}" == 1 ]]; then profile=(--release); label=release; fi

exe="$(cargo test "${profile[@]}" --test api --no-run --message-format=json 2>/dev/null |
  python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "api":
        print(m["executable"])
')"
[[ -n "$exe" ]] || { echo "bench-webhooks: build failed (run cargo test --test api --no-run)" >&2; exit 1; }
bin="$(mktemp /tmp/bench-webhooks.XXXXXX)"
trap 'rm -f "$bin"' EXIT
cp "$exe" "$bin"
chmod +x "$bin"
out="$("$bin" webhooks::bench_ingest_message_events --exact --nocapture 2>&1)" || {
  echo "$out" >&2
  exit 1
}
echo "($label build) $(grep '^webhook ingest:' <<<"$out")"
