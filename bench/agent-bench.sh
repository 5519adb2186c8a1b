#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# agent-bench.sh: what on-access protection costs the applications of a
# server, bulwark-agent against Debian's clamonacc + clamd (prevention on),
# on one tree and one database in the same run (issue 13).
#
#   bench/agent-bench.sh [BUILD_DIR]       (as root; default build, uses BUILD_DIR/bulwark-agent)
#
# Environment:
#   AGENT_BENCH_RUNS=N     rounds (default 5; medians reported)
#   AGENT_BENCH_LIB=N      files copied from /usr/lib (default 3000, each < 1 MiB)
#   AGENT_BENCH_SMALL=N    small files for the latency test (default 2000)
#   AGENT_BENCH_WORK=DIR   scratch directory (default bench/work/agent, gitignored)
#   AGENT_BENCH_NO_AGENT=1 measure no protection and clamonacc only (the
#                          agent is not built yet)
#
# What is measured, each under: no protection / Bulwark uncached / Bulwark
# cached (warm) / clamonacc with clamd:
#   (a) latency of open() + read-to-end + close() of each small file
#       (bench/open-lat.c; medians, p99 and means over the files), and
#   (b) the wall time of a file-heavy job: `find LIB -type f -exec cat {} +`
#       over the /usr/lib copy.
# Why it is built this way:
# - "Uncached" means a fresh agent (restarted every round: its verdict cache
#   and its kernel ignore marks go with its fanotify group); "cached" is the
#   second pass over the same files in that agent.  clamonacc keeps no
#   verdicts, so every pass of it is uncached.
# - The page cache is warmed by the unprotected pass of each round, so all
#   modes read from memory and only the protection differs; modes are
#   interleaved in each round so that the other tenants' noise hits all.
# - Planted EICAR files (5 among the small files, 3 in the /usr/lib copy) must
#   be blocked with EPERM in every protected pass and nothing else may fail;
#   otherwise the run stops (exit 1): the speed of a protector that lets
#   things through means nothing.  Unprotected, everything must read.
# - Only the bench's tree is marked: clamonacc's OnAccessIncludePath and the
#   agent's --path are the tree, and the tree is its own tmpfs (here /tmp and
#   /work are on the root filesystem, so a mount or filesystem mark on a plain
#   directory would cover the whole machine); every protector is stopped and
#   the tmpfs unmounted on exit.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$REPO
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
AGENT=$BUILD/bulwark-agent
RUNS=${AGENT_BENCH_RUNS:-5}
NLIB=${AGENT_BENCH_LIB:-3000}
NSMALL=${AGENT_BENCH_SMALL:-2000}
WORK=${AGENT_BENCH_WORK:-$REPO/bench/work/agent}
EICAR_HEX=58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a

[ "$(id -u)" = 0 ] || { echo "agent-bench: needs root (fanotify permission events)" >&2; exit 2; }
NO_AGENT=${AGENT_BENCH_NO_AGENT:-0}
if [ "$NO_AGENT" != 1 ] && [ ! -x "$AGENT" ]; then
    echo "agent-bench: $AGENT is missing (make build, or AGENT_BENCH_NO_AGENT=1)" >&2; exit 2
fi
# shellcheck source=../tests/integration/onacc-lib.sh
. "$REPO/tests/integration/onacc-lib.sh"

