#!/usr/bin/env bash
# Rebuild the PSS Django fixtures from a fresh fetch of the original.
#   ORIG_GIT   bare git dir of github:Clickatell4/Pss-backendN (the `fetch` tool's output)
#   ORIG_DIR   work tree to create OUTSIDE /work/main
#   OUT_DIR    fixture directory in the campus repo
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ORIG_GIT="${ORIG_GIT:-/work/.mirror/Clickatell4+Pss-backendN/repo}"
ORIG_DIR="${ORIG_DIR:-/work/originals/pss}"
BRANCH="${BRANCH:-testing}"
OUT_DIR="${OUT_DIR:-$HERE/../../../crates/pss/tests/fixtures/django}"
PG_HOST="${PG_HOST:-127.0.0.1}"; PG_USER="${PG_USER:-postgres}"; PG_DB="${PG_DB:-django_pss}"
PY="${PY:-python3.11}"

# Test-only secrets (recorded in the fixture README).
export SECRET_KEY='pss-fixture-test-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz'
export FIELD_ENCRYPTION_KEY='RieA-LCkMAX2ggSIaBIesr7lno9Mnnv6OIjSZlIQ8E8='
export DJANGO_ENVIRONMENT=local DJANGO_SETTINGS_MODULE=local_settings

if [ ! -d "$ORIG_DIR" ]; then
  mkdir -p "$(dirname "$ORIG_DIR")"
  git --git-dir="$ORIG_GIT" worktree add "$ORIG_DIR" "$BRANCH"
fi
cd "$ORIG_DIR"
if [ ! -x venv/bin/python ]; then
  "$PY" -m venv venv
  venv/bin/pip install -q --upgrade pip
  # drop deploy/test-only packages (supabase, sendgrid, anymail, gunicorn, pytest...) not needed to migrate/seed
  grep -v -E '^(supabase|pytest|factory|faker|freezegun|responses|gunicorn|sendgrid|django-anymail)' requirements.txt > /tmp/pss-requirements.txt
  venv/bin/pip install -q -r /tmp/pss-requirements.txt argon2-cffi
fi
cp "$HERE/local_settings.py" "$ORIG_DIR/local_settings.py"
cp "$HERE/seed.py" "$ORIG_DIR/fixture_seed.py"

# --- SQLite ---
rm -f "$ORIG_DIR/fixture.sqlite3"
export PSS_SQLITE_PATH="$ORIG_DIR/fixture.sqlite3"
PSS_DB=sqlite venv/bin/python manage.py migrate --noinput -v0
PSS_DB=sqlite venv/bin/python fixture_seed.py

# --- PostgreSQL ---
psql -h "$PG_HOST" -U "$PG_USER" -q -c "drop database if exists $PG_DB" -c "create database $PG_DB"
PSS_DB=postgres venv/bin/python manage.py migrate --noinput -v0
PSS_DB=postgres venv/bin/python fixture_seed.py

# --- dumps ---
mkdir -p "$OUT_DIR"
venv/bin/python -c "import sqlite3,sys;c=sqlite3.connect(sys.argv[1]);print('\n'.join(c.iterdump()))" "$PSS_SQLITE_PATH" > "$OUT_DIR/original.sqlite.sql"
pg_dump -h "$PG_HOST" -U "$PG_USER" --no-owner --no-privileges --column-inserts "$PG_DB" \
  | grep -v -E '^\\(restrict|unrestrict)' > "$OUT_DIR/original.postgres.sql"

# --- check the PostgreSQL dump loads ---
psql -h "$PG_HOST" -U "$PG_USER" -q -c "drop database if exists ${PG_DB}_check" -c "create database ${PG_DB}_check"
psql -v ON_ERROR_STOP=1 -q -h "$PG_HOST" -U "$PG_USER" -d "${PG_DB}_check" -f "$OUT_DIR/original.postgres.sql" > /dev/null
psql -h "$PG_HOST" -U "$PG_USER" -q -c "drop database ${PG_DB}_check"
echo "fixtures written to $OUT_DIR"
