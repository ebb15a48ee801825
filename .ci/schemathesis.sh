#!/usr/bin/env bash
# Schemathesis (property-based API testing) over every system's OpenAPI
# document: each system is served from a fresh SQLite file, then fuzzed with
# every check, signed in as a superuser and once anonymously. Any failure
# (a 500, an undocumented status code, a body or header the document does not
# describe, valid data refused, invalid data accepted ...) fails the script.
#
#   bash .ci/schemathesis.sh              # every system
#   bash .ci/schemathesis.sh pss          # one of them
#
# Runs are deterministic (`--generation-deterministic`: the same cases every
# time, no state kept between runs). SCHEMATHESIS_MAX_EXAMPLES (default 5)
# sets how many cases fuzzing draws per operation; the default keeps both
# systems to about three minutes on two busy cores. Settings and the custom check
# live in .ci/schemathesis.toml and .ci/schemathesis_hooks.py.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/campus-target}"
export CARGO_TERM_COLOR=never

venv="${XDG_CACHE_HOME:-$HOME/.cache}/campus-schemathesis"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-5}"
systems=("$@")
# oryne is run on request (`bash .ci/schemathesis.sh oryne`): its ERP
# documents do not yet state every rule its handlers check.
[ ${#systems[@]} -gt 0 ] || systems=(clearance pss axis roster)

log() { printf '\n==> %s\n' "$*"; }

# The version the documents were checked with; another 4.x may judge differently.
version=4.32.5
if [ "$("$venv/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $version" ]; then
  log "installing schemathesis $version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$version"
fi
py="$venv/bin/python"
"$venv/bin/schemathesis" --version

log "cargo build -p campus"
cargo build --quiet --locked -p campus
campus="$CARGO_TARGET_DIR/debug/campus"

work=$(mktemp -d "${TMPDIR:-/tmp}/campus-schemathesis.XXXXXX")
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# json_field FIELD: reads a JSON object on stdin and prints one string member
# (of its `data` object when it has one: oryne's envelope).
json_field() {
  "$py" -c 'import json, sys; d = json.load(sys.stdin); d = d["data"] if isinstance(d.get("data"), dict) else d; print(d[sys.argv[1]])' "$1"
}

admin_email=admin@example.org
admin_password='Fuzz-7c1e-Quartz-Lantern'
failed=()

summary=()

run_schemathesis() { # run_schemathesis LABEL BASE_URL [SCHEMATHESIS ARGS...]
  local label=$1 base=$2 output status
  shift 2
  log "schemathesis: $label"
  output="$work/run-${#summary[@]}.log"
  set +e
  # From the temp dir, so that nothing lands in the tree; Hypothesis keeps
  # its (Unicode) caches beside the venv. One worker: requests never
  # interleave, so a run repeats exactly (and Python 3.11's parser, which
  # Hypothesis calls, is not thread-safe: "AST constructor recursion depth
  # mismatch").
  (
    cd "$work"
    export SCHEMATHESIS_HOOKS="$root/.ci/schemathesis_hooks.py"
    export HYPOTHESIS_STORAGE_DIRECTORY="$venv/hypothesis"
    "$venv/bin/schemathesis" --config-file "$root/.ci/schemathesis.toml" run \
      "$base/api/schema/" \
      --checks all \
      --max-examples "$max_examples" \
      --generation-deterministic \
      --workers 1 \
      --continue-on-failure \
      --no-color \
      "$@"
  ) 2>&1 | tee "$output"
  status=${PIPESTATUS[0]}
  set -e
  summary+=("$label: $(grep -E '^ +[0-9]+ generated' "$output" | sed 's/^ *//' || echo 'no cases')")
  if [ "$status" -ne 0 ]; then
    failed+=("$label")
  fi
}

sign_in() { # prints a fresh access token for the superuser (args: extra curl headers)
  curl -fsS -X POST "$base$token_path" -H 'Content-Type: application/json' "$@" \
    -d "{\"email\": \"$admin_email\", \"password\": \"$admin_password\"}" | json_field access
}

for system in "${systems[@]}"; do
  # Operations that end the caller's own session (by operation id): fuzzing
  # them would revoke the token mid-run and leave every later operation
  # answering 401, so each runs last, alone, with a token of its own.
  case "$system" in
    clearance)
      token_path=/api/auth/token/
      me_path=/api/auth/profile/
      session_ending=(logout)
      ;;
    pss)
      token_path=/api/auth/login/
      me_path=/api/users/me/
      session_ending=(logout end_all_sessions end_session force_logout)
      ;;
    axis)
      token_path=/api/auth/token/
      me_path=/api/auth/me/
      session_ending=(logout change_password)
      ;;
    roster)
      token_path=/api/auth/token/
      me_path=/api/auth/me/
      session_ending=(logout change_password)
      ;;
    oryne)
      token_path=/api/v1/auth/login/
      me_path=/api/v1/auth/profile/
      session_ending=(logout change_password)
      ;;
    *) echo "unknown system: $system" >&2; exit 2 ;;
  esac
  dir="$work/$system"
  mkdir -p "$dir/media"
  export CAMPUS_DATABASE_URL="sqlite://$dir/$system.db?mode=rwc"
  export CAMPUS_MEDIA_ROOT="$dir/media"
  export CAMPUS_SECRET_KEY="schemathesis-$system-$(date +%s%N)"
  export CAMPUS_THROTTLE_ANON=off CAMPUS_THROTTLE_USER=off
  # One token must last the whole run.
  export CAMPUS_ACCESS_TOKEN_LIFETIME=7200
  unset CAMPUS_REDIS_URL CAMPUS_EMAIL_URL

  # Run from the temp dir so that no developer's .env joins in.
  cd "$dir"
  log "$system: createsuperuser"
  "$campus" createsuperuser "$system" --email "$admin_email" --password "$admin_password" \
    --full-name 'Schemathesis Admin' >/dev/null
  if [ "$system" = oryne ]; then
    log "oryne: create-tenant fuzz"
    "$campus" create-tenant oryne --name 'Fuzz School' --subdomain fuzz \
      --admin-email "$admin_email" --admin-password "$admin_password" >/dev/null
  fi

  port=$(free_port)
  base="http://127.0.0.1:$port"
  log "$system: serving on $base"
  RUST_LOG=warn "$campus" serve "$system" --bind "127.0.0.1:$port" >"$dir/server.log" 2>&1 &
  server_pid=$!
  cd "$root"
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$base/api/schema/" 2>/dev/null; then break; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      cat "$dir/server.log" >&2
      echo "$system did not start" >&2
      exit 1
    fi
    sleep 0.2
  done

  if [ "$system" = oryne ]; then
    # The school's routes in the school's context, then the platform's in
    # the platform context (each answers the other's with 401/404).
    school=(-H "X-Tenant-ID: fuzz")
    platform_paths='^/api/v1/(tenants|platform)/'
    contexts=(school platform)
  else
    contexts=(single)
  fi
  for context in "${contexts[@]}"; do
    case "$context" in
      school) headers=("${school[@]}"); scope=(--exclude-path-regex "$platform_paths"); label="$system school" ;;
      platform) headers=(); scope=(--include-path-regex "$platform_paths|^/api/v1/auth/"); label="$system platform" ;;
      *) headers=(); scope=(); label="$system" ;;
    esac
    token=$(sign_in "${headers[@]}")
    excluded=()
    for op in "${session_ending[@]}"; do excluded+=(--exclude-operation-id "$op"); done
    run_schemathesis "$label (signed in)" "$base" "${headers[@]}" -H "Authorization: Bearer $token" "${scope[@]}" "${excluded[@]}"
    # A run whose token died part-way tested little but 401s: say so.
    if ! curl -fsS -o /dev/null "${headers[@]}" -H "Authorization: Bearer $token" "$base$me_path"; then
      echo "$label: the superuser's token stopped working during the signed-in run;" \
        "an operation that ends sessions belongs in session_ending" >&2
      failed+=("$label (token revoked)")
    fi
    for op in "${session_ending[@]}"; do
      run_schemathesis "$label $op (signed in)" "$base" "${headers[@]}" \
        -H "Authorization: Bearer $(sign_in "${headers[@]}")" --include-operation-id "$op"
    done
    # Without a token almost every operation answers 401 at once: the coverage
    # phase's systematic cases show that, and fuzzing them again adds little.
    run_schemathesis "$label (anonymous)" "$base" "${headers[@]}" "${scope[@]}" --phases examples,coverage
  done
  stop_server
  if grep -q 'panicked' "$dir/server.log"; then
    echo "$system: the server panicked:" >&2
    grep -A5 'panicked' "$dir/server.log" >&2
    failed+=("$system (panic)")
  fi
done

log "summary"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  log "schemathesis failed: ${failed[*]}"
  exit 1
fi
log "schemathesis: no failures"
