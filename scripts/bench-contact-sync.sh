#!/usr/bin/env bash
# Times POST /bulk/contact/sync with 10,000 contacts, end to end: the gateway, a real PostgreSQL
# and the simulated upstream (test contacts::contacts_sync_of_10000_contacts_in_one_call).
#
#   scripts/bench-contact-sync.sh            # debug build, 3 runs
#   RUNS=5 RELEASE=1 scripts/bench-contact-sync.sh
#
# The test binary is copied right after the build, so a target directory shared with other
# checkouts cannot swap it before it runs. Prints one line per run and the median.
set -euo pipefail
cd "$(dirname "$0")/.."
DATABASE_URL="$(scripts/ensure-postgres.sh)"
export DATABASE_URL
RUNS="${RUNS:-3}"
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
[[ -n "$exe" ]] || { echo "bench-contact-sync: build failed (run cargo test --test api --no-run)" >&2; exit 1; }
bin="$(mktemp /tmp/bench-contact-sync.XXXXXX)"
trap 'rm -f "$bin"' EXIT
cp "$exe" "$bin"
chmod +x "$bin"

times=()
for i in $(seq 1 "$RUNS"); do
  out="$("$bin" contacts::contacts_sync_of_10000_contacts_in_one_call --exact --nocapture 2>&1)" || {
    echo "$out" >&2
    exit 1
  }
  first="$(sed -n 's/^contact sync of 10,000 contacts: \([0-9]*\) ms$/\1/p' <<<"$out")"
  again="$(sed -n 's/^contact re-sync of 10,000 contacts: \([0-9]*\) ms$/\1/p' <<<"$out")"
  echo "run $i: first sync ${first} ms, re-sync ${again} ms"
  times+=("$first")
done
median="$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
echo "median first sync of 10,000 contacts (${label} build, $RUNS runs): ${median} ms"
