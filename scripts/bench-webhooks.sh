#!/usr/bin/env bash
# Durable webhook ingest benchmark (issue 7), against the release binary as operators run it:
#   1. wrk posts `Message` events (each with its own message id) to /webhook/wa for DURATION
#      seconds over CONNS connections; every 200 is answered only after its row is committed.
#   2. The rows stored are counted (every 200 wrk saw must be one; wrk stops with up to one
#      request per connection unread): events/s over HTTP.
#   3. The router's processing lag under that load (processed_at - received_at: p50/p99/max),
#      once it has processed every row.
#   4. The same rows loaded with PostgreSQL COPY (psql \copy) into a table of the same shape
#      (same columns, same indexes), in the same run, best of three: rows/s, and the ratio
#      HTTP / COPY.
#
# Usage: scripts/bench-webhooks.sh [duration_secs=15] [connections=256] [threads=1]
# The upstream posts every event from its own goroutine (upstream.md §6.5), so a burst arrives
# with many requests in flight; 256 connections model that (with 64, the client's own
# concurrency caps the rate: 64 requests in flight / the commit latency).
# Needs: cargo, PostgreSQL (scripts/ensure-postgres.sh), wrk (apt-get installed if missing).
# Uses port 18080 and a database `wa_gw_bench_webhooks` that it recreates.
set -euo pipefail

DURATION="${1:-15}"
CONNS="${2:-256}"
THREADS="${3:-1}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d /tmp/wa-bench-webhooks.XXXXXX)"
GW_PID=""
cleanup() {
  [ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "bench: $*" >&2; }

if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >&2
fi

cd "$ROOT"
PROFILE=release
# shellcheck source=scripts/fault-lib.sh
. scripts/fault-lib.sh
log "building release"
build_binary

BASE_URL="$(scripts/ensure-postgres.sh)"
DB=wa_gw_bench_webhooks
psql "$BASE_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
DB_URL="${BASE_URL%/*}/$DB"
# No upstream is needed: the port is closed on purpose.
export DATABASE_URL="$DB_URL" WA_SERVER_URL="http://127.0.0.1:9" PORT=18080 LOG_LEVEL=warn \
  JWT_SECRET=webhook-bench-secret-0123456789
setup_tenant # the session's upstream user id (the events' userID) is `faultuid`
SESSION_KEY=faultuid

log "starting the gateway on :$PORT"
start_gateway "$WORK/gateway.log"

# A `Message` event as the upstream sends it (JSON envelope, upstream.md §6.2, §7.1); __ID__ and
# __FROM__ are replaced per request.
TEMPLATE="$(python3 - "$SESSION_KEY" <<'PY'
import json, sys
key = sys.argv[1]
jid = "__FROM__@s.whatsapp.net"
msg = {"conversation": "benchmark message __ID__"}
ev = {
  "type": "Message", "userID": key, "instanceName": "bench",
  "event": {
    "Info": {"AddressingMode": "", "BroadcastListOwner": "", "BroadcastRecipients": None,
             "Category": "", "Chat": jid, "DeviceSentMeta": None, "Edit": "", "ID": "__ID__",
             "IsFromMe": False, "IsGroup": False, "MediaType": "",
             "MsgBotInfo": {"EditSenderTimestampMS": "0001-01-01T00:00:00Z", "EditTargetID": "", "EditType": ""},
             "MsgMetaInfo": {"DeprecatedLIDSession": None, "TargetChat": "", "TargetID": "", "TargetSender": "",
                             "ThreadMessageID": "", "ThreadMessageSenderJID": ""},
             "Multicast": False, "PushName": "Bench", "RecipientAlt": "", "Sender": jid, "SenderAlt": "",
             "ServerID": 0, "Timestamp": "2026-11-26T04:00:00Z", "Type": "text", "VerifiedName": None},
    "IsBotInvoke": False, "IsDocumentWithCaption": False, "IsEdit": False, "IsEphemeral": False,
    "IsLottieSticker": False, "IsViewOnce": False, "IsViewOnceV2": False, "IsViewOnceV2Extension": False,
    "Message": msg, "NewsletterMeta": None, "RawMessage": msg, "RetryCount": 0,
    "SourceWebMsg": None, "UnavailableRequestID": "",
  },
}
print(json.dumps(ev).replace("\\", "\\\\").replace("'", "\\'"))
PY
)"
cat >"$WORK/post.lua" <<EOF
local template = '$TEMPLATE'
local counter = 0
local threads = {}
function setup(thread)
  thread:set("prefix", "T" .. tostring(#threads + 1))
  table.insert(threads, thread)
end
function init(args)
  prefix = prefix or "T1"
end
-- The template is split at its placeholders once, so a request costs wrk one concatenation
-- (wrk shares the cores with what it measures).
local parts, kinds, pos = {}, {}, 1
while true do
  local s, e, name = template:find("__(%u+)__", pos)
  if not s then break end
  table.insert(parts, template:sub(pos, s - 1))
  table.insert(kinds, name)
  pos = e + 1
end
local tail = template:sub(pos)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local id = "3EB0" .. prefix .. string.format("%010d", counter)
  local from = string.format("62812%08d", counter % 5000)
  local buf = {}
  for i = 1, #parts do
    buf[#buf + 1] = parts[i]
    buf[#buf + 1] = (kinds[i] == "ID") and id or from
  end
  buf[#buf + 1] = tail
  return wrk.format(nil, "/webhook/wa", nil, table.concat(buf))
end
EOF

# CPU split of the wrk run (clock ticks): the gateway, all PostgreSQL processes, and the machine.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() { local t=0 p; for p in $(pgrep -x postgres); do t=$((t + $(ticks "$p"))); done; echo "$t"; }
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
g0="$(ticks "$GW_PID")"; p0="$(pg_ticks)"; b0="$(busy)"
log "wrk -t$THREADS -c$CONNS -d${DURATION}s POST /webhook/wa (Message events)"
wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$WORK/post.lua" "http://127.0.0.1:$PORT" >"$WORK/wrk.out"
g1="$(ticks "$GW_PID")"; p1="$(pg_ticks)"; b1="$(busy)"
CPU_SPLIT="$(python3 -c "import sys; g,p,b,d=map(float,sys.argv[1:]); hz=100.0; cap=$(nproc)*d
print(f'CPU during the wrk run ({d:.0f} s, {cap:.0f} core-s available): gateway {g/hz:.1f} core-s, PostgreSQL {p/hz:.1f} core-s, everything else (wrk, kernel) {(b-g-p)/hz:.1f} core-s, idle {cap-b/hz:.1f} core-s')" \
  "$((g1 - g0))" "$((p1 - p0))" "$((b1 - b0))" "$DURATION")"
requests="$(awk '/requests in/ {print $1}' "$WORK/wrk.out")"
secs="$(awk '/requests in/ {gsub("s,","",$4); print $4}' "$WORK/wrk.out")"
non2xx="$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk.out")"
p50="$(awk '$1 == "50%" {print $2}' "$WORK/wrk.out")"
p99="$(awk '$1 == "99%" {print $2}' "$WORK/wrk.out")"

q() { psql "$DB_URL" -qAtc "$1"; }
stored="$(q "SELECT count(*) FROM gen_event_webhooks WHERE event_type = 'Message'")"

log "waiting for the router to process every row"
for _ in $(seq 1 1200); do
  # (an EXISTS over the queue index: a count would scan the table, JIT-compiled, beside the router)
  left="$(q "SELECT EXISTS (SELECT 1 FROM gen_event_webhooks WHERE NOT processed)")"
  [ "$left" = f ] && break
  sleep 0.5
done
lag="$(q "SELECT format('p50 %s ms, p99 %s ms, max %s ms',
  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - received_at) * 1000)::numeric, 1),
  round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - received_at) * 1000)::numeric, 1),
  round(max(extract(epoch FROM processed_at - received_at) * 1000)::numeric, 1))
  FROM gen_event_webhooks WHERE processed")"
