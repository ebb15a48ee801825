#!/usr/bin/env bash
# Rebuild the axis import-django fixture from a fresh fetch of github:hspiira/axis.
# Needs: python3.11, PostgreSQL on 127.0.0.1:5432 (user postgres, no password), pg_dump/psql, PyPI access.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
MIRROR="${MIRROR:-/work/.mirror/hspiira+axis/repo}"          # bare git dir from `fetch github:hspiira/axis`
REV="${REV:-f21d81351f8647af7cd990b00b38b792b592782f}"         # main @ 2026-01-21
ORIG="${ORIG:-/work/originals/axis}"                           # out-of-repo checkout
OUT="${OUT:-$HERE/../../../crates/axis/tests/fixtures/django}"
PGDB="${PGDB:-django_axis}"
PGARGS="-h 127.0.0.1 -U postgres"
WORK="${WORK:-/tmp/axis_fixture_build}"

rm -rf "$ORIG" && mkdir -p "$ORIG"
git --git-dir="$MIRROR" archive "$REV" | tar -x -C "$ORIG"
BE="$ORIG/axis_backend"
python3.11 -m venv "$BE/venv"
# requirements.txt misses drf-nested-routers (imported by apps/clients/urls.py); argon2-cffi for the argon2 hasher
"$BE/venv/bin/pip" install -q -r "$BE/requirements.txt" drf-nested-routers argon2-cffi

cat > "$BE/local_settings.py" <<'PY'
# Out-of-repo settings for building the campus import fixture (not part of the original).
import os
from axis_backend.settings.base import *  # noqa
DEBUG = True
ALLOWED_HOSTS = ['*']
SECRET_KEY = os.environ.get('SECRET_KEY', 'fixture-only-insecure-secret-key-axis')
CORS_ALLOWED_ORIGINS = []
MEDIA_ROOT = os.environ.get('AXIS_MEDIA_ROOT', str(BASE_DIR / 'media'))
if os.environ.get('AXIS_DB', 'sqlite') == 'sqlite':
    DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3',
                             'NAME': os.environ.get('AXIS_SQLITE', str(BASE_DIR / 'fixture.sqlite3'))}}
else:
    DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql', 'NAME': os.environ.get('AXIS_PG_DB', 'django_axis'),
                             'USER': 'postgres', 'PASSWORD': '', 'HOST': '127.0.0.1', 'PORT': '5432'}}
PASSWORD_HASHERS = [
    'django.contrib.auth.hashers.PBKDF2PasswordHasher',
    'django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher',
    'django.contrib.auth.hashers.Argon2PasswordHasher',
    'django.contrib.auth.hashers.BCryptSHA256PasswordHasher',
    'django.contrib.auth.hashers.ScryptPasswordHasher',
]
# axis_backend/settings/__init__.py imports development.py, which mutates base's lists in place (+=):
INSTALLED_APPS = [a for a in INSTALLED_APPS if a not in ('debug_toolbar', 'django_extensions')]
MIDDLEWARE = [m for m in MIDDLEWARE if 'debug_toolbar' not in m]
PY

rm -rf "$WORK" && mkdir -p "$WORK/sq/media" "$WORK/pg/media"
cd "$BE"
export DJANGO_SETTINGS_MODULE=local_settings

# (a) SQLite
AXIS_DB=sqlite AXIS_SQLITE="$WORK/sq/db.sqlite3" AXIS_MEDIA_ROOT="$WORK/sq/media" venv/bin/python manage.py migrate -v0
AXIS_DB=sqlite AXIS_SQLITE="$WORK/sq/db.sqlite3" AXIS_MEDIA_ROOT="$WORK/sq/media" AXIS_PASSWORDS_OUT="$WORK/sq/passwords.json" \
  venv/bin/python "$HERE/seed.py"

# (b) PostgreSQL
psql $PGARGS -q -c "drop database if exists $PGDB" -c "create database $PGDB"
AXIS_DB=postgres AXIS_PG_DB="$PGDB" AXIS_MEDIA_ROOT="$WORK/pg/media" venv/bin/python manage.py migrate -v0
AXIS_DB=postgres AXIS_PG_DB="$PGDB" AXIS_MEDIA_ROOT="$WORK/pg/media" AXIS_PASSWORDS_OUT="$WORK/pg/passwords.json" \
  venv/bin/python "$HERE/seed.py"

# Dump
mkdir -p "$OUT"
venv/bin/python -c "import sqlite3,sys;c=sqlite3.connect(sys.argv[1]);print('\n'.join(c.iterdump()))" "$WORK/sq/db.sqlite3" > "$OUT/original.sqlite.sql"
pg_dump $PGARGS --no-owner --no-privileges --column-inserts "$PGDB" | grep -v '^\\' > "$OUT/original.postgres.sql"

# Media: both runs write identical relative paths (documents/YYYY/MM/DD/<name>, date = build day)
rm -rf "$OUT/media" && mkdir -p "$OUT/media"
cp -r "$WORK/sq/media/." "$OUT/media/"
cp -rn "$WORK/pg/media/." "$OUT/media/"

# Check the PostgreSQL dump loads
psql $PGARGS -q -c "drop database if exists ${PGDB}_check" -c "create database ${PGDB}_check"
psql -v ON_ERROR_STOP=1 $PGARGS -q -d "${PGDB}_check" -f "$OUT/original.postgres.sql" >/dev/null
psql $PGARGS -q -c "drop database ${PGDB}_check"
echo "fixture written to $OUT"
