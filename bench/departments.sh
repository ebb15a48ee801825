#!/usr/bin/env bash
# Measures GET /api/departments/ (8 offices, authenticated) with wrk.
# Usage: bench/departments.sh [DATABASE_URL]   (default: a fresh SQLite file)
# Needs wrk (apt-get install wrk). Throttling is switched off for the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/campus-target}"
cargo build --release --quiet
bin="$CARGO_TARGET_DIR/release/campus"
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
export CAMPUS_DATABASE_URL="${1:-sqlite://$work/bench.db?mode=rwc}"
export CAMPUS_SECRET_KEY=bench-secret-key-0123456789abcdef
export CAMPUS_THROTTLE_ANON=off CAMPUS_THROTTLE_USER=off RUST_LOG=warn
port=18765
"$bin" createsuperuser clearance --email bench@mksu.ac.ke --password 'Bench-Mark-2026!' >/dev/null
"$bin" serve clearance --bind 127.0.0.1:$port >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/api/health/" >/dev/null && break; sleep 0.2; done
token=$(curl -sf -X POST "http://127.0.0.1:$port/api/auth/token/" -H 'content-type: application/json' \
  -d '{"email":"bench@mksu.ac.ke","password":"Bench-Mark-2026!"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])')
for code in FIN LIB MESS HOS ACA WKS SPO STU; do
  curl -sf -X POST "http://127.0.0.1:$port/api/departments/" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"name\":\"$code office\",\"code\":\"$code\",\"department_type\":\"other\",\"head_email\":\"h@mksu.ac.ke\",\"approval_order\":1}" >/dev/null
done
# Access tokens live 5 minutes; the run is 15 seconds.
wrk -t2 -c64 -d15s --latency -H "authorization: Bearer $token" "http://127.0.0.1:$port/api/departments/"
echo "server RSS: $(ps -o rss= -p $server | awk '{printf "%.1f MiB", $1/1024}')"
