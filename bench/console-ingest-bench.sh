#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# console-ingest-bench.sh: events per second into bulwark-console over HTTP,
# from several simulated nodes at once, on SQLite and on PostgreSQL.
#
#   bench/console-ingest-bench.sh [BUILD_DIR]     (default: build)
#
# Each run: a fresh console (temporary data directory or database) on a free
# loopback port; NODES nodes enrolled through the API (each with its own
# credential); NODES processes post BATCHES batches of BATCH events each
# (new random ids) in parallel over keep-alive connections
# (bench/console-ingest.py).  Afterwards the stored events are counted
# through the API's /metrics gauge and must equal what was sent, or the run
# fails: a fast console that drops events is not measured.  The figure is the
# median of RUNS runs.  PostgreSQL: a temporary cluster (Debian's postgresql,
# fsync on, as a real installation) started and removed here.
#
# Environment: RUNS (5)  NODES (4)  BATCHES (100 per node)  BATCH (500)
#   CONSOLE_BENCH_PG=0 to skip PostgreSQL.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
CONSOLE=$BUILD/bulwark-console
RUNS=${RUNS:-5} NODES=${NODES:-4} BATCHES=${BATCHES:-100} BATCH=${BATCH:-500}
[ -x "$CONSOLE" ] || { echo "console-ingest-bench: $CONSOLE not built" >&2; exit 2; }
TMP=$(mktemp -d /tmp/bw-cbench.XXXXXX)
CPID= PGSTOP=
cleanup() { [ -n "$CPID" ] && kill "$CPID" 2>/dev/null && wait "$CPID" 2>/dev/null; [ -n "$PGSTOP" ] && $PGSTOP; rm -rf "$TMP"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 600); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
jget() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
export BULWARK_CONSOLE_ADMIN_PASSWORD=bench-admin-pass

# one_run KIND DBURL: prints "events seconds"
one_run() {
    local kind=$1 url=$2 port; port=$(free_port)
    printf '[console]\nListen = 127.0.0.1:%s\nDataDirectory = %s\nThreads = 4\n%s' "$port" "$TMP/data-$kind-$RANDOM" \
        "${url:+DatabaseUrl = $url
}" >"$TMP/c.conf"
    "$CONSOLE" -c "$TMP/c.conf" 2>"$TMP/console.log" & CPID=$!
    wait_port "$port" || { echo "console did not start" >&2; cat "$TMP/console.log" >&2; return 1; }
    local U=http://127.0.0.1:$port tok creds=() i
    tok=$(curl -s -X POST -d '{"username":"admin","password":"bench-admin-pass"}' "$U/api/v1/session" | jget token)
    for i in $(seq "$NODES"); do
        local et; et=$(curl -s -H "Authorization: Bearer $tok" -X POST -d '{"group":"bench"}' "$U/api/v1/enrollment-tokens" | jget token)
        creds+=("$(curl -s -X POST -d "{\"token\":\"$et\",\"name\":\"bench-$i\"}" "$U/api/v1/enroll" | jget credential)")
    done
    local out; out=$(python3 "$REPO/bench/console-ingest.py" "$U" "r$RANDOM" "$NODES" "$BATCHES" "$BATCH" "${creds[@]}") || return 1
    local stored; stored=$(curl -s "$U/metrics" | awk '$1 == "bulwark_console_events_stored" { print $2 }')
    local want=$((NODES * BATCHES * BATCH))
    kill "$CPID"; wait "$CPID" 2>/dev/null; CPID=
    if [ "$stored" != "$want" ] || [ "${out%% *}" != "$want" ]; then
        echo "console-ingest-bench: $kind: sent $want, accepted ${out%% *}, stored $stored" >&2; return 1
    fi
    echo "$out"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

bench() { # bench KIND URL
    local kind=$1 url=$2 r rates=()
    for r in $(seq "$RUNS"); do
        local o; o=$(one_run "$kind" "$url") || exit 1
        local ev=${o%% *} s=${o##* }
        rates+=("$(awk -v e="$ev" -v s="$s" 'BEGIN { printf "%.0f", e / s }')")
        echo "  $kind run $r: $ev events in $s s = ${rates[-1]} events/s" >&2
        [ -n "$url" ] && [ -n "${RESET_PG:-}" ] && $RESET_PG
    done
    printf '%s: median %s events/s over %s runs (%s nodes x %s batches x %s events; runs: %s)\n' "$kind" \
        "$(printf '%s\n' "${rates[@]}" | median)" "$RUNS" "$NODES" "$BATCHES" "$BATCH" "${rates[*]}"
}

echo "bulwark-console ingestion: $NODES nodes in parallel, batches of $BATCH, $(nproc) CPUs"
bench sqlite ""

PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
if [ "${CONSOLE_BENCH_PG:-1}" = 1 ] && [ -x "$PGBIN/initdb" ]; then
    PGDIR=$TMP/pg; mkdir -p "$PGDIR"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$PGDIR"; chmod 700 "$PGDIR"; chmod 755 "$TMP"
        as_pg() { runuser -u postgres -- "$@"; }; else as_pg() { "$@"; }; fi
    PGPORT=$(free_port)
    as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth-local=trust --auth-host=trust -E UTF8 --locale=C.UTF-8 >/dev/null 2>&1 &&
    as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w -t 120 \
        -o "-c listen_addresses=127.0.0.1 -c port=$PGPORT -c unix_socket_directories=$PGDIR" start >/dev/null 2>&1 ||
        { echo "PostgreSQL: could not start a temporary cluster" >&2; exit 2; }
    PGSTOP="as_pg $PGBIN/pg_ctl -D $PGDIR/data -m immediate stop"
    PSQL=$(command -v psql || echo "$PGBIN/psql")
    # A fresh database per run, like SQLite's fresh file.
    RESET_PG() { as_pg "$PSQL" -h "$PGDIR" -p "$PGPORT" -U postgres -qAt -d postgres \
        -c 'DROP DATABASE IF EXISTS bench' -c 'CREATE DATABASE bench' >/dev/null; }
    RESET_PG=RESET_PG; RESET_PG
    bench postgresql "postgresql://postgres@127.0.0.1:$PGPORT/bench"
fi
