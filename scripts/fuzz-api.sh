#!/usr/bin/env bash
# Fuzzes the HTTP API from its own OpenAPI document with Schemathesis: starts the sandbox
# (gateway + simulated upstream, demo user with a bearer token and a session token) on free
# ports against a fresh database, then runs `st run` with both credentials. Exits non-zero on
# any 5xx or any response that does not match the document.
#
# Settings (environment): FUZZ_EXAMPLES (cases per operation, default 25), FUZZ_PHASES
# (default examples,coverage,fuzzing), FUZZ_WORKERS (default 1: Hypothesis trips over a
# CPython 3.11 `ast` bug with several threads), FUZZ_SEED, FUZZ_VENV (where
# Schemathesis is installed, default ~/.cache/wa-gateway/schemathesis-venv), FUZZ_REPORT_DIR
# (default target/fuzz-report). Extra arguments go to `st run`.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION="4.32.5"
venv="${FUZZ_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/wa-gateway/schemathesis-venv}"
report_dir="${FUZZ_REPORT_DIR:-target/fuzz-report}"
log() { echo "fuzz-api: $*" >&2; }

if [ "$("$venv/bin/st" --version 2>/dev/null | awk '{print $3}')" != "$SCHEMATHESIS_VERSION" ]; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

base_url="$(scripts/ensure-postgres.sh)"
db="wa_gateway_fuzz"
psql "$base_url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >&2
psql "$base_url" -qc "CREATE DATABASE $db" >&2

cargo build --quiet --bin wa-gateway
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port="$(free_port)"
upstream_port="$(free_port)"
mkdir -p "$report_dir"
out="$report_dir/sandbox.out"

DATABASE_URL="${base_url%/*}/$db" PORT="$port" RUST_LOG="${RUST_LOG:-warn}" \
  target/debug/wa-gateway sandbox --upstream-port "$upstream_port" >"$out" 2>"$report_dir/sandbox.log" &
sandbox_pid=$!
trap 'kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true' EXIT

# The sandbox prints one JSON object with the credentials once it is listening.
creds=""
for _ in $(seq 1 120); do
  if ! kill -0 "$sandbox_pid" 2>/dev/null; then
    log "sandbox exited; see $report_dir/sandbox.log"
    exit 1
  fi
  creds="$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["bearer_token"], d["session_token"])' "$out" 2>/dev/null || true)"
  [ -n "$creds" ] && break
  sleep 0.5
done
[ -n "$creds" ] || { log "sandbox printed no credentials"; exit 1; }
read -r bearer session <<<"$creds"

base="http://127.0.0.1:$port"
log "fuzzing $base/openapi.json"
# `token` authenticates /wa/* (it wins over Authorization there); the bearer authenticates
# /bulk/*, and /bulk/contact/sync needs both.
"$venv/bin/st" run "$base/openapi.json" \
  --url "$base" \
  --checks not_a_server_error,response_schema_conformance \
  --phases "${FUZZ_PHASES:-examples,coverage,fuzzing}" \
  --max-examples "${FUZZ_EXAMPLES:-25}" \
  --workers "${FUZZ_WORKERS:-1}" \
  ${FUZZ_SEED:+--seed "$FUZZ_SEED"} \
  --request-timeout 20 \
  --suppress-health-check all \
  --report junit --report-dir "$report_dir" \
  -H "Authorization: Bearer $bearer" \
  -H "token: $session" \
  "$@"
