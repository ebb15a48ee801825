#!/usr/bin/env bash
# Many schools on one node (oryne, issue 16): provisions TENANTS schools
# through the real API and provisioning job, then reads a page of a school's
# users (the school's admin, from its own PostgreSQL schema or SQLite file)
# REQUESTS times at CONCURRENCY: all to one school, then spread over every
# school (crates/oryne/examples/tenants_bench.rs, release build, in process).
# Usage: bench/oryne-tenants.sh [sqlite|postgres|both] [TENANTS REQUESTS CONCURRENCY]   (default: both 200 4000 16)
# postgres needs CAMPUS_TEST_POSTGRES_URL (a server where it may create databases).
# Prints one JSON line per backend: provisioning time per school (p50/p99),
# read latency p50/p90/p99/max (ms) and throughput for one school and for all.
# CAMPUS_ORYNE_TENANT_POOLS (default 256 on SQLite, 32 on PostgreSQL) caps the
# school databases kept open.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/campus-target}"
export RUST_LOG="${RUST_LOG:-warn}"
backend="${1:-both}"
tenants="${2:-200}"
requests="${3:-4000}"
concurrency="${4:-16}"
cargo build --release --quiet -p oryne --example tenants_bench
case "$backend" in
  both) backends="sqlite postgres" ;;
  *) backends="$backend" ;;
esac
for b in $backends; do
  "$CARGO_TARGET_DIR/release/examples/tenants_bench" "$b" "$tenants" "$requests" "$concurrency"
done
