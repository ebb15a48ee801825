#!/usr/bin/env bash
# Rebuild the MksU Clearance System Django fixture for `campus import-django clearance`.
# Reproduces everything from a fresh `fetch` of github:MukuaStephen/MksU-Clearance-System.
#   ORIG_GIT   bare git dir of the original (from the search tool's fetch)
#   WORK       work dir outside /work/main (checkout, venv, sqlite db, media)
#   OUT        fixture dir (crates/clearance/tests/fixtures/django)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ORIG_GIT="${ORIG_GIT:-/work/.mirror/MukuaStephen+MksU-Clearance-System/repo}"
BRANCH="${BRANCH:-main}"
WORK="${WORK:-/work/originals/mksu}"
OUT="${OUT:-$HERE/../../../crates/clearance/tests/fixtures/django}"
PG_HOST="${PG_HOST:-127.0.0.1}"; PG_USER="${PG_USER:-postgres}"; PG_DB="${PG_DB:-django_clearance}"
PY="${PY:-python3.11}"

mkdir -p "$WORK"
if [ ! -f "$WORK/BACKEND/manage.py" ]; then
  git --git-dir="$ORIG_GIT" archive "$BRANCH" | tar -x -C "$WORK"
fi
git --git-dir="$ORIG_GIT" rev-parse "$BRANCH" > "$WORK/COMMIT"

# venv: their requirements minus mysqlclient/celery/redis/dev tools, plus psycopg2-binary + argon2-cffi
if [ ! -x "$WORK/venv/bin/python" ]; then
  $PY -m venv "$WORK/venv"
  grep -v -e mysqlclient -e black -e flake8 -e celery -e redis -e gunicorn "$WORK/BACKEND/requirements.txt" > "$WORK/requirements.local.txt"
  printf 'psycopg2-binary\nargon2-cffi\n' >> "$WORK/requirements.local.txt"
  "$WORK/venv/bin/pip" install -q -r "$WORK/requirements.local.txt"
fi

# our settings overlay, outside the repo
cat > "$WORK/local_settings.py" <<'PYEOF'
import os
from config.settings import *  # noqa: F401,F403  (the original's settings)

SECRET_KEY = 'fixture-only-secret-key-not-for-production'
ALLOWED_HOSTS = ['*']
if os.environ.get('FIXTURE_DB') == 'postgres':
    DATABASES = {'default': {
        'ENGINE': 'django.db.backends.postgresql',
        'NAME': os.environ.get('PG_DB', 'django_clearance'),
        'USER': os.environ.get('PG_USER', 'postgres'), 'PASSWORD': '',
        'HOST': os.environ.get('PG_HOST', '127.0.0.1'), 'PORT': '5432',
    }}
else:
    DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3',
                             'NAME': os.environ['SQLITE_PATH']}}
MEDIA_ROOT = os.environ['FIXTURE_MEDIA_ROOT']
EMAIL_BACKEND = 'django.core.mail.backends.locmem.EmailBackend'
PYEOF

export PYTHONPATH="$WORK:$WORK/BACKEND"
export DJANGO_SETTINGS_MODULE=local_settings
cd "$WORK/BACKEND"

run_one() {  # $1 = sqlite|postgres
  export FIXTURE_DB="$1" FIXTURE_MEDIA_ROOT="$WORK/media-$1" SQLITE_PATH="$WORK/db.sqlite3" PG_DB PG_HOST PG_USER
  rm -rf "$FIXTURE_MEDIA_ROOT"; mkdir -p "$FIXTURE_MEDIA_ROOT"
  if [ "$1" = sqlite ]; then rm -f "$SQLITE_PATH"; else
    psql -h "$PG_HOST" -U "$PG_USER" -q -c "drop database if exists $PG_DB" -c "create database $PG_DB"; fi
  "$WORK/venv/bin/python" manage.py migrate --noinput -v 0
  "$WORK/venv/bin/python" "$HERE/seed.py"
}
run_one sqlite
run_one postgres

mkdir -p "$OUT"
"$WORK/venv/bin/python" -c "import sqlite3,sys;c=sqlite3.connect(sys.argv[1]);print('\n'.join(c.iterdump()))" "$WORK/db.sqlite3" > "$OUT/original.sqlite.sql"
pg_dump -h "$PG_HOST" -U "$PG_USER" --no-owner --no-privileges --column-inserts "$PG_DB" | grep -v '^\\' > "$OUT/original.postgres.sql"
# media: the seed is deterministic (same file names/content on both runs); ship the postgres run's copy
rm -rf "$OUT/media"; cp -r "$WORK/media-postgres" "$OUT/media"
diff -r "$WORK/media-sqlite" "$WORK/media-postgres" >/dev/null && echo "media identical on both backends"

# check the postgres dump loads into a fresh db
psql -h "$PG_HOST" -U "$PG_USER" -q -c "drop database if exists ${PG_DB}_check" -c "create database ${PG_DB}_check"
psql -v ON_ERROR_STOP=1 -q -h "$PG_HOST" -U "$PG_USER" -d "${PG_DB}_check" -f "$OUT/original.postgres.sql" >/dev/null
psql -h "$PG_HOST" -U "$PG_USER" -q -c "drop database ${PG_DB}_check"
echo "done: $OUT"
