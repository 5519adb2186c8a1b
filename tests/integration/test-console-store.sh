#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The console's store against real engines: a temporary PostgreSQL cluster
# (Debian's postgresql, on a free loopback port, a role with a password that
# owns its database, as docs/console-storage.md tells users to set it up)
# and SQLite; the same unit cases run against both
# (build/tests/test-console-store, one TAP line per engine and case).
# The cluster is stopped and removed on any exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/icap-lib.sh"
BUILD=${BUILD:-build}
UNIT="$ROOT/$BUILD/tests/test-console-store"
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}

if [ ! -x "$UNIT" ]; then notok "console-store: $UNIT not built"; exit 1; fi
if [ ! -x "$PGBIN/initdb" ]; then notok "console-store: no PostgreSQL (apt-get install postgresql)"; exit 1; fi

PGDIR="$TMP/pg"
mkdir -p "$PGDIR"
# initdb refuses to run as root: the cluster then belongs to postgres.
if [ "$(id -u)" = 0 ]; then
    chown postgres: "$PGDIR"; chmod 700 "$PGDIR"
    chmod 755 "$TMP"
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi
stop_pg() {
    as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1
    rm -rf "$TMP"
}
trap stop_pg EXIT

PORT=$(free_port)
if ! as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >"$PGDIR/initdb.log" 2>&1; then
    notok "console-store: initdb"; sed 's/^/    /' "$PGDIR/initdb.log" | tail -20; exit 1
fi
if ! as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 120 \
        -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$PGDIR -c fsync=off" \
        start >/dev/null 2>&1; then
    notok "console-store: PostgreSQL start"; tail -20 "$PGDIR/server.log" | sed 's/^/    /'; exit 1
fi
ok "console-store: temporary PostgreSQL cluster on 127.0.0.1:$PORT"

# The set-up of docs/console-storage.md: a role with a password, owning its
# database; no superuser (pg_trgm is a trusted extension).
psql_su() { as_pg "$PGBIN/../bin/psql" -h "$PGDIR" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
PSQL=$(command -v psql || echo "$PGBIN/psql")
psql_su() { as_pg "$PSQL" -h "$PGDIR" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
check "console-store: role and database created" psql_su -d postgres \
    -c "CREATE ROLE bwconsole LOGIN PASSWORD 'pw''with;odd chars'" \
    -c "CREATE DATABASE bwconsole OWNER bwconsole"
URL="postgresql://bwconsole:pw%27with%3Bodd%20chars@127.0.0.1:$PORT/bwconsole"

out=$(cd "$ROOT/tests" && BW_TEST_PG_URL="$URL" timeout 500 "$UNIT" 2>"$TMP/unit.err")
rc=$?
printf '%s\n' "$out" | grep -E '^(not )?ok - ' | sed 's/^\(\(not \)\?ok - \)/\1console-store: /'
if [ $rc != 0 ]; then sed 's/^/    /' "$TMP/unit.err" | tail -40; fi
expect_eq "console-store: both engines ran every case" \
    "$(printf '%s\n' "$out" | grep -c '^ok - pg: ')" "$(printf '%s\n' "$out" | grep -c '^ok - sqlite: ')"
expect_match "console-store: PostgreSQL cases ran" "$(printf '%s\n' "$out" | grep -c '^ok - pg: ')" '^[1-9][0-9]*$'

# The schema the store made belongs to the console's role, and SQL
# metacharacters in the filters dropped nothing.
tables=$(psql_su -d bwconsole -c "SELECT string_agg(tablename || ':' || tableowner, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'")
expect_match "console-store: tables owned by the console's role" "$tables" 'events:bwconsole .*users:bwconsole'
expect_eq "console-store: schema version recorded" \
    "$(psql_su -d bwconsole -c 'SELECT MAX(version) FROM schema_version')" "1"

# A wrong password is refused with a message that names the server, not the URL's secret.
out=$(cd "$ROOT/tests" && BW_TEST_PG_URL="postgresql://bwconsole:wrong@127.0.0.1:$PORT/bwconsole" \
      BW_TEST_STORE=pg T_ONLY=opens_and_migrates timeout 60 "$UNIT" 2>&1)
expect_match "console-store: wrong password refused clearly" "$out" 'password authentication failed'
