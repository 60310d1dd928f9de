# Shared pieces of the fault scripts and bench-webhooks.sh (sourced, not run). Each script sets DATABASE_URL first.
# PROFILE=release|debug (default debug: the fault scripts check behaviour, not speed).

PROFILE="${PROFILE:-debug}"
TARGET="${CARGO_TARGET_DIR:-target}"

build_binary() {
  if [ "$PROFILE" = release ]; then cargo build --release --quiet; else cargo build --quiet; fi
  BIN="$TARGET/$PROFILE/wa-gateway"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

json() { python3 -c "import sys,json; print(json.load(sys.stdin)$1)"; }

# wait_http URL [seconds]: until URL answers 2xx.
wait_http() {
  local url="$1" n=$(( ${2:-30} * 10 ))
  for _ in $(seq 1 "$n"); do curl -sf "$url" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# start_upstream PORT LOG: the simulated upstream as its own process (sets UP_PID).
start_upstream() {
  "$BIN" fake-upstream --port "$1" --no-webhooks --users "fault-tok:faultuid" >>"$2" 2>&1 &
  UP_PID=$!
  wait_http "http://127.0.0.1:$1/__fake/health" 30
}

# start_gateway LOG: `wa-gateway serve` on $PORT (sets GW_PID).
start_gateway() {
  "$BIN" serve >>"$1" 2>&1 &
  GW_PID=$!
  wait_http "http://127.0.0.1:$PORT/health" 60
}

# setup_tenant: user, subscription, session, bearer and a text template (sets BEARER, TPL).
setup_tenant() {
  "$BIN" migrate >/dev/null
  local user
  user=$("$BIN" user create --name fault --email fault@example.com | json "['user_id']")
  "$BIN" subscription grant --user "$user" --max-sessions 1 --days 1 >/dev/null
  "$BIN" session add --user "$user" --token fault-tok --session-id faultuid --connected >/dev/null
  BEARER=$("$BIN" token issue --user "$user" --hours 2 | json "['token']")
  TPL=$(psql "$DATABASE_URL" -Atqc "INSERT INTO \"WhatsAppCampaigns\"(user_id,name,type,status,message_body,created_at,updated_at) VALUES ('$user','fault','text','active','Halo',now(),now()) RETURNING id")
}

# execute_campaign N: a campaign of N recipients through the gateway (sets CAMPAIGN).
execute_campaign() {
  CAMPAIGN=$(python3 -c "import json; print(json.dumps({'campaign_id': $TPL, 'name': 'fault', 'send_sync': 'now', 'phone': ['62813%08d' % i for i in range($1)]}))" \
    | curl -sf -X POST -H "Authorization: Bearer $BEARER" -H 'Content-Type: application/json' --data-binary @- \
        "http://127.0.0.1:$PORT/bulk/campaign/execute" | json "['data']['bulk_campaign_id']")
}

# wait_final SECONDS: until no item of the campaign is pending (bounded).
wait_final() {
  local n=$(( $1 * 2 ))
  for _ in $(seq 1 "$n"); do
    left=$(psql "$DATABASE_URL" -Atqc "SELECT count(*) FROM \"WhatsAppBulkCampaignItems\" WHERE bulk_campaign_id=$CAMPAIGN AND status='pending'" 2>/dev/null || echo err)
    [ "$left" = 0 ] && return 0
    sleep 0.5
  done
  return 1
}

# report NAME JOURNAL_FILES... : prints one JSON line with the figures (and "pass"), reading
# extra figures from the environment (EXTRA_JSON, a JSON object merged in, and PASS_EXTRA,
# "1" when the script's own checks passed).
report() {
  local name="$1"; shift
  python3 - "$DATABASE_URL" "$CAMPAIGN" "$name" "${EXTRA_JSON:-{\}}" "${PASS_EXTRA:-1}" "$@" <<'PY'
import json, subprocess, sys, collections
url, campaign, name, extra, pass_extra = sys.argv[1:6]
journal = []
for f in sys.argv[6:]:
    try:
        j = json.load(open(f))
    except Exception:
        continue
    journal += j.get('data', j) if isinstance(j, dict) else j
c = collections.Counter(m['phone'] for m in journal)
dups = sum(n - 1 for n in c.values() if n > 1)
q = lambda s: subprocess.check_output(['psql', url, '-Atqc', s]).decode().strip()
items = [int(x) for x in q(f"""SELECT count(*) FILTER (WHERE status='sent')||','||count(*) FILTER (WHERE status='failed')||','||count(*) FILTER (WHERE status='pending')||','||count(*) FILTER (WHERE error_message='outcome_unknown')||','||count(*) FROM "WhatsAppBulkCampaignItems" WHERE bulk_campaign_id={campaign}""").split(',')]
camp = q(f"""SELECT sent_count||','||failed_count||','||status FROM "WhatsAppBulkCampaigns" WHERE id={campaign}""").split(',')
sent_phones = set(q(f"""SELECT string_agg(phone, ',') FROM "WhatsAppBulkCampaignItems" WHERE bulk_campaign_id={campaign} AND status='sent'""").split(','))
out = {"fault": name, "items": items[4], "upstream_sends": len(journal), "duplicates": dups,
       "items_sent": items[0], "items_failed": items[1], "non_final": items[2],
       "failed_outcome_unknown": items[3], "campaign_status": camp[2],
       "counters_match": int(camp[0]) == items[0] and int(camp[1]) == items[1],
       "sent_items_in_journal": all(p in c for p in sent_phones if p)}
out.update(json.loads(extra))
out["pass"] = (dups == 0 and items[2] == 0 and out["counters_match"] and out["sent_items_in_journal"]
               and items[0] == items[4] and camp[2] == 'completed' and pass_extra == '1')
print(json.dumps(out))
PY
}
