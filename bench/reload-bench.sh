#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Reload under load: bulwarkd serving the ICAP load generator at full speed,
# first without reloads (steady state), then with a reload every second
# (alternately the configuration and the databases, through `bulwark ctl`;
# before each database reload one signature changes, so the whole database is
# compiled again, as after a real update).
# Reports requests served, failed, retried, p99 latency and peak PSS of all
# bulwarkd processes, for each phase, as medians of RUNS runs.
#
#   bench/reload-bench.sh [BUILD]        (default build)
#   RUNS=3 SECONDS_PER_PHASE=30 DB=db/test CONNS=4 SIZE=15k bench/reload-bench.sh
#   DB=bench/work/db   (the 320,010-signature database bench/gen-db.py makes)
#
# Both phases plant EICAR every 50th request and check every one is blocked,
# so the server really scans throughout.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
RUNS=${RUNS:-3}
SECS=${SECONDS_PER_PHASE:-30}
DB=${DB:-$ROOT/db/test}   # added to the bundled test database (EICAR)
CONNS=${CONNS:-4}
SIZE=${SIZE:-15k}
export BUILD
cd "$ROOT/tests/integration" || exit 2
# shellcheck source=/dev/null
. ./icap-lib.sh >/dev/null
make -s -C "$ROOT/bench" icap-load OUT="$TMP" || exit 2
make_eicar "$TMP/eicar"

# phase CONF PORT RELOAD(0|1) OUT: runs the load, samples PSS, reloads if asked.
phase() {
    local conf=$1 port=$2 reload=$3 out=$4 peak=0 n=0
    "$TMP/icap-load" --port "$port" --service av/respmod --conns "$CONNS" --duration "$SECS" \
        --warmup 1 --size "$SIZE" --marker-every 50 --marker-file "$TMP/eicar" --same-body \
        --json >"$out" 2>"$out.err" &
    local lp=$!
    # Memory is sampled by a loop of its own, so reloads keep their pace.
    ( peak=0; while kill -0 "$lp" 2>/dev/null; do
          v=$(bw_pss_total "$conf"); [ "$v" -gt "$peak" ] && peak=$v && echo "$peak" >"$out.peak"
          sleep 0.1
      done ) &
    local sp=$!
    sleep 1.5
    while kill -0 "$lp" 2>/dev/null; do
        if [ "$reload" = 1 ]; then
            if [ $((n % 2)) = 0 ]; then "$BULWARK" ctl -c "$conf" reload >/dev/null 2>&1
            else
                # A real update: the database changes, so it is compiled anew
                # (not taken from the cache).
                echo "$(head -c 16 /dev/urandom | md5sum | cut -c1-32):99:Bench.Update.$n" \
                    >"$EXTRA/update.hdb"
                "$BULWARK" ctl -c "$conf" reload-bases >/dev/null 2>&1
            fi
            n=$((n + 1))
        fi
        sleep 1
    done
    wait "$lp"
    wait "$sp"
    peak=$(cat "$out.peak" 2>/dev/null || echo 0)
    python3 - "$out" "$peak" "$n" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["peak_pss_kib"] = int(sys.argv[2]); d["reloads"] = int(sys.argv[3])
json.dump(d, open(sys.argv[1], "w"))
EOF
}

for r in $(seq 1 "$RUNS"); do
    port=$(free_port)
    conf="$TMP/bench-$r.conf"
    # The bundled test database always (the EICAR markers), plus DB.
    EXTRA="$TMP/extra-$r"
    mkdir -p "$EXTRA"
    echo "$(head -c 16 /dev/urandom | md5sum | cut -c1-32):99:Bench.Update.0" >"$EXTRA/update.hdb"
    bw_write_conf "$conf" "$port" "path.BasesPath=$ROOT/db/test" "path.BasesPath=$DB" \
        "path.BasesPath=$EXTRA" \
        "icapserver.process.MaxChildren=2" \
        "path.CacheDir=$TMP/cache" "icapserver.report.ReportFileName="
    bw_start "$conf" "$TMP/bw-$r.log" "$port" || exit 2
    phase "$conf" "$port" 0 "$TMP/steady-$r.json"
    phase "$conf" "$port" 1 "$TMP/reload-$r.json"
    bw_stop >/dev/null
done

python3 - "$TMP" "$RUNS" "$DB" "$CONNS" "$SIZE" "$SECS" <<'EOF'
import json, statistics, sys
tmp, runs = sys.argv[1], int(sys.argv[2])
def load(kind):
    return [json.load(open("%s/%s-%d.json" % (tmp, kind, r))) for r in range(1, runs + 1)]
st, rl = load("steady"), load("reload")
def med(rows, k): return statistics.median(r[k] for r in rows)
print("reload under load: db %s, %s conns, %s objects, %s s per phase, median of %d runs"
      % (sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], runs))
print("%-28s %12s %12s %8s" % ("", "steady", "reloading", "ratio"))
for k, label in (("rps", "requests/s"), ("requests", "requests served"), ("errors", "failed requests"),
                 ("retried", "retried (fresh connection)"), ("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"),
                 ("max_ms", "max ms"), ("peak_pss_kib", "peak PSS KiB (all procs)"), ("reloads", "reloads")):
    a, b = med(st, k), med(rl, k)
    ratio = "%.2f" % (b / a) if a else "-"
    print("%-28s %12s %12s %8s" % (label, round(a, 3), round(b, 3), ratio))
ok = all(r["blocked"] == r["markers"] and r["markers"] > 0 for r in st + rl)
print("every planted EICAR blocked in every run: %s" % ("yes" if ok else "NO"))
print("failed requests across all reload runs: %d" % sum(r["errors"] for r in rl))
EOF
