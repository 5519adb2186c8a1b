#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# console-store-bench.sh: the console's store measured directly, without
# HTTP (the API's end-to-end figures are separate): ingestion into SQLite
# and PostgreSQL from several threads, then the dashboard's queries on a
# large SQLite store.  Figures go to BENCHMARKS.md ("Console store").
#
#   bench/console-store-bench.sh [ingest|query|all]
#
# Environment:
#   EVENTS=10000000   events loaded for the query part (spread over 30 days)
#   RUNS=200          runs per query (p50/p99/max printed)
#   THREADS="1 4"     writer threads for the ingestion part
#   PER_THREAD=20000  events each writer adds (batches of 500)
#   DATA=/tmp/bw-console-bench   where the databases go (10M events: ~12 GB)
#   KEEP=1            keep the loaded SQLite database for another query run
# PostgreSQL: a temporary cluster (Debian's postgresql, a free loopback
# port) is started and removed; skipped when initdb is not installed.
#
# It compiles only what it needs, with the flags of `make` (-O2):
#   cc -O2 ... bench/console-store-bench.c src/console/store*.c src/core/err.c
#      src/core/buf.c $(pkg-config --libs jansson sqlite3 libpq) -pthread
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
mode=${1:-all}
EVENTS=${EVENTS:-10000000}
RUNS=${RUNS:-200}
THREADS=${THREADS:-1 4}
PER_THREAD=${PER_THREAD:-20000}
DATA=${DATA:-/tmp/bw-console-bench}
mkdir -p bench/work "$DATA"
BIN=bench/work/console-store-bench
CC=${CC:-cc}
# shellcheck disable=SC2046  # pkg-config output is meant to be split
$CC -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -D_GNU_SOURCE \
    -Iinclude -Isrc $(pkg-config --cflags jansson libpq) bench/console-store-bench.c \
    src/console/store*.c src/core/err.c src/core/buf.c -o "$BIN" \
    $(pkg-config --libs jansson sqlite3 libpq) -pthread -lm
echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# SQLite $(pkg-config --modversion sqlite3), PostgreSQL client $(pkg-config --modversion libpq)"

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
PGDIR=""
start_pg() {
    [ -x "$PGBIN/initdb" ] || { echo "# no PostgreSQL server installed: skipped"; return 1; }
    PGDIR=$(mktemp -d "$DATA/pg.XXXXXX")
    local as=()
    if [ "$(id -u)" = 0 ]; then chown postgres: "$PGDIR"; as=(runuser -u postgres --); fi
    PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "${as[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    # Durable commits (fsync on, synchronous_commit on): the defaults users run.
    "${as[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
        -o "-c listen_addresses=127.0.0.1 -c port=$PGPORT -c unix_socket_directories=$PGDIR -c shared_buffers=512MB" start >/dev/null
    "${as[@]}" psql -h "$PGDIR" -p "$PGPORT" -U postgres -qAt -c "CREATE ROLE bench LOGIN" -c "CREATE DATABASE bench OWNER bench"
    PGURL="postgresql://bench@127.0.0.1:$PGPORT/bench"
    PGAS=("${as[@]}")
}
stop_pg() {
    if [ -n "$PGDIR" ]; then
        "${PGAS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null 2>&1 || true
        rm -rf "$PGDIR"
    fi
}
trap stop_pg EXIT

if [ "$mode" = ingest ] || [ "$mode" = all ]; then
    echo "## ingestion, batches of 500, threads sharing one store"
    for t in $THREADS; do
        for run in 1 2 3; do
            rm -f "$DATA"/ingest.db*
            "$BIN" ingest "$DATA/ingest.db" "$t" "$PER_THREAD" 500
        done
    done
    rm -f "$DATA"/ingest.db*
    if start_pg; then
        for t in $THREADS; do
            for run in 1 2 3; do
                "${PGAS[@]}" psql -h "$PGDIR" -p "$PGPORT" -U postgres -qAt -d bench \
                    -c "DROP SCHEMA public CASCADE" -c "CREATE SCHEMA public AUTHORIZATION bench" >/dev/null 2>&1
                "$BIN" ingest "$PGURL" "$t" "$PER_THREAD" 500
            done
        done
        stop_pg; PGDIR=""
    fi
fi

if [ "$mode" = query ] || [ "$mode" = all ]; then
    DB="$DATA/query-$EVENTS.db"
    if [ ! -f "$DB" ]; then
        # The store makes its schema; bench/console-store-seed.sql fills it
        # by SQL (minutes; the ingestion path is measured above).  LOAD=api
        # loads through bw_store_add_events instead (batches of 5000).
        echo "## loading $EVENTS events over 30 days into SQLite (${LOAD:-sql})"
        if [ "${LOAD:-sql}" = api ]; then
            "$BIN" load "$DB" "$EVENTS" 30
        else
            "$BIN" ingest "$DB" 1 1 >/dev/null
            sqlite3 "$DB" "DELETE FROM events; DELETE FROM rollup_h; DELETE FROM rollup_d; UPDATE counters SET n = 0"
            start=$(date +%s)
            sed "s/@N@/$EVENTS/g; s/@END@/$(( $(date +%s) * 1000000 ))/g" bench/console-store-seed.sql | sqlite3 "$DB"
            echo "seeded in $(( $(date +%s) - start )) s"
        fi
    fi
    echo "## SQLite size: $(du -sh "$DB" | cut -f1)"
    echo "## queries, $RUNS runs each (pages of 100 rows)"
    "$BIN" query "$DB" "$RUNS"
    [ "${KEEP:-0}" = 1 ] || rm -f "$DB" "$DB"-wal "$DB"-shm
fi
