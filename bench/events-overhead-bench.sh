#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# events-overhead-bench.sh: what the event stream costs bulwarkd's ICAP
# throughput.  Three bulwarkd, identical but for [events]:
#   off    Enable = no
#   on     Enable = yes, Clean = no   (an event per detection only: the default)
#   clean  Enable = yes, Clean = yes  (an event per object: the worst case)
# all up at once, measured in interleaved rounds (off, on, clean, off, ...) with
# bench/icap-load (the ICAP bench's load generator): 15 KB objects as Squid
# sends them (preview, Allow: 204), one EICAR object every 100, 8 connections.
# The figure is the median requests/s of the rounds.
#
#   bench/events-overhead-bench.sh [BUILD_DIR]     (default: build)
# Environment: EV_BENCH_RUNS (5), EV_BENCH_DURATION (6 s), EV_BENCH_CONNS (8),
#   EV_BENCH_WORKERS (2: MaxChildren),
#   EV_BENCH_OLD=/path/to/an/older/bulwarkd: a fourth server, "clean-old", that
#   binary with Clean = yes, in the same interleaved rounds (before/after on
#   the same machine state: this machine's load swings more than the effect)
# Before timing, each server must block a planted EICAR object (and the two
# with events must have written its detection event): all three really scan.
# Exit: 0 figures valid, 1 a check failed, 2 could not run.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
RUNS=${EV_BENCH_RUNS:-5}
DUR=${EV_BENCH_DURATION:-6}
CONNS=${EV_BENCH_CONNS:-8}
WORKERS=${EV_BENCH_WORKERS:-2}
WORK=$(mktemp -d /tmp/bw-evbench.XXXXXX)
PIDS=""
cleanup() { local p; for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done; sleep 0.5
            for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$WORK"; }
trap cleanup EXIT
die() { echo "events-overhead-bench: $*" >&2; exit 2; }
[ -x "$BUILD/bulwarkd" ] || die "no $BUILD/bulwarkd (make build)"
OLD=${EV_BENCH_OLD:-}
VARIANTS="off on clean"
if [ -n "$OLD" ]; then
    [ -x "$OLD" ] || die "EV_BENCH_OLD: $OLD is not an executable"
    VARIANTS="off on clean clean-old"
fi
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
make -s -C "$REPO/bench" icap-load OUT="$WORK" >/dev/null || die "building icap-load failed"
LOAD=$WORK/icap-load
EICAR=58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# the bundled test database, plus EICAR matched anywhere (icap-load plants its
# marker near the end of the object; the bundled EICAR must start it)
mkdir -p "$WORK/db"; cp "$REPO"/db/test/* "$WORK/db/"
echo "Bench-EICAR-Anywhere:0:*:$EICAR" > "$WORK/db/bench.ndb"
declare -A PORT
for v in $VARIANTS; do
    PORT[$v]=$(free_port)
    case $v in off) ev="Enable = no" ;; on) ev="Enable = yes
Clean = no" ;; clean|clean-old) ev="Enable = yes
Clean = yes" ;; esac
    cat > "$WORK/$v.conf" <<CONF
[path]
BasesPath = $WORK/db
ControlSocket = $WORK/$v.ctl
PidFile = $WORK/$v.pid
[icapserver.network]
ListenAddress = 127.0.0.1:${PORT[$v]}
[icapserver.process]
MaxChildren = $WORKERS
User =
[icapserver.protocol]
MaxConnections = 1000
Allow204 = yes
[icapserver.notify]
NotifyTemplateDir = $REPO/conf/templates
[events]
$ev
SpoolDirectory = $WORK/spool-$v
MaxSpoolSize = 1G
CONF
    bin=$BUILD/bulwarkd; [ $v = clean-old ] && bin=$OLD
    "$bin" -c "$WORK/$v.conf" -f > "$WORK/$v.log" 2>&1 &
    PIDS="$PIDS $!"
done
for v in $VARIANTS; do
    for _ in $(seq 100); do
        "$LOAD" --host 127.0.0.1 --port "${PORT[$v]}" --service avscan --requests 1 --conns 1 \
            --size 1k --timeout 5 >/dev/null 2>&1 && break
        sleep 0.2
    done
done
ok=1
for v in $VARIANTS; do
    out=$("$LOAD" --host 127.0.0.1 --port "${PORT[$v]}" --service avscan --requests 2 --conns 1 \
          --size 15k --marker-every 2 --marker-hex "$EICAR" --allow204 --preview 1024 --json 2>&1)
    echo "$out" | grep -q '"blocked": 1,' || { echo "FAIL $v: the EICAR object was not blocked: $out"; ok=0; }
    if [ $v != off ]; then
        for _ in $(seq 50); do cat "$WORK/spool-$v"/seg-*.jsonl 2>/dev/null | grep -q '"type":"detection"' && break; sleep 0.1; done
        cat "$WORK/spool-$v"/seg-*.jsonl | grep -q '"type":"detection"' \
            || { echo "FAIL $v: no detection event in the spool"; ok=0; }
    else
        [ -z "$(ls "$WORK/spool-off" 2>/dev/null)" ] || { echo "FAIL off: events written"; ok=0; }
    fi
done
[ $ok = 1 ] && echo "checks ($VARIANTS): every server blocks the planted EICAR; 'on' and 'clean' wrote its detection event; 'off' wrote none"
for run in $(seq "$RUNS"); do
    for v in $VARIANTS; do
        r=$("$LOAD" --host 127.0.0.1 --port "${PORT[$v]}" --service avscan --size 15k --conns "$CONNS" \
            --duration "$DUR" --warmup 1 --preview 1024 --allow204 --seed "$run" \
            --marker-every 100 --marker-hex "$EICAR" --json 2>"$WORK/load.err")
        rps=$(echo "$r" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["rps"] if d["errors"]==0 and d["blocked"]>0 else "bad")' 2>/dev/null)
        [ "$rps" = bad ] || [ -z "$rps" ] && { echo "FAIL $v run $run: $r $(head -2 "$WORK/load.err")"; ok=0; rps=0; }
        echo "$v $run $rps" >> "$WORK/results"
        echo "run $run $v: $rps req/s"
    done
done
scans=$(cat "$WORK/spool-clean"/seg-*.jsonl | grep -c '"type":"scan"')
echo "events written by 'clean': $scans scan events"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$WORK/results" <<'PY'
import statistics, sys
r, by_run = {}, {}
for line in open(sys.argv[1]):
    v, run, rps = line.split()
    r.setdefault(v, []).append(float(rps))
    by_run.setdefault(run, {})[v] = float(rps)
m = {v: statistics.median(x) for v, x in r.items()}
print("median req/s: off %.0f  on (Clean = no) %.0f (%+.1f%%)  clean (Clean = yes) %.0f (%+.1f%%)" % (
    m["off"], m["on"], 100 * (m["on"] / m["off"] - 1), m["clean"], 100 * (m["clean"] / m["off"] - 1)))
# the same round's servers share the machine's state: the median of per-round ratios
ron = statistics.median(x["on"] / x["off"] for x in by_run.values())
rcl = statistics.median(x["clean"] / x["off"] for x in by_run.values())
print("median per-round ratio to off: on %+.1f%%  clean %+.1f%%" % (100 * (ron - 1), 100 * (rcl - 1)))
if "clean-old" in m:
    rold = statistics.median(x["clean-old"] / x["off"] for x in by_run.values())
    rco = statistics.median(x["clean"] / x["clean-old"] for x in by_run.values())
    print("clean-old (EV_BENCH_OLD, Clean = yes): median %.0f req/s; per-round ratio to off %+.1f%%; "
          "clean / clean-old per round %+.1f%%" % (m["clean-old"], 100 * (rold - 1), 100 * (rco - 1)))
PY
[ $ok = 1 ] || exit 1
