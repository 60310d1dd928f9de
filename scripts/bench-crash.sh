#!/usr/bin/env bash
# Crash benchmark (issue 6, benchmark 4): a 10,000-recipient campaign, the gateway killed with
# kill -9 three times mid-run and restarted each time. Prints duplicates (must be 0), items left
# non-final (must be 0) and whether the counters equal the item counts.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-target}"
PROFILE="${PROFILE:-release}"
if [ "$PROFILE" = release ]; then cargo build --release --quiet; else cargo build --quiet; fi
BIN="$TARGET/$PROFILE/wa-gateway"
BASE="$(scripts/ensure-postgres.sh)"
DB=wa_bench_crash
psql "$BASE" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
export DATABASE_URL="${BASE%/*}/$DB"
UP_PORT=18181; GW_PORT=18180
export WA_SERVER_URL="http://127.0.0.1:$UP_PORT" PORT=$GW_PORT JWT_SECRET=crash-bench-secret-0123456789
export SEND_RATE_PER_SEC="${RATE:-250}" OUTCOME_UNKNOWN_GRACE_SECS=3 LEASE_SECS=2 SCHEDULER_SWEEP_SECS=1 LOG_LEVEL=warn
N="${RECIPIENTS:-10000}"

"$BIN" fake-upstream --port $UP_PORT --no-webhooks --users crash-tok:crashuid >/tmp/crash-upstream.log 2>&1 &
UP_PID=$!
trap 'kill $UP_PID $GW_PID 2>/dev/null || true' EXIT
"$BIN" migrate >/dev/null
json() { python3 -c "import sys,json; print(json.load(sys.stdin)$1)"; }
USER_ID=$("$BIN" user create --name crash --email crash@bench | json "['user_id']")
"$BIN" subscription grant --user "$USER_ID" --max-sessions 1 --days 1 >/dev/null
"$BIN" session add --user "$USER_ID" --token crash-tok --session-id crashuid --connected >/dev/null
BEARER=$("$BIN" token issue --user "$USER_ID" --hours 2 | json "['token']")
TPL=$(psql "$DATABASE_URL" -Atqc "INSERT INTO \"WhatsAppCampaigns\"(user_id,name,type,status,message_body,created_at,updated_at) VALUES ('$USER_ID','crash','text','active','Halo',now(),now()) RETURNING id")

start_gw() { "$BIN" serve >>/tmp/crash-gateway.log 2>&1 & GW_PID=$!; for _ in $(seq 1 100); do curl -sf "localhost:$GW_PORT/health" >/dev/null && return; sleep 0.1; done; }
start_gw
python3 -c "import json; print(json.dumps({'campaign_id': $TPL, 'name': 'crash', 'send_sync': 'now', 'phone': ['62811%07d' % i for i in range($N)]}))" \
  | curl -sf -X POST -H "Authorization: Bearer $BEARER" -H 'Content-Type: application/json' --data-binary @- "localhost:$GW_PORT/bulk/campaign/execute" >/dev/null
T0=$(date +%s.%N)
for k in 1 2 3; do
  sleep "${KILL_EVERY:-7}"
  kill -9 $GW_PID; wait $GW_PID 2>/dev/null || true
  echo "killed the gateway ($k/3) after $(python3 -c "print(round($(date +%s.%N)-$T0,1))") s" >&2
  start_gw
done
for _ in $(seq 1 600); do
  left=$(psql "$DATABASE_URL" -Atqc "SELECT count(*) FROM \"WhatsAppBulkCampaignItems\" WHERE status='pending'")
  [ "$left" = 0 ] && break
  sleep 0.5
done
T1=$(date +%s.%N)
curl -s "localhost:$UP_PORT/__fake/journal" > /tmp/crash-journal.json
python3 - "$DATABASE_URL" "$T0" "$T1" <<'PY'
import json, subprocess, sys, collections
url, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
j = json.load(open('/tmp/crash-journal.json'))
j = j.get('data', j) if isinstance(j, dict) else j
c = collections.Counter(m['phone'] for m in j)
dups = sum(n - 1 for n in c.values() if n > 1)
q = lambda s: subprocess.check_output(['psql', url, '-Atqc', s]).decode().strip()
items = q("SELECT count(*) FILTER (WHERE status='sent')||','||count(*) FILTER (WHERE status='failed')||','||count(*) FILTER (WHERE status='pending')||','||count(*) FILTER (WHERE error_message='outcome_unknown') FROM \"WhatsAppBulkCampaignItems\"").split(',')
camp = q("SELECT sent_count||','||failed_count||','||status FROM \"WhatsAppBulkCampaigns\"").split(',')
print(json.dumps({"bench": "crash", "recipients": sum(int(x) for x in items[:3]), "kills": 3, "upstream_sends": len(j),
  "duplicates": dups, "items_sent": int(items[0]), "items_failed": int(items[1]), "items_non_final": int(items[2]),
  "failed_outcome_unknown": int(items[3]), "campaign_sent_count": int(camp[0]), "campaign_failed_count": int(camp[1]),
  "campaign_status": camp[2], "counters_match": int(camp[0]) == int(items[0]) and int(camp[1]) == int(items[1]),
  "sent_equals_upstream_accepted": int(items[0]) <= len(j), "seconds": round(t1 - t0, 1)}))
PY
psql "$BASE" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
