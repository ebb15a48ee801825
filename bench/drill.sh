#!/usr/bin/env bash
# Fault drills for campus scaled out (issue 17; docs/DEPLOY.md, "Drills").
#
#   bench/drill.sh [SYSTEM|all] [--quick] [--only 1,5] [--no-build]
#
# SYSTEM is clearance (default), pss, axis, roster or oryne; `all` runs each in
# turn. For each system: a fresh PostgreSQL database campus_drill_<system>,
# nginx on 127.0.0.1:18100 (its own config in a temp folder, not the system's
# nginx) in front of three `campus serve <system>` nodes on 127.0.0.1:18101-18103
# (metrics on 18201-18203) sharing Redis (127.0.0.1:6379) and the bucket
# s3://drill on moto_server (127.0.0.1:5056), then bench/drill.py runs the
# drills and prints a results table (PASS / FAIL / INFO / n/a per check).
#
# The drills stop and start the local PostgreSQL cluster and Redis (drills 3
# and 4): do not run them while other tests use those servers. On exit (also
# on Ctrl-C or an error) every process started here is stopped, PostgreSQL is
# started and Redis restarted if they were running before and are not now,
# and the drill databases are dropped (KEEP_DB=1 keeps them).
#
# --quick   short loads (CI): 4 threads for 6 s instead of 8 threads for 20 s,
#           30 live events instead of 100.
# --only    run only these drills (numbers as in drill.py; start-up always runs).
# --no-build  use the binary already in $CARGO_TARGET_DIR.
#
# Environment: CARGO_TARGET_DIR (~/.cache/campus-release), PG_URL
# (postgres://postgres@127.0.0.1:5432), REDIS_URL (redis://127.0.0.1:6379/7),
# S3_PORT (5056), KEEP_DB, KEEP_WORK (keep the temp folder with node logs).
# Needs cargo, python3.11, nginx, psql, pg_ctlcluster, redis-server,
# redis-cli, moto_server (pip install 'moto[server]'), curl.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
usage="usage: bench/drill.sh [clearance|pss|axis|roster|oryne|all] [--quick] [--only N,M] [--no-build]"

target=clearance
quick=()
only=()
build=1
while (($#)); do
    case $1 in
        --quick) quick=(--quick) ;;
        --only) only=(--only "${2:?$usage}"); shift ;;
        --no-build) build=0 ;;
        clearance|pss|axis|roster|oryne|all) target=$1 ;;
        -h|--help) echo "$usage"; exit 0 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
    shift
done
if [[ $target == all ]]; then
    systems=(clearance pss axis roster oryne)
else
    systems=("$target")
fi

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/campus-release}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/7}
S3_PORT=${S3_PORT:-5056}
NGINX_PORT=18100
PG_VERSION=$(ls /etc/postgresql | sort -V | tail -1)
bin=$CARGO_TARGET_DIR/release/campus

for tool in python3 nginx psql pg_ctlcluster redis-server redis-cli curl; do
    command -v "$tool" >/dev/null || { echo "drill.sh: $tool is not installed" >&2; exit 2; }
done

if ((build)); then
    echo "== building campus (release, $CARGO_TARGET_DIR)" >&2
    # The working tree may be mid-edit by someone else: retry a few times.
    for attempt in 1 2 3 4 5 6; do
        if (cd "$repo" && cargo build --release --quiet -p campus); then
            break
        fi
        if ((attempt == 6)); then
            if [[ -x $bin ]]; then
                echo "drill.sh: build failed 6 times; using the existing $bin" >&2
            else
                echo "drill.sh: build failed" >&2; exit 1
            fi
        else
            echo "drill.sh: build failed (attempt $attempt); retrying in 30 s" >&2
            sleep 30
        fi
    done
fi
[[ -x $bin ]] || { echo "drill.sh: no binary at $bin (run without --no-build)" >&2; exit 2; }

work=$(mktemp -d /tmp/campus-drill.XXXXXX)
chmod 755 "$work"
mkdir -p "$work/pids" "$work/nginx-tmp"
chmod 1777 "$work/nginx-tmp"
redis_was_up=0
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && redis_was_up=1
pg_was_up=0
pg_isready -h 127.0.0.1 -p 5432 -q && pg_was_up=1
((pg_was_up)) || { echo "drill.sh: PostgreSQL is not running on 127.0.0.1:5432" >&2; exit 2; }
((redis_was_up)) || { echo "drill.sh: Redis is not running on 127.0.0.1:6379" >&2; exit 2; }
dbs=()

