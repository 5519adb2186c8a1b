#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# shellcheck disable=SC2317  # cleanup runs from the trap
# clamd-bench.sh: bulwarkd's clamd protocol against Debian's real clamd, with
# the same database, in the same run: INSTREAM requests/s at 15 KB and MB/s at
# 10 MB (the targets of issue 5: >= 4x and >= 3x clamd).
#
#   bench/clamd-bench.sh [BUILD_DIR]      (default: build; uses BUILD_DIR/bulwarkd)
#
# - Database: bench/gen-db.py's synthetic one (300,000 MD5 + 20,000 body
#   signatures by default; CLAMD_BENCH_HDB / CLAMD_BENCH_NDB change it) plus
#   EICAR at any offset.  Both servers load the same files.
# - Before timing, each server must report a planted EICAR: at the start of a
#   15 KB object and at the very end of a 10 MB object (so it scanned all of
#   it), and OK for the clean payloads.  The load generator (clamd-load.c)
#   checks every single reply too: a run with a wrong or missing reply posts
#   no figure.
# - Both listen on unix sockets in bench/work/clamd; clamd runs with its
#   defaults (MaxThreads 10) and StreamMaxLength 20M; bulwarkd with
#   MaxChildren = the CPU count.  Rounds alternate clamd and bulwarkd on each
#   point, so noise from other tenants of the machine hits both alike; the
#   table shows medians of the rounds.
#
# Environment: CLAMD_BENCH_RUNS (5), CLAMD_BENCH_SECS (5, per point),
#   CLAMD_BENCH_CONC (8, concurrent clients), CLAMD_BENCH_QUICK=1 (1 run of 2 s).
# Exit status: 0 all checks passed, 1 a check failed, 2 could not run.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
WORK=$REPO/bench/work/clamd
RUNS=${CLAMD_BENCH_RUNS:-5}
SECS=${CLAMD_BENCH_SECS:-5}
CONC=${CLAMD_BENCH_CONC:-8}
if [ "${CLAMD_BENCH_QUICK:-0}" = 1 ]; then RUNS=1; SECS=2; fi
CLAMD=${CLAMD:-/usr/sbin/clamd}
EICAR_HEX=58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a

for t in "$CLAMD" "$BUILD/bulwarkd" python3 cc; do
    command -v "$t" >/dev/null 2>&1 || [ -x "$t" ] || { echo "clamd-bench: $t is missing" >&2; exit 2; }