BG_PIDS=""
cleanup() {
    onacc_stop "${ONACC_AGENT_PID:-}"
    onacc_stop "${ONACC_PID:-}"
    onacc_stop "${ONACC_CLAMD_PID:-}"
    onacc_umount_tree "$WORK/tree"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

onacc_umount_tree "$WORK/tree"
rm -rf "$WORK"
onacc_mount_tree "$WORK/tree" 512m || { echo "agent-bench: cannot mount a tmpfs for the tree" >&2; exit 2; }
mkdir -p "$WORK/tree/lib" "$WORK/tree/small" "$WORK/db" "$WORK/clamav" "$WORK/agent"
cp "$REPO/db/test"/* "$WORK/db/"
cc -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -O2 -o "$WORK/open-lat" "$REPO/bench/open-lat.c" || exit 2

# ---- the tree ----------------------------------------------------------------
T=$WORK/tree
find /usr/lib -xdev -type f -size -1024k 2>/dev/null | LC_ALL=C sort | head -n "$NLIB" >"$WORK/lib.src"
tar -cf - -T "$WORK/lib.src" 2>/dev/null | tar -xf - -C "$T/lib"
python3 - "$T" "$NSMALL" "$EICAR_HEX" <<'EOF'
import os, random, sys
t, n, eicar = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
rnd = random.Random(13)
small, planted = [], []
for i in range(n):
    d = os.path.join(t, "small", "d%02d" % (i % 20))
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "f%05d.txt" % i)
    with open(p, "wb") as f:
        f.write(bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz \n") for _ in range(rnd.randint(512, 8192))))
    small.append(p)
    if i % (n // 5) == n // 10:            # 5 EICAR files spread over the list
        q = os.path.join(d, "eicar%05d.com" % i)
        open(q, "wb").write(eicar); small.append(q); planted.append(q)
open(os.path.join(t, "..", "small.list"), "w").write("\n".join(small) + "\n")
open(os.path.join(t, "..", "small.planted"), "w").write("\n".join(sorted(planted)) + "\n")
# 3 EICAR files at different depths of the /usr/lib copy
libdirs = sorted(r for r, _, fs in os.walk(os.path.join(t, "lib")) if fs)
lp = []
for k, d in enumerate((libdirs[0], libdirs[len(libdirs) // 2], libdirs[-1])):
    q = os.path.join(d, "zz-planted%d.com" % k)
    open(q, "wb").write(eicar); lp.append(q)
open(os.path.join(t, "..", "lib.planted"), "w").write("\n".join(sorted(lp)) + "\n")
open(os.path.join(t, "probe.com"), "wb").write(eicar)   # readiness probe, in no list
EOF
chmod -R a+rX "$WORK"
NFILES_LIB=$(find "$T/lib" -type f | wc -l)
BYTES_LIB=$(du -sb "$T/lib" | cut -f1)
echo "agent-bench: tree: $NFILES_LIB files ($((BYTES_LIB >> 20)) MiB) from /usr/lib + $(wc -l <"$WORK/small.list") small files; runs $RUNS"

RES=$WORK/results.txt
: >"$RES"
fail() { echo "agent-bench: FAILED: $*" >&2; exit 1; }

# lat MODE RUN: the latency pass; checks what was blocked.
lat() {
    local mode=$1 r=$2 out
    out=$("$WORK/open-lat" "$WORK/small.list" 2>"$WORK/lat.err") || fail "$mode: open-lat: $out"
    if [ "$mode" = none ]; then
        [ -s "$WORK/lat.err" ] && fail "$mode: unprotected reads failed: $(head -3 "$WORK/lat.err")"
    else
        grep -v '^blocked ' "$WORK/lat.err" | grep -q . && fail "$mode: errors: $(grep -v '^blocked ' "$WORK/lat.err" | head -3)"
        [ "$(sed -n 's/^blocked //p' "$WORK/lat.err" | LC_ALL=C sort)" = "$(LC_ALL=C sort "$WORK/small.planted")" ] ||
            fail "$mode: blocked $(grep -c '^blocked ' "$WORK/lat.err") files, not exactly the $(wc -l <"$WORK/small.planted") planted EICAR"
    fi
    echo "$mode $r $out" | tr ' ' '\n' | sed -n 's/^\([a-z0-9_]*\)=\(.*\)$/\1 \2/p' |
        while read -r k v; do echo "lat $mode $k $r $v"; done >>"$RES"
    printf '  %-16s latency: %s\n' "$mode" "$out"
}

# job MODE RUN: the file-heavy job, timed; checks what was blocked.
job() {
    local mode=$1 r=$2 t0 t1 got want
    t0=$(date +%s%N)
    /usr/bin/time -f '%U %S' -o "$WORK/job.time" find "$T/lib" -type f -exec cat {} + >/dev/null 2>"$WORK/job.err"
    t1=$(date +%s%N)
    got=$(sed -n 's/^cat: \(.*\): Operation not permitted$/\1/p' "$WORK/job.err" | LC_ALL=C sort)
    if [ "$mode" = none ]; then
        [ -s "$WORK/job.err" ] && fail "$mode: unprotected job failed: $(head -3 "$WORK/job.err")"
    else
        want=$(LC_ALL=C sort "$WORK/lib.planted")
        [ "$got" = "$want" ] && [ "$(wc -l <"$WORK/job.err")" = "$(wc -l <"$WORK/lib.planted")" ] ||
            fail "$mode: the job was not blocked on exactly the planted EICAR: $(head -5 "$WORK/job.err")"
    fi
    echo "job $mode secs $r $(( (t1 - t0) / 1000000 ))e-3" >>"$RES"
    echo "job $mode cpu $r $(tail -n1 "$WORK/job.time" | awk '{print $1 + $2}')" >>"$RES"
    printf '  %-16s job: %d ms (CPU of find+cat %s s)\n' "$mode" $(( (t1 - t0) / 1000000 )) "$(tail -n1 "$WORK/job.time" | awk '{print $1 + $2}')"
}

# agent_idle PID: until the agent has used no CPU for 0.4 s (at most 30 s):
# the scans and the bookkeeping of the previous pass are over, so a "cached"
# pass is measured alone and not beside the tail of the uncached one (on 2
# shared cores that tail is what a warm job would otherwise wait for).
agent_idle() {
    local prev="" cur end=$((SECONDS + 30)) same=0
    while [ "$SECONDS" -lt "$end" ]; do
        cur=$(cat "/proc/$1/task/"*/stat 2>/dev/null | awk '{s += $14 + $15} END {print s + 0}')
        if [ "$cur" = "$prev" ]; then same=$((same + 1)); [ "$same" -ge 2 ] && return 0; else same=0; fi
        prev=$cur
        sleep 0.2
    done
}

