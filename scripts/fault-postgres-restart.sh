#!/usr/bin/env bash
# Fault: PostgreSQL restarted mid-campaign.
#   scripts/fault-postgres-restart.sh [OUTAGE_SECONDS=10]
# Runs on a private throwaway cluster (initdb + pg_ctl in a temp directory on a free port; as
# user postgres when run as root), never on the shared server. A campaign runs at RATE msg/s
# (default 20) through the gateway and the simulated upstream; after a few seconds PostgreSQL
# is stopped (fast shutdown: every connection is cut) for OUTAGE seconds and started again.
# Checks: during the outage DB-backed routes answer 503 in the contract's envelope and /health
# answers 503 with "database":"unreachable"; no 500; afterwards the gateway recovers by itself
# (/health 200, no restart) and the campaign completes with every item sent exactly once and
# counters equal to the item counts. Prints one JSON line. Env: RECIPIENTS, RATE, PGBIN,
# PROFILE=debug|release.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/fault-lib.sh
OUTAGE="${1:-${OUTAGE:-10}}"
RATE="${RATE:-20}"
N="${RECIPIENTS:-$(( RATE * 15 ))}"
PGBIN="${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
[ -x "$PGBIN/initdb" ] || { echo "fault-postgres-restart: no initdb (set PGBIN)" >&2; exit 1; }
build_binary

WORK=$(mktemp -d /tmp/fault-pg.XXXXXX)
chmod 755 "$WORK"
PGDATA="$WORK/data"; PGPORT=$(free_port)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
mkdir -p "$PGDATA"
[ "$(id -u)" = 0 ] && chown postgres "$PGDATA" "$WORK"
as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 >"$WORK/initdb.log" 2>&1
pg_start() { as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -o "-p $PGPORT -k $WORK -c listen_addresses=127.0.0.1" -l "$WORK/postgres.log" -w start >/dev/null; }
pg_stop() { as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null; }
UP_PID=; GW_PID=
cleanup() {
  kill $UP_PID $GW_PID 2>/dev/null || true
  wait 2>/dev/null || true
  pg_stop 2>/dev/null || true
  [ "${KEEP:-1}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
pg_start
export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"
psql "$DATABASE_URL" -qc "CREATE DATABASE wa_fault_pg"
export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/wa_fault_pg"

UP_PORT=$(free_port); PORT=$(free_port)
export WA_SERVER_URL="http://127.0.0.1:$UP_PORT" PORT JWT_SECRET=fault-postgres-secret-0123456789
export SEND_RATE_PER_SEC="$RATE" LEASE_SECS=5 SCHEDULER_SWEEP_SECS=2 LOG_LEVEL=warn OUTCOME_UNKNOWN_GRACE_SECS=30
export DB_POOL_TIMEOUT_MS=1000 DB_STATEMENT_TIMEOUT_MS=5000
start_upstream "$UP_PORT" "$WORK/upstream.log"
setup_tenant
start_gateway "$WORK/gateway.log"
execute_campaign "$N"
echo "fault-postgres-restart: campaign $CAMPAIGN, $N recipients at $RATE/s; PostgreSQL down for $OUTAGE s after 4 s" >&2
sleep 4
pg_stop
T0=$(date +%s)
s503=0; s500=0; other=0; bad_envelope=0; health_503=0; health_other=0
while [ $(( $(date +%s) - T0 )) -lt "$OUTAGE" ]; do
  for path in /bulk/campaigns "/bulk/campaigns/$CAMPAIGN" /bulk/contact /bulk/campaign; do
    code=$(curl -s -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer $BEARER" "http://127.0.0.1:$PORT$path" || echo 000)
    case "$code" in
      503)
        s503=$((s503 + 1))
        python3 -c "import json,sys; b=json.load(open('$WORK/body')); sys.exit(0 if b.get('error_code')=='service_unavailable' and (b.get('code')==503 or 'error' in b) else 1)" \
          || { bad_envelope=$((bad_envelope + 1)); echo "fault-postgres-restart: 503 body of $path: $(cat "$WORK/body")" >&2; }
        ;;
      5*) s500=$((s500 + 1)); echo "fault-postgres-restart: $code on $path: $(cat "$WORK/body")" >&2 ;;
      *) other=$((other + 1)); echo "fault-postgres-restart: $code on $path during the outage: $(head -c 300 "$WORK/body")" >&2 ;;
    esac
  done
  code=$(curl -s -o "$WORK/body" -w '%{http_code}' "http://127.0.0.1:$PORT/health" || echo 000)
  if [ "$code" = 503 ] && grep -q '"database":"unreachable"' "$WORK/body"; then health_503=$((health_503 + 1)); else health_other=$((health_other + 1)); fi
  sleep 0.5
done
pg_start
T1=$(date +%s)
echo "fault-postgres-restart: PostgreSQL back after $((T1 - T0)) s" >&2
ok=1
recovered=0
for _ in $(seq 1 300); do
  if curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && \
     [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BEARER" "http://127.0.0.1:$PORT/bulk/campaigns")" = 200 ]; then
    recovered=1; break
  fi
  sleep 0.1
done
T_REC=$(date +%s)
[ "$recovered" = 1 ] || ok=0
wait_final 300 || ok=0
for _ in $(seq 1 20); do
  st=$(psql "$DATABASE_URL" -Atqc "SELECT status FROM \"WhatsAppBulkCampaigns\" WHERE id=$CAMPAIGN")
  [ "$st" = completed ] && break; sleep 0.5
done
T2=$(date +%s)
curl -sf "http://127.0.0.1:$UP_PORT/__fake/journal" > "$WORK/journal.json"
kill -0 $GW_PID 2>/dev/null || ok=0
[ "$s500" = 0 ] && [ "$bad_envelope" = 0 ] && [ "$s503" -gt 0 ] && [ "$other" = 0 ] && [ "$health_503" -gt 0 ] && [ "$health_other" = 0 ] || ok=0
line=$(EXTRA_JSON="{\"outage_seconds\": $OUTAGE, \"503s\": $s503, \"500s\": $s500, \"other_answers_during_outage\": $other, \"bad_503_envelopes\": $bad_envelope, \"health_503\": $health_503, \"health_other\": $health_other, \"recovered\": $recovered, \"seconds_to_recover\": $((T_REC - T1)), \"seconds_to_finish_after_outage\": $((T2 - T1))}" \
PASS_EXTRA=$ok report postgres-restart "$WORK/journal.json")
echo "$line"
case "$line" in *'"pass": true'*) KEEP=0 ;; *) KEEP=1; echo "postgres-restart: FAILED; logs kept in $WORK" >&2; tail -n 30 "$WORK/gateway.log" >&2 || true ;; esac
[ "$KEEP" = 0 ]
