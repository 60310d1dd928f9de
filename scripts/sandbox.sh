#!/usr/bin/env bash
# Runs the gateway with the simulated upstream on loopback, a demo user and ready tokens.
set -euo pipefail
cd "$(dirname "$0")/.."
base_url="$(scripts/ensure-postgres.sh)"
# The sandbox keeps its data in its own database.
DATABASE_URL="${base_url%/*}/wa_gateway_sandbox"
if command -v psql >/dev/null 2>&1; then
  psql "$base_url" -Atqc "SELECT 1 FROM pg_database WHERE datname = 'wa_gateway_sandbox'" | grep -q 1 \
    || psql "$base_url" -qc "CREATE DATABASE wa_gateway_sandbox" >&2
fi
export DATABASE_URL
exec cargo run --quiet -- sandbox "$@"
