#!/usr/bin/env bash
# Runs the DRF peer (../shared/peers/bench/drf.sh) and campus (bench/clearance.sh)
# one right after the other on the same database kind, then prints, per
# scenario, both rates, campus's ratio, p50/p99 and non-2xx of each, both
# servers' peak RSS, and campus's mixed run (token beside health and
# clearance_detail).
#
#   bench/side-by-side.sh sqlite|postgres [OUT_DIR]
#
# OUT_DIR (default bench/results) receives drf-<db>.json, campus-<db>.json and
# the printed table as side-by-side-<db>.md.
# Environment: STUDENTS (10000), DURATION (10), CONNECTIONS, THREADS, SCENARIOS as
# for run.sh, for both servers; PEERS_VENV (~/.cache/campus-peers-venv: the
# peer's virtualenv, created on first use from PyPI); the peer's PORT, WORKERS
# and PG_* settings (drf.sh); campus's MIXED, MIXED_CONNECTIONS, PG_URL, PG_NAME,
# BENCH_TARGET_DIR (clearance.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
peers=$(cd "$repo/../shared/peers" && pwd)
usage="usage: bench/side-by-side.sh sqlite|postgres [OUT_DIR]"
db=${1:?$usage}
[[ $db == sqlite || $db == postgres ]] || { echo "$usage" >&2; exit 2; }
out_dir=${2:-$here/results}
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
export STUDENTS=${STUDENTS:-10000}
export DURATION=${DURATION:-10}
export PEERS_VENV=${PEERS_VENV:-$HOME/.cache/campus-peers-venv}

# Build first, so the two measurements follow each other with nothing between.
echo "== building campus (release)" >&2
(cd "$repo" && CARGO_TARGET_DIR=${BENCH_TARGET_DIR:-$HOME/.cache/campus-release} \
  cargo build --release --quiet -p campus)

echo "== $(date +%T) the DRF peer on $db" >&2
"$peers/bench/drf.sh" "$db" "$out_dir/drf-$db.json"
echo "== $(date +%T) campus on $db" >&2
"$here/clearance.sh" "$db" "$out_dir/campus-$db.json"

python3 "$here/report.py" compare "$out_dir/drf-$db.json" "$out_dir/campus-$db.json" \
  | tee "$out_dir/side-by-side-$db.md"