cleanup() {
    local status=$?
    set +e
    # Our processes only, by the pids we recorded.
    for f in "$work"/pids/*.pid; do
        [[ -e $f ]] || continue
        pid=$(cat "$f")
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null
        fi
    done
    if [[ -s $work/nginx.pid ]]; then
        pid=$(cat "$work/nginx.pid")
        kill -QUIT "$pid" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    fi
    if ((pg_was_up)) && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
        echo "drill.sh: starting PostgreSQL again" >&2
        pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start
    fi
    if ((redis_was_up)) && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
        echo "drill.sh: starting Redis again" >&2
        (cd / && redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no)
    fi
    if [[ ${KEEP_DB:-0} != 1 ]]; then
        for db in "${dbs[@]}"; do
            psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
        done
    fi
    if [[ ${KEEP_WORK:-0} == 1 || $status != 0 ]]; then
        echo "drill.sh: logs kept in $work" >&2
    else
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# moto: the S3-compatible object store on 127.0.0.1:$S3_PORT.
if ! curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/"; then
    command -v moto_server >/dev/null || pip install --quiet 'moto[server]'
    moto_server -H 127.0.0.1 -p "$S3_PORT" >"$work/moto.log" 2>&1 &
    echo $! >"$work/pids/moto.pid"
    for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" && break; sleep 0.1; done
fi
# moto accepts an unsigned PUT Bucket.
curl -s -o /dev/null -X PUT "http://127.0.0.1:$S3_PORT/drill"

# nginx: the recipe of docs/DEPLOY.md on its own port, pid and temp files.
cat >"$work/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 2048; }
http {
    log_format drill '\$remote_addr "\$request" \$status \$request_time up=\$upstream_addr '
                     'ust=\$upstream_status urt=\$upstream_response_time';
    access_log $work/nginx-access.log drill;
    client_body_temp_path $work/nginx-tmp/body;
    proxy_temp_path $work/nginx-tmp/proxy;
    fastcgi_temp_path $work/nginx-tmp/fastcgi;
    uwsgi_temp_path $work/nginx-tmp/uwsgi;
    scgi_temp_path $work/nginx-tmp/scgi;
$(sed -n '/^# --- begin http ---$/,/^# --- end http ---$/p' "$repo/docs/deploy/nginx-campus.conf" | sed '1d;$d' \
    | sed "s/127.0.0.1:8001/127.0.0.1:18101/; s/127.0.0.1:8002/127.0.0.1:18102/; s/127.0.0.1:8003/127.0.0.1:18103/; s/listen 80;/listen 127.0.0.1:$NGINX_PORT;/; s/listen \[::\]:80;//")
}
EOF
nginx -t -q -c "$work/nginx.conf" -g "error_log $work/nginx-error.log;" 2>"$work/nginx-test.log" || {
    cat "$work/nginx-test.log" >&2; exit 1; }
nginx -c "$work/nginx.conf"
for _ in $(seq 1 50); do [[ -s $work/nginx.pid ]] && break; sleep 0.1; done

status=0
results=$work/results.jsonl
for system in "${systems[@]}"; do
    db=campus_drill_$system
    dbs+=("$db")
    psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
    psql "$PG_URL/postgres" -qc "CREATE DATABASE $db" >/dev/null
    python3 "$here/drill.py" --system "$system" --bin "$bin" --work "$work" \
        --database-url "$PG_URL/$db" --redis-url "$REDIS_URL" \
        --s3-endpoint "http://127.0.0.1:$S3_PORT" --pg-version "$PG_VERSION" \
        --results "$results" "${quick[@]}" "${only[@]}" || status=1
done

if ((${#systems[@]} > 1)); then
    echo
    echo "== all systems"
    python3 - "$results" <<'EOF'
import json, sys
rows = []
for line in open(sys.argv[1]):
    rows.extend(json.loads(line)["rows"])
head = ("system", "drill", "check", "result", "expected", "verdict")
print("| " + " | ".join(head) + " |")
print("|" + "|".join("---" for _ in head) + "|")
for r in rows:
    print("| " + " | ".join(c.replace("|", "/") for c in r) + " |")
print(f"\n{sum(r[-1] == 'PASS' for r in rows)} PASS, {sum(r[-1] == 'FAIL' for r in rows)} FAIL")
EOF
fi
exit $status
