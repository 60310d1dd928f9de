#!/usr/bin/env bash
# Fault: the upstream (WhatsApp server) down mid-campaign, then back.
#   scripts/fault-upstream-down.sh [OUTAGE_SECONDS=60]
# A campaign runs at RATE msg/s (default 5) through the gateway against the simulated upstream
# (its own process). After a few seconds the upstream process is stopped (connections refused)
# for OUTAGE seconds and started again on the same port. Checks: no item lost, none sent twice,
# every item final and sent, counters equal to the item counts, the API answering throughout.
# Prints one JSON line (fault, pass, items, duplicates, non_final, ...). Env: RECIPIENTS, RATE,
# PROFILE=debug|release.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/fault-lib.sh
OUTAGE="${1:-${OUTAGE:-60}}"
RATE="${RATE:-5}"
N="${RECIPIENTS:-$(( RATE * 12 ))}"
build_binary
BASE="$(scripts/ensure-postgres.sh)"
DB=wa_fault_upstream_down
psql "$BASE" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
export DATABASE_URL="${BASE%/*}/$DB"
UP_PORT=$(free_port); PORT=$(free_port)
export WA_SERVER_URL="http://127.0.0.1:$UP_PORT" PORT JWT_SECRET=fault-upstream-secret-0123456789
export SEND_RATE_PER_SEC="$RATE" LEASE_SECS=5 SCHEDULER_SWEEP_SECS=2 LOG_LEVEL=warn OUTCOME_UNKNOWN_GRACE_SECS=30
WORK=$(mktemp -d /tmp/fault-upstream-down.XXXXXX)
UP_PID=; GW_PID=
cleanup() {
  kill $UP_PID $GW_PID 2>/dev/null || true
  wait 2>/dev/null || true
  psql "$BASE" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  [ "${KEEP:-1}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

start_upstream "$UP_PORT" "$WORK/upstream.log"
setup_tenant
start_gateway "$WORK/gateway.log"
execute_campaign "$N"
echo "fault-upstream-down: campaign $CAMPAIGN, $N recipients at $RATE/s; upstream down for $OUTAGE s after 3 s" >&2
sleep 3

# Refuse sends first (429: surely not sent, retried) so that no send is in flight when the
# process goes, and keep its journal; then stop it: connections are refused.
curl -sf -X POST -H 'Content-Type: application/json' -d '{"path_prefix":"/chat/send","kind":"too_many_requests"}' \
  "http://127.0.0.1:$UP_PORT/__fake/faults" >/dev/null
sleep 1
curl -sf "http://127.0.0.1:$UP_PORT/__fake/journal" > "$WORK/journal-1.json"
kill $UP_PID; wait $UP_PID 2>/dev/null || true
T0=$(date +%s)
api_ok=0; api_bad=0; s503=0
while [ $(( $(date +%s) - T0 )) -lt "$OUTAGE" ]; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BEARER" "http://127.0.0.1:$PORT/bulk/campaigns/$CAMPAIGN" || echo 000)
  if [ "$code" = 200 ]; then api_ok=$((api_ok + 1)); else api_bad=$((api_bad + 1)); fi
  [ "$code" = 503 ] && s503=$((s503 + 1))
  sleep 1
done
attempts_during=$(psql "$DATABASE_URL" -Atqc "SELECT COALESCE(max(attempts),0) FROM \"WhatsAppBulkCampaignItems\" WHERE bulk_campaign_id=$CAMPAIGN")
start_upstream "$UP_PORT" "$WORK/upstream.log"
T1=$(date +%s)
echo "fault-upstream-down: upstream back after $((T1 - T0)) s" >&2
ok=1
wait_final $(( OUTAGE + 240 )) || ok=0
for _ in $(seq 1 20); do  # the campaign's status follows its last item
  st=$(psql "$DATABASE_URL" -Atqc "SELECT status FROM \"WhatsAppBulkCampaigns\" WHERE id=$CAMPAIGN")
  [ "$st" = completed ] && break; sleep 0.5
done
T2=$(date +%s)
curl -sf "http://127.0.0.1:$UP_PORT/__fake/journal" > "$WORK/journal-2.json"
[ "$api_bad" = 0 ] || ok=0
kill -0 $GW_PID 2>/dev/null || ok=0
line=$(EXTRA_JSON="{\"outage_seconds\": $OUTAGE, \"api_200_during_outage\": $api_ok, \"api_errors_during_outage\": $api_bad, \"503s\": $s503, \"max_attempts\": $attempts_during, \"seconds_to_finish_after_outage\": $((T2 - T1))}" \
PASS_EXTRA=$ok report upstream-down "$WORK/journal-1.json" "$WORK/journal-2.json")
echo "$line"
case "$line" in *'"pass": true'*) KEEP=0 ;; *) KEEP=1; echo "upstream-down: FAILED; logs kept in $WORK" >&2; tail -n 30 "$WORK/gateway.log" >&2 || true ;; esac
[ "$KEEP" = 0 ]