done
rm -rf "$WORK"
mkdir -p "$WORK/db" "$WORK/data"
PIDS=""
cleanup() {
    local p
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.5
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -O2 -pthread \
   -o "$WORK/clamd-load" "$REPO/bench/clamd-load.c" || exit 2

python3 "$REPO/bench/gen-db.py" db --out "$WORK/db" --markers "$WORK/markers.json" \
    --hdb "${CLAMD_BENCH_HDB:-300000}" --ndb "${CLAMD_BENCH_NDB:-20000}" >/dev/null || exit 2
echo "EICAR-Test-File:0:*:$EICAR_HEX" >"$WORK/db/eicar.ndb"

python3 - "$WORK/data" "$EICAR_HEX" <<'EOF'
import os, random, sys
d, eicar = sys.argv[1], bytes.fromhex(sys.argv[2])
r = random.Random(20251123)
small, big = r.randbytes(15 * 1024), r.randbytes(10 * 1024 * 1024)
open(os.path.join(d, "clean-15k.bin"), "wb").write(small)
open(os.path.join(d, "clean-10m.bin"), "wb").write(big)
open(os.path.join(d, "eicar-15k.bin"), "wb").write(eicar + small[len(eicar):])
open(os.path.join(d, "eicar-10m-end.bin"), "wb").write(big[:-len(eicar)] + eicar)
EOF

cat >"$WORK/clamd.conf" <<EOF
Foreground yes
LocalSocket $WORK/clamd.sock
DatabaseDirectory $WORK/db
TemporaryDirectory $WORK
LogFile $WORK/clamd.log
PidFile $WORK/clamd.pid
User root
StreamMaxLength 20M
SelfCheck 0
EOF
NCPU=$(nproc)
# bulwarkd always has an ICAP listener; this benchmark does not use it, so it
# takes a port that is free now (port 0 is refused since ports are checked).
ICAP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/bulwark.conf" <<EOF
[path]
BasesPath = $WORK/db
CacheDir = $WORK/cache
PidFile =
ControlSocket =
[icapserver.network]
ListenAddress = 127.0.0.1:$ICAP_PORT
[icapserver.process]
MaxChildren = $NCPU
User =
[clamd]
LocalSocket = $WORK/bulwark.sock
StreamMaxLength = 20M
EOF
mkdir -p "$WORK/cache"

t0=$(date +%s.%N)
"$CLAMD" -c "$WORK/clamd.conf" >"$WORK/clamd.out" 2>&1 &
PIDS="$PIDS $!"
"$BUILD/bulwarkd" -c "$WORK/bulwark.conf" -f 2>"$WORK/bulwarkd.log" &
PIDS="$PIDS $!"
ping_ok() { python3 "$REPO/tests/integration/clamd-client.py" "$1" ping 2>/dev/null | grep -q PONG; }
for s in clamd bulwark; do
    ok=0
    for _ in $(seq 1 1200); do ping_ok "$WORK/$s.sock" && { ok=1; break; }; sleep 0.1; done
    [ "$ok" = 1 ] || { echo "clamd-bench: $s did not start" >&2; tail -5 "$WORK/$s"*.out "$WORK/$s"*.log 2>/dev/null; exit 2; }
    echo "$s ready after $(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo '?') s"
done

fail=0
load() { # SERVER FILE EXPECT SECS
    "$WORK/clamd-load" --addr "$WORK/$1.sock" --file "$WORK/data/$2" --expect "$3" --conc "$CONC" --secs "$4"
}
for s in clamd bulwark; do
    # (clamd appends .UNOFFICIAL to names from unsigned databases)
    for f in "eicar-15k.bin:stream: EICAR-Test-File*FOUND" "eicar-10m-end.bin:stream: EICAR-Test-File*FOUND" \
             "clean-15k.bin:stream: OK" "clean-10m.bin:stream: OK"; do
        out=$(CLAMD_CLIENT_TIMEOUT=120 python3 "$REPO/tests/integration/clamd-client.py" "$WORK/$s.sock" instream "$WORK/data/${f%%:*}")
        # shellcheck disable=SC2254
        case $out in
        ${f#*:}) echo "check: $s ${f%%:*}: $out" ;;
        *) echo "CHECK FAILED: $s ${f%%:*}: '$out', want '${f#*:}'"; fail=1 ;;
        esac
    done
done
[ "$fail" = 0 ] || exit 1

: >"$WORK/raw.txt"
for r in $(seq 1 "$RUNS"); do
    for point in "clean-15k.bin:stream: OK" "clean-10m.bin:stream: OK"; do
        f=${point%%:*}; exp=${point#*:}
        for s in clamd bulwark; do
            line=$(load "$s" "$f" "$exp" "$SECS") || { echo "LOAD FAILED: $s $f: $line"; fail=1; }
            echo "run $r $s $f $line" | tee -a "$WORK/raw.txt"
        done
    done
done
[ "$fail" = 0 ] || exit 1

python3 - "$WORK/raw.txt" "$RUNS" "$SECS" "$CONC" <<'EOF' | tee "$WORK/results.md"
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def vals(server, f, key):
    out = []
    for r in rows:
        if r[2] == server and r[3] == f:
            out.append(float(r[r.index(key) + 1]))
    return out
print("| point | clamd | bulwarkd | ratio | target |")
print("|---|---|---|---|---|")
for f, key, unit, target in (("clean-15k.bin", "reqs_per_s", "req/s", 4), ("clean-10m.bin", "mb_per_s", "MB/s", 3)):
    c, b = vals("clamd", f, key), vals("bulwark", f, key)
    mc, mb = statistics.median(c), statistics.median(b)
    print("| INSTREAM %s, %s | %.1f | %.1f | %.2fx | >= %dx %s |" % (
        f.split("-")[1].split(".")[0].upper(), unit, mc, mb, mb / mc, target, "met" if mb / mc >= target else "NOT met"))
print()
print("Medians of %s runs of %s s each, %s concurrent clients, unix sockets." % (sys.argv[2], sys.argv[3], sys.argv[4]))
EOF
exit 0
