#!/usr/bin/env bash
# Drives the original AXIS React frontend (axis_frontend/ of hspiira/axis)
# against `campus serve axis` in headless Chromium, unchanged but for its
# base URL. Its code is never committed: give the path of a local checkout.
#
#   bash tests/e2e/axis-frontend.sh /path/to/hspiira-axis [output-dir]
#
# Builds campus (debug) and the frontend (npm install + vite build), serves
# both on loopback, then runs tests/e2e/axis_frontend.py: it signs in through
# the landing page's modal, walks every page, creates an industry and a
# client through the forms, and records every API call and every answer of
# 400 or more. It also lists the calls the frontend's API modules make that
# campus's OpenAPI document does not serve. Exit status 1 when a page failed
# or a served call answered 5xx. Needs Debian's chromium (installed when
# missing) and Playwright for Python (installed into ~/.cache when missing;
# it never downloads a browser).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
checkout=${1:?usage: axis-frontend.sh /path/to/hspiira-axis [output-dir]}
checkout=$(cd "$checkout" && pwd)
out=${2:-$(mktemp -d "${TMPDIR:-/tmp}/axis-e2e.XXXXXX")}
mkdir -p "$out"
frontend="$checkout/axis_frontend"
[ -f "$frontend/package.json" ] || { echo "no axis_frontend/package.json under $checkout" >&2; exit 2; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/campus-target}"
log() { printf '\n==> %s\n' "$*"; }

if ! command -v chromium >/dev/null; then
  log "installing chromium"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
venv="${XDG_CACHE_HOME:-$HOME/.cache}/campus-e2e-venv"
if ! "$venv/bin/python" -c 'import playwright' 2>/dev/null; then
  log "installing playwright (Python) into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet playwright
fi

log "building campus"
(cd "$root" && cargo build --quiet -p campus)
campus="$CARGO_TARGET_DIR/debug/campus"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api_port=$(free_port)
web_port=$(free_port)
api="http://127.0.0.1:$api_port"
web="http://127.0.0.1:$web_port"

log "building the frontend against $api"
(cd "$frontend" && npm install --no-audit --no-fund --loglevel=error >/dev/null \
  && VITE_API_BASE_URL="$api" npx vite build --logLevel error --outDir "$out/dist" --emptyOutDir)

data="$out/campus"
rm -rf "$data"
mkdir -p "$data"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
export CAMPUS_DATABASE_URL="sqlite://$data/axis.db?mode=rwc" CAMPUS_MEDIA_ROOT="$data/media"
export CAMPUS_SECRET_KEY="e2e-$(date +%s%N)" CAMPUS_CORS_ALLOWED_ORIGINS="$web"
export CAMPUS_THROTTLE_ANON=off CAMPUS_THROTTLE_USER=off
admin_email=admin@axis.example
admin_password='Walk-The-Frontend-42'
(cd "$data" && "$campus" createsuperuser axis --email "$admin_email" --password "$admin_password" --full-name 'Ada Admin' >/dev/null)
(cd "$data" && RUST_LOG=warn exec "$campus" serve axis --bind "127.0.0.1:$api_port" >"$out/campus.log" 2>&1) &
pids+=($!)
(cd "$frontend" && exec npx vite preview --outDir "$out/dist" --host 127.0.0.1 --port "$web_port" --strictPort >"$out/preview.log" 2>&1) &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "$api/api/health/" 2>/dev/null && curl -fsS -o /dev/null "$web/" 2>/dev/null && break
  sleep 0.2
done

log "walking the frontend"
"$venv/bin/python" "$root/tests/e2e/axis_frontend.py" \
  --api "$api" --web "$web" --email "$admin_email" --password "$admin_password" \
  --frontend "$frontend" --out "$out"
