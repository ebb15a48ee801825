#!/usr/bin/env bash
# Check-in latency under load (contract §5, issue 15): TRAINEES trainees in
# SESSIONS class groups check in to SESSIONS sessions running at once, their
# arrivals spread evenly over WINDOW seconds, on the real router in process
# (crates/roster/examples/checkin_bench.rs), once with face verification on
# (real dlib, the node's pool of 2 encodings at a time) and once off.
# Usage: bench/roster-checkin.sh [sqlite|postgres] [TRAINEES SESSIONS WINDOW]   (default: sqlite 500 20 120)
# Face verification needs the models and photos .ci/run fetches:
#   CAMPUS_FACE_MODELS_DIR (default ~/.cache/campus-face/models)
#   CAMPUS_TEST_FACE_IMAGES (default ~/.cache/campus-face/face_recognition-1.3.0/tests/test_images)
# postgres needs CAMPUS_TEST_POSTGRES_URL (a server where it may create databases).
# Prints one JSON line per run: accepted/refused check-ins, latency p50/p90/p99/max (ms),
# when the last answer came (s after the first arrival) and the verifier pool's queueing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/campus-target}"
export RUST_LOG="${RUST_LOG:-warn}"
export CAMPUS_FACE_MODELS_DIR="${CAMPUS_FACE_MODELS_DIR:-$HOME/.cache/campus-face/models}"
export CAMPUS_TEST_FACE_IMAGES="${CAMPUS_TEST_FACE_IMAGES:-$HOME/.cache/campus-face/face_recognition-1.3.0/tests/test_images}"
backend="${1:-sqlite}"
trainees="${2:-500}"
sessions="${3:-20}"
window="${4:-120}"
cargo build --release --quiet -p roster --example checkin_bench
for face in off on; do
  "$CARGO_TARGET_DIR/release/examples/checkin_bench" "$backend" "$face" "$trainees" "$sessions" "$window"
done
