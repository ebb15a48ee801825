#!/usr/bin/env bash
# Measures campus's clearance system with the peers' load driver
# (../shared/peers/README.md, "Scenarios"): builds the release binary, creates a
# fresh database, runs `campus migrate clearance` and `campus seed-bench
# clearance --students $STUDENTS`, serves it with throttling off on a free local
# port, runs ../shared/peers/bench/run.sh against it with SERVER_PID set (the
# server's memory is sampled), then the mixed run, writes the JSON and stops the
# server.
#
#   bench/clearance.sh sqlite|postgres OUT_JSON
#
# The mixed run (issue 11, `token`): `token` saturates password hashing with
# CONNECTIONS connections while `health` and `clearance_detail` run beside it
# (MIXED_CONNECTIONS connections each), three wrk processes at once with the
# driver's scenarios.lua; their figures go to OUT_JSON's "mixed". The server's
# peak RSS over the whole run (VmHWM) goes to "peak_rss_mib".
#
# The limit (issue 11, item 4): with the server stopped, the statements
# campus issues for one `clearance_detail` and one `student_clearances_list`
# request are replayed straight through sqlx on a pool of campus's size
# (crates/clearance/examples/raw_queries.rs), CONNECTIONS tasks for DURATION
# seconds; the figures go to OUT_JSON's "raw". RAW=0 skips it.
#
# Environment: STUDENTS (10000), DURATION (10), CONNECTIONS (64), THREADS (2),
# SCENARIOS, TIMEOUT (30) as for run.sh; MIXED (1; 0 skips the mixed run),
# MIXED_CONNECTIONS (8); CAMPUS_PORT (a free one); PG_URL
# (postgres://postgres@127.0.0.1:5432) and PG_NAME (campus_bench, dropped and
# created again); KEEP_DB=1 keeps the database (PostgreSQL) afterwards;
# BENCH_TARGET_DIR (~/.cache/campus-release), the release build's target folder.
# Needs cargo, wrk, python3, curl, and psql for postgres.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
peers=$(cd "$repo/../shared/peers" && pwd)
usage="usage: bench/clearance.sh sqlite|postgres OUT_JSON"
db=${1:?$usage}
out=${2:?$usage}
[[ $db == sqlite || $db == postgres ]] || { echo "$usage" >&2; exit 2; }
[[ $out == /* ]] || out=$PWD/$out
export STUDENTS=${STUDENTS:-10000}
export DURATION=${DURATION:-10}
export CONNECTIONS=${CONNECTIONS:-64}
export TIMEOUT=${TIMEOUT:-30}
MIXED=${MIXED:-1}
RAW=${RAW:-1}
MIXED_CONNECTIONS=${MIXED_CONNECTIONS:-8}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
PG_NAME=${PG_NAME:-campus_bench}
command -v wrk >/dev/null || { echo "clearance.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }

export CARGO_TARGET_DIR=${BENCH_TARGET_DIR:-$HOME/.cache/campus-release}
echo "== building campus (release, $CARGO_TARGET_DIR)" >&2
# One invocation: built apart, the example's dev-dependencies change the
# features of shared crates and each build would undo the other's.
(cd "$repo" && cargo build --release --quiet -p campus -p clearance --bin campus --example raw_queries)
bin=$CARGO_TARGET_DIR/release/campus

work=$(mktemp -d)
server=
cleanup() {
  if [[ -n $server ]]; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  if [[ $db == postgres && ${KEEP_DB:-} != 1 ]]; then
    psql -q "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS \"$PG_NAME\" WITH (FORCE)" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

case $db in
  sqlite) export CAMPUS_DATABASE_URL="sqlite://$work/clearance.db?mode=rwc" ;;
  postgres)
    psql -q "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS \"$PG_NAME\" WITH (FORCE)" \
      -c "CREATE DATABASE \"$PG_NAME\""
    export CAMPUS_DATABASE_URL="$PG_URL/$PG_NAME"
    ;;
esac
export CAMPUS_SECRET_KEY=bench-secret-key-0123456789abcdef
export CAMPUS_MEDIA_ROOT=$work/media
export CAMPUS_THROTTLE_ANON=off CAMPUS_THROTTLE_USER=off
export RUST_LOG=${RUST_LOG:-warn} # no access log, as the peer's gunicorn

echo "== campus on $db: migrate, seed $STUDENTS students" >&2
"$bin" migrate clearance
"$bin" seed-bench clearance --students "$STUDENTS"

port=${CAMPUS_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
base=http://127.0.0.1:$port
if curl -sf "$base/api/health/" >/dev/null 2>&1; then
  echo "clearance.sh: something already answers on port $port" >&2
  exit 2
fi
"$bin" serve clearance --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 150); do
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; echo "clearance.sh: campus died" >&2; exit 1; }
  curl -sf "$base/api/health/" >/dev/null 2>&1 && break
  sleep 0.2
done

echo "== campus serve clearance (pid $server) on $base" >&2
SERVER_PID=$server "$peers/bench/run.sh" "$base" "$out"

mixed=()
if [[ $MIXED == 1 ]]; then
  # Tokens for clearance_detail (the driver's sign-ins), then token alone for two
  # seconds so hashing is saturated before health and clearance_detail start.
  python3 "$peers/bench/api.py" login "$base" "$STUDENTS" "$work"
  echo "== $(date +%T) mixed: token ($CONNECTIONS connections) with health and clearance_detail ($MIXED_CONNECTIONS each), ${DURATION}s" >&2
  mixed_wrk() { # scenario connections seconds
    wrk -t 1 -c "$2" -d "${3}s" --timeout "${TIMEOUT}s" -s "$peers/bench/scenarios.lua" "$base" \
      -- "$1" "$STUDENTS" 1 "$work/tokens.lua" >"$work/mixed-$1.out"
  }
  mixed_wrk token "$CONNECTIONS" $((DURATION + 4)) &
  token_wrk=$!
  sleep 2
  mixed_wrk health "$MIXED_CONNECTIONS" "$DURATION" &
  health_wrk=$!
  mixed_wrk clearance_detail "$MIXED_CONNECTIONS" "$DURATION"
  wait "$health_wrk" "$token_wrk"
  for s in token health clearance_detail; do mixed+=("$s=$work/mixed-$s.out"); done
fi

peak_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$server/status")
python3 "$here/report.py" annotate "$out" "$peak_kib" "$MIXED_CONNECTIONS" "${mixed[@]}"

if [[ $RAW == 1 ]]; then
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=
  for scenario in clearance_detail student_clearances_list; do
    echo "== $(date +%T) raw $scenario: the same statements through sqlx, $CONNECTIONS tasks, ${DURATION}s" >&2
    "$CARGO_TARGET_DIR/release/examples/raw_queries" "$scenario" "$STUDENTS" "$CONNECTIONS" "$DURATION" \
      >"$work/raw-$scenario.json"
  done
  python3 "$here/report.py" raw "$out" "$work"/raw-*.json
fi
if grep -q '"level":"ERROR"' "$work/server.log"; then
  echo "clearance.sh: the server logged errors:" >&2
  grep '"level":"ERROR"' "$work/server.log" | tail -5 >&2
fi