echo "agent-bench: load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
onacc_clamd_start "$WORK/clamav" "$WORK/db" "$T" || exit 2

for r in $(seq 1 "$RUNS"); do
    echo "round $r"
    lat none "$r"
    job none "$r"
    if [ "$NO_AGENT" != 1 ]; then
        onacc_agent_start "$AGENT" "$WORK/agent" "$T" "$WORK/db" "$T/probe.com" || exit 2
        agent_idle "$ONACC_AGENT_PID"
        lat bulwark-uncached "$r"
        agent_idle "$ONACC_AGENT_PID"
        lat bulwark-cached "$r"
        job bulwark-uncached "$r"
        agent_idle "$ONACC_AGENT_PID"
        job bulwark-cached "$r"
        onacc_stop "$ONACC_AGENT_PID"; ONACC_AGENT_PID=
    fi
    onacc_clamonacc_start "$WORK/clamav" "$T/probe.com" || exit 2
    lat clamonacc "$r"
    job clamonacc "$r"
    onacc_stop "$ONACC_PID"; ONACC_PID=
done
echo "agent-bench: load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$RES" <<'EOF'
import collections, statistics, sys
v = collections.defaultdict(list)
for line in open(sys.argv[1]):
    kind, mode, key, _run, val = line.split()
    v[(kind, mode, key)].append(float(val))
modes = [m for m in ("none", "bulwark-uncached", "bulwark-cached", "clamonacc") if ("job", m, "secs") in v]
med = lambda k: statistics.median(v[k]) if k in v else None
print("\n| mode | open+read median µs | p99 µs | mean µs | job (find -exec cat) wall s | job CPU s (find+cat) |")
print("|---|---:|---:|---:|---:|---:|")
for m in modes:
    print("| %s | %.1f | %.1f | %.1f | %.2f | %.2f |" % (m, med(("lat", m, "median_us")), med(("lat", m, "p99_us")),
          med(("lat", m, "mean_us")), med(("job", m, "secs")), med(("job", m, "cpu"))))
# the same ratio taken within each round (both passes a few seconds apart, so
# the other tenants' load drifts less between them), then the median
def paired(k1, k2):
    r = [a / b for a, b in zip(v[k1], v[k2]) if b > 0]
    return "%+.1f%%" % (100.0 * (statistics.median(r) - 1)) if r else "-"
n = med(("lat", "none", "median_us")); nm = med(("lat", "none", "mean_us")); nj = med(("job", "none", "secs"))
def pct(a, b): return "%+.1f%%" % (100.0 * (a - b) / b) if b > 0 else "-"
print()
if "bulwark-cached" in modes:
    c = med(("lat", "bulwark-cached", "median_us")); cm = med(("lat", "bulwark-cached", "mean_us"))
    print("cached open+read vs none: median %s, mean %s; per-round median ratio %s (target < +10%%)"
          % (pct(c, n), pct(cm, nm), paired(("lat", "bulwark-cached", "median_us"), ("lat", "none", "median_us"))))
    print("job, warm cache vs none: wall %s, per-round %s; CPU of find+cat %s (target < +25%%)"
          % (pct(med(("job", "bulwark-cached", "secs")), nj), paired(("job", "bulwark-cached", "secs"), ("job", "none", "secs")),
             pct(med(("job", "bulwark-cached", "cpu")), med(("job", "none", "cpu")))))
    bu, ca = med(("job", "bulwark-uncached", "secs")), med(("job", "clamonacc", "secs"))
    print("uncached job: clamonacc / Bulwark = %.1fx wall time; overhead over none %.2f s / %.2f s = %.1fx (target >= 5x)"
          % (ca / bu, ca - nj, bu - nj, (ca - nj) / max(bu - nj, 1e-3)))
    print("uncached open+read median: clamonacc / Bulwark = %.1fx" % (med(("lat", "clamonacc", "median_us")) / med(("lat", "bulwark-uncached", "median_us"))))
print("clamonacc vs none: open+read median %s, job %s" % (pct(med(("lat", "clamonacc", "median_us")), n), pct(med(("job", "clamonacc", "secs")), nj)))
EOF
