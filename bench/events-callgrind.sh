#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# events-callgrind.sh: what an event costs a bulwarkd worker, in instructions
# (valgrind --tool=callgrind counts them the same on a loaded machine, where
# the req/s of events-overhead-bench.sh swing by ±25% between rounds).
# For each setting, one bulwarkd with one worker runs under callgrind; after
# a warm-up the counters are zeroed, N requests of 15 KB are sent (preview
# 1024, Allow: 204, an EICAR object every 100), the counters are dumped, and
# the worker's instructions per request are printed.  User-space only: the
# kernel's share of write() is not counted (see events-emit-bench.c for time).
#
#   bench/events-callgrind.sh [BUILD_DIR [N]]          (build, 2000)
# Environment: EV_CG_OLD=/path/to/an/older/bulwarkd adds its `clean` run.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
N=${2:-2000}
WORK=$(mktemp -d /tmp/bw-evcg.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null || { echo "no valgrind" >&2; exit 2; }
make -s -C "$REPO/bench" icap-load OUT="$WORK" >/dev/null || exit 2
LOAD=$WORK/icap-load
EICAR=58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a
mkdir -p "$WORK/db"; cp "$REPO"/db/test/* "$WORK/db/"
echo "Bench-EICAR-Anywhere:0:*:$EICAR" > "$WORK/db/bench.ndb"

one() { # name binary off|clean -> prints "name Ir/request events"
    local name=$1 bin=$2 mode=$3 w=$WORK/$1 port ev
    mkdir -p "$w"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    case $mode in off) ev="Enable = no" ;; clean) ev="Enable = yes
Clean = yes" ;; esac
    cat > "$w/c.conf" <<CONF
[path]
BasesPath = $WORK/db
ControlSocket = $w/ctl
PidFile = $w/pid
[icapserver.network]
ListenAddress = 127.0.0.1:$port
[icapserver.process]
MaxChildren = 1
User =
[icapserver.protocol]
Allow204 = yes
[icapserver.notify]
NotifyTemplateDir = $REPO/conf/templates
[events]
$ev
SpoolDirectory = $w/spool
CONF
    valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$w/cg.%p" \
        "$bin" -c "$w/c.conf" -f > "$w/log" 2>&1 &
    local vp=$! i
    for i in $(seq 300); do
        "$LOAD" --host 127.0.0.1 --port "$port" --service avscan --requests 1 --conns 1 --size 1k \
            --timeout 20 >/dev/null 2>&1 && break
        sleep 1
    done
    "$LOAD" --host 127.0.0.1 --port "$port" --service avscan --requests 50 --conns 1 --size 15k \
        --preview 1024 --allow204 >/dev/null 2>&1
    callgrind_control -z >/dev/null 2>&1
    "$LOAD" --host 127.0.0.1 --port "$port" --service avscan --requests "$N" --conns 2 --size 15k \
        --preview 1024 --allow204 --timeout 60 --marker-every 100 --marker-hex "$EICAR" --json \
        > "$w/load.json" 2>&1
    callgrind_control -d >/dev/null 2>&1
    kill -TERM $vp; wait $vp
    python3 - "$w" "$name" "$N" <<'PY'
import glob, json, os, sys
w, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = json.load(open(w + "/load.json"))
assert d["errors"] == 0 and d["blocked"] == n // 100, d
# the worker is the process that counted the most in the dump after zeroing
ir = max(int(l.split()[1]) for f in glob.glob(w + "/cg.*.1") for l in open(f) if l.startswith("summary:"))
ev = sum(l.count('"type":"scan"') for f in glob.glob(w + "/spool/seg-*") for l in open(f))
print("%-10s %8.0f instructions/request  (%d requests, %d blocked, %d scan events in the spool)"
      % (name, ir / n, n, d["blocked"], ev))
PY
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
one off "$BUILD/bulwarkd" off
one clean "$BUILD/bulwarkd" clean
[ -n "${EV_CG_OLD:-}" ] && one clean-old "$EV_CG_OLD" clean
exit 0
