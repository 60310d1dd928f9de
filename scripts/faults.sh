#!/usr/bin/env bash
# Runs every fault script in sequence and prints a summary (pass/fail per fault with figures).
#   scripts/faults.sh                # PostgreSQL restart (10 s), upstream down (60 s), kill -9 x3
#   UPSTREAM_OUTAGE=5 PG_OUTAGE=5 CRASH_RECIPIENTS=2000 scripts/faults.sh   # quicker
# Each script prints one JSON line; its progress and logs go to stderr. Exit status 1 when any
# fault failed. PROFILE=debug|release picks the build (default debug; bench-crash.sh honours it).
set -uo pipefail
cd "$(dirname "$0")/.."
export PROFILE="${PROFILE:-debug}"
OUT=$(mktemp /tmp/faults-summary.XXXXXX)
run() { # name, command...
  local name="$1"; shift
  echo "== $name: $*" >&2
  local start line
  start=$(date +%s)
  line=$("$@" | tail -n 1)
  echo "{\"name\": \"$name\", \"seconds\": $(( $(date +%s) - start )), \"result\": ${line:-null}}" >> "$OUT"
}
run postgres-restart scripts/fault-postgres-restart.sh "${PG_OUTAGE:-10}"
run upstream-down scripts/fault-upstream-down.sh "${UPSTREAM_OUTAGE:-60}"
run kill-9 env RECIPIENTS="${CRASH_RECIPIENTS:-10000}" scripts/bench-crash.sh
python3 - "$OUT" <<'PY'
import json, sys
rows = []
for l in open(sys.argv[1]):
    try:
        rows.append(json.loads(l))
    except ValueError:
        rows.append({"name": "?", "result": None})
ok_all = True
print(f"{'fault':<18}{'result':<8}{'items':>7}{'dups':>6}{'non-final':>11}{'503s':>6}{'unknown':>9}{'secs':>6}  notes")
for r in rows:
    res = r.get("result") or {}
    if "pass" in res:
        ok = res["pass"]
    else:  # bench-crash.sh prints its figures without a verdict
        ok = bool(res) and res.get("duplicates") == 0 and res.get("items_non_final") == 0 and res.get("counters_match") is True
    ok_all &= bool(ok)
    items = res.get("items", res.get("recipients", "-"))
    nonfinal = res.get("non_final", res.get("items_non_final", "-"))
    unknown = res.get("failed_outcome_unknown", "-")
    notes = ", ".join(f"{k}={v}" for k, v in res.items() if k in ("outage_seconds", "kills", "seconds_to_recover", "seconds_to_finish_after_outage", "items_failed", "campaign_status", "counters_match"))
    print(f"{r['name']:<18}{('PASS' if ok else 'FAIL'):<8}{items!s:>7}{res.get('duplicates', '-')!s:>6}{nonfinal!s:>11}{res.get('503s', '-')!s:>6}{unknown!s:>9}{r.get('seconds', '-')!s:>6}  {notes}")
sys.exit(0 if ok_all else 1)
PY
status=$?
rm -f "$OUT"
exit $status
