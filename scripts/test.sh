#!/usr/bin/env bash
# The whole test suite on a fresh machine: makes PostgreSQL reachable, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
DATABASE_URL="$(scripts/ensure-postgres.sh)"
export DATABASE_URL
export RUST_BACKTRACE=1
cargo test -- --test-threads="${TEST_THREADS:-4}"
