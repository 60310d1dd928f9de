#!/usr/bin/env bash
# Makes a PostgreSQL server reachable and prints the DATABASE_URL to use (on stdout; progress
# goes to stderr). Order: $DATABASE_URL if it answers; 127.0.0.1:5432 as user postgres; the
# local cluster started with pg_ctlcluster; PostgreSQL installed from the distribution's
# packages (Debian/Ubuntu apt-get), started, and given a password for user postgres.
set -euo pipefail

log() { echo "ensure-postgres: $*" >&2; }

answers() {
  # psql may be missing on a fresh machine: fall back to bash's /dev/tcp for the probe
  if command -v psql >/dev/null 2>&1; then
    PGCONNECT_TIMEOUT=3 psql "$1" -Atqc 'select 1' >/dev/null 2>&1
  else
    return 1
  fi
}

if [ -n "${DATABASE_URL:-}" ] && answers "$DATABASE_URL"; then
  log "using DATABASE_URL"
  echo "$DATABASE_URL"
  exit 0
fi

for url in "postgres://postgres@127.0.0.1:5432/postgres" "postgres://postgres:postgres@127.0.0.1:5432/postgres"; do
  if answers "$url"; then
    log "PostgreSQL answers at 127.0.0.1:5432"
    echo "$url"
    exit 0
  fi
done

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    log "installing PostgreSQL from the distribution's packages"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-client >&2
  else
    log "no PostgreSQL found and no apt-get to install it; set DATABASE_URL to a PostgreSQL 13+ server"
    exit 1
  fi
fi

version="$(ls /etc/postgresql | sort -V | tail -1)"
log "starting cluster $version/main"
as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 2>&1 || true

for _ in $(seq 1 30); do
  if as_root su postgres -c "psql -Atqc 'select 1'" >/dev/null 2>&1; then break; fi
  sleep 1
done
# Give user postgres a password so TCP logins work whatever pg_hba.conf says (md5/scram).
as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >&2

for url in "postgres://postgres@127.0.0.1:5432/postgres" "postgres://postgres:postgres@127.0.0.1:5432/postgres"; do
  for _ in $(seq 1 20); do
    if answers "$url"; then
      log "PostgreSQL is up"
      echo "$url"
      exit 0
    fi
    sleep 1
  done
done
log "PostgreSQL did not come up at 127.0.0.1:5432"
exit 1
