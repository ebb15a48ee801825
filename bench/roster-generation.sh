#!/usr/bin/env bash
# Times roster's automatic timetable generation (contract §4, Generation):
# POST /api/timetable-generation/generate/ on the real router, in process,
# over the realistic term of the generation tests (3 departments, 12 class
# groups, 40 enrollments = 92 weekly sessions, 15 rooms, breaks, trainers
# with availability holes) and the same term SCALE times larger, each built
# in a fresh database (crates/roster/examples/generation_bench.rs).
# Usage: bench/roster-generation.sh [sqlite|postgres] [SCALE...]   (default: sqlite 1 10)
# postgres needs CAMPUS_TEST_POSTGRES_URL (a server where it may create databases).
# Prints one JSON line per run: requested/placed sessions, the search steps,
# duration_ms (the server's load + search + write) and wall_ms (the request).
#
# Measured 2026-11-29 on the 2-CPU build box, SQLite, seed 42, release
# build, three runs (BENCHMARKS.md, "roster: timetable generation"):
#   scale 1:  12 groups, 40 enrollments, 15 rooms:   92/92 placed,  92 steps, 14–18 ms
#   scale 10: 120 groups, 400 enrollments, 150 rooms: 920/920 placed, 920 steps, 166–200 ms
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/campus-target}"
export RUST_LOG="${RUST_LOG:-warn}"
backend="${1:-sqlite}"
shift || true
scales=("$@")
[ ${#scales[@]} -eq 0 ] && scales=(1 10)
cargo run --release --quiet -p roster --example generation_bench -- "$backend" "${scales[@]}"
