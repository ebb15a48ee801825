#!/usr/bin/env bash
# Measures PSS's POPIA paths on a full record: GET /api/popia/data-export/
# (everything about a candidate with intake, consents and N journal entries,
# decrypted, logged and audited per request) with wrk, then one erasure of
# that record (POST /api/popia/deletion-requests/{id}/execute/) with curl.
# Usage: bench/pss_privacy.sh [DATABASE_URL] [ENTRIES]   (default: a fresh SQLite file, 500)
# Needs wrk (apt-get install wrk). Throttling is switched off for the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/campus-target}"
cargo build --release --quiet
bin="$CARGO_TARGET_DIR/release/campus"
work=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT
export CAMPUS_DATABASE_URL="${1:-sqlite://$work/bench.db?mode=rwc}"
entries="${2:-500}"
export CAMPUS_SECRET_KEY=bench-secret-key-0123456789abcdef
export CAMPUS_FIELD_ENCRYPTION_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=
export CAMPUS_THROTTLE_ANON=off CAMPUS_THROTTLE_USER=off RUST_LOG=warn
port=18766
api="http://127.0.0.1:$port/api"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
post() { curl -sf -X POST "$api/$1" -H "authorization: Bearer $2" -H 'content-type: application/json' -d "$3"; }

"$bin" createsuperuser pss --email ada@bench.example --password 'Quiet-Harbour-42!' --full-name 'Ada Admin' >/dev/null
"$bin" serve pss --bind 127.0.0.1:$port >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do curl -sf "$api/health/" >/dev/null && break; sleep 0.2; done
root=$(curl -sf -X POST "$api/auth/login/" -H 'content-type: application/json' \
  -d '{"email":"ada@bench.example","password":"Quiet-Harbour-42!"}' | json '["access"]')
me=$(curl -sf -X POST "$api/auth/register/" -H 'content-type: application/json' \
  -d '{"email":"thandi@bench.example","password":"Quiet-Harbour-42!","first_name":"Thandi","last_name":"Nkosi"}' | json '["access"]')
post popia/privacy-policies/ "$root" '{"version":"1.0","title":"Privacy","content":"How PSS uses your data.","is_active":true}' >/dev/null
for type in data_processing medical_data communications; do
  post popia/consents/grant/ "$me" "{\"consent_type\":\"$type\"}" >/dev/null
done
post intake/submit/ "$me" '{"responses":{"diagnosis":"Dyslexia","medications":"None","emergency_contact_name":"Zanele Nkosi","support_needs":"Weekly check-ins"}}' >/dev/null
for i in $(seq "$entries"); do
  post journal/ "$me" "{\"title\":\"Day $i\",\"content\":\"What happened on day $i, and how it went.\",\"mood\":\"good\",\"energy_level\":6}" >/dev/null
done
size=$(curl -sf "$api/popia/data-export/" -H "authorization: Bearer $me" | wc -c)
echo "export of $entries journal entries: $size bytes"
# Access tokens live 15 minutes; the run is 15 seconds.
wrk -t2 -c8 -d15s --latency -H "authorization: Bearer $me" "$api/popia/data-export/"
request=$(post popia/deletion-requests/create/ "$me" '{"reason":"bench"}' | json '["id"]')
post "popia/deletion-requests/$request/review/" "$root" '{"action":"approve"}' >/dev/null
curl -sf -o /dev/null -w "erasure of the record: %{time_total} s\n" -X POST \
  "$api/popia/deletion-requests/$request/execute/" -H "authorization: Bearer $root"
echo "server RSS: $(ps -o rss= -p $server | awk '{printf "%.1f MiB", $1/1024}')"