errors="$(q "SELECT count(*) FROM gen_event_webhooks WHERE last_error IS NOT NULL")"
kill "$GW_PID" 2>/dev/null || true
wait "$GW_PID" 2>/dev/null || true
GW_PID=""

log "COPY of the same rows"
COLS="event_type, source, user_token, event_data, raw_data, received_at, dedup_key, session_id, user_id"
q "CREATE TABLE bench_copy (LIKE gen_event_webhooks INCLUDING ALL)"
psql "$DB_URL" -qc "\\copy (SELECT $COLS FROM gen_event_webhooks) TO '$WORK/rows.csv' CSV"
# COPY runs three times into an emptied table and its best time counts (the most demanding
# reference: COPY's own run-to-run spread is about 20 % on this machine).
copy_secs=""
for _ in 1 2 3; do
  q "TRUNCATE bench_copy"
  copy_started="$(date +%s.%N)"
  psql "$DB_URL" -qc "\\copy bench_copy ($COLS) FROM '$WORK/rows.csv' CSV"
  copy_secs="$(python3 -c "import time; t = time.time() - $copy_started; p = '$copy_secs'; print(min(t, float(p)) if p else t)")"
done
copied="$(q "SELECT count(*) FROM bench_copy")"
psql "$BASE_URL" -qc 'DROP DATABASE IF EXISTS wa_gw_bench_webhooks WITH (FORCE)' >/dev/null

python3 - "$requests" "$secs" "${non2xx:-0}" "$stored" "$copied" "$copy_secs" "$p50" "$p99" "$lag" "$errors" "$CONNS" "$THREADS" <<'PY'
import sys
req, secs, non2xx, stored, copied, copy_secs, p50, p99, lag, errors, conns, threads = sys.argv[1:]
req, secs, non2xx, stored, copied = int(req), float(secs), int(non2xx), int(stored), int(copied)
http = (req - non2xx) / secs
copy = copied / float(copy_secs)
print(f"webhook ingest: {req - non2xx} Message events answered 200 in {secs:.1f} s over {conns} connections "
      f"(wrk, {threads} thread): {http:.0f} events/s (answered after commit; latency p50 {p50}, p99 {p99}); "
      f"{stored} rows stored, {non2xx} non-2xx")
print(f"COPY of the same {copied} rows into a table of the same shape (best of 3): {copy:.0f} rows/s; ratio HTTP/COPY {http / copy:.2f}")
print(f"router: every row processed, processing lag {lag}; rows with an error: {errors}")
# Every 200 is a stored row; wrk stops with up to one request per connection in flight, whose
# rows may be committed without wrk reading the answer.
if not (0 <= stored - (req - non2xx) <= int(conns)):
    print(f"MISMATCH: {stored} rows stored for {req - non2xx} events answered 200")
    sys.exit(1)
PY
echo "$CPU_SPLIT"
echo "machine: $(nproc) cores, $(uname -sr); wrk, the gateway and PostgreSQL share the cores"
