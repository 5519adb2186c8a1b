#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Throughput, start-up and memory comparison of `bulwark scan` with ClamAV's
# clamscan, on one synthetic database and one corpus, in the same run.
#
#   bench/run.sh [BUILD_DIR]        (make bench calls it with the build dir)
#
# Environment:
#   CORPUS=DIR            directory to copy as the corpus (default /usr/bin)
#   BENCH_QUICK=1         only the first 200 files, 3 runs (for development)
#   BENCH_RUNS=N          timed runs per measurement (default 5; medians reported)
#   BENCH_HDB=N BENCH_NDB=N BENCH_SEED=S   database shape (300000, 20000, 20240601)
#   BENCH_CLAMSCAN_ONLY=1 measure clamscan alone (when bulwark is not built yet)
#   BENCH_WORK=DIR        scratch directory (default bench/work, gitignored)
#
# Why it is built this way:
# - Both engines scan the same files with the same signatures, with limits
#   raised so that neither skips a big file, and limit hits reported as
#   findings (clamscan --alert-exceeds-max; bulwark prints non-CLEAN verdicts),
#   so a skipped file cannot pass for a fast one.
# - Markers planted into the corpus (gen-db.py) must be found by both engines
#   in every timed run, and nothing else may be reported: otherwise the run
#   fails loudly (exit 1), since the speed of a scanner that misses things
#   means nothing.
# - The page cache cannot be dropped reliably on a shared machine, so the
#   corpus is read once before timing and every run scans from memory; runs of
#   the engines are interleaved so that noise from other tenants hits all of
#   them alike.
# - Wall time is taken with date +%s%N around /usr/bin/time, which supplies
#   the peak RSS (%M); its own fork/exec adds about a millisecond.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
BULWARK="$BUILD/bulwark"
WORK=${BENCH_WORK:-$ROOT/bench/work}
SRC=${CORPUS:-/usr/bin}
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then RUNS=${BENCH_RUNS:-3}; LIMIT=200; else RUNS=${BENCH_RUNS:-5}; LIMIT=0; fi
HDB=${BENCH_HDB:-300000}
NDB=${BENCH_NDB:-20000}
SEED=${BENCH_SEED:-20240601}
CLAM_ONLY=${BENCH_CLAMSCAN_ONLY:-0}
JOBS=$(nproc)
MAXSZ=400M

DB="$WORK/db"
CORP="$WORK/corpus"
TMPD="$WORK/tmp"
RES="$WORK/results"
FAILS=0

die() { echo "bench: $*" >&2; exit 2; }
fail() { echo "bench: FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

command -v clamscan >/dev/null || die "clamscan not installed (apt-get install clamav)"
[ -x /usr/bin/time ] || die "/usr/bin/time missing (apt-get install time)"
command -v python3 >/dev/null || die "python3 missing"
if [ "$CLAM_ONLY" != 1 ] && [ ! -x "$BULWARK" ]; then
    die "$BULWARK not built (run 'make build', or BENCH_CLAMSCAN_ONLY=1)"
fi
[ -d "$SRC" ] || die "corpus source $SRC is not a directory"

mkdir -p "$WORK" "$TMPD" "$RES"
rm -f "$RES"/*

# ---- database (regenerated only when its parameters or the generator change)
stamp="seed=$SEED hdb=$HDB ndb=$NDB gen=$(md5sum < "$ROOT/bench/gen-db.py" | cut -c1-32)"
if [ "$(cat "$WORK/db.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -f "$DB/bench.ndb" ]; then
    rm -rf "$DB"
    python3 "$ROOT/bench/gen-db.py" db --out "$DB" --markers "$WORK/markers.json" \
        --hdb "$HDB" --ndb "$NDB" --seed "$SEED" || die "database generation failed"
    echo "$stamp" > "$WORK/db.stamp"
fi
EXPECT_SIGS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["signatures"])' "$WORK/markers.json")

# ---- corpus: always rebuilt, so the planted markers are in a known state
rm -rf "$CORP"
mkdir -p "$CORP"
python3 "$ROOT/bench/gen-db.py" corpus --src "$SRC" --dest "$CORP" --limit "$LIMIT" ||
    die "corpus copy failed"
python3 "$ROOT/bench/gen-db.py" plant --markers "$WORK/markers.json" --corpus "$CORP" \
    --expected "$WORK/expected.txt" || die "planting markers failed"
CORP_FILES=$(find "$CORP" -type f | wc -l)
CORP_BYTES=$(find "$CORP" -type f -printf '%s\n' | awk '{s += $1} END {printf "%d", s}')
DB_BYTES=$(cat "$DB"/* | wc -c)
# The one warm-up read: every later run scans from the page cache.
find "$CORP" -type f -exec cat {} + > /dev/null
printf 'x\n' > "$TMPD/tiny.txt"

# ---- measurement helpers -----------------------------------------------------
# measure NAME CMD...: runs CMD once; appends wall microseconds and peak RSS
# (KiB) to $RES/NAME.wall / .rss; output in $TMPD/NAME.out/.err; sets RC.
measure() {
    local name=$1 t0 t1
    shift
    t0=$(date +%s%N)
    /usr/bin/time -f %M -o "$TMPD/$name.rss" "$@" > "$TMPD/$name.out" 2> "$TMPD/$name.err"
    RC=$?
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000)) >> "$RES/$name.wall"
    tail -n 1 "$TMPD/$name.rss" >> "$RES/$name.rss"
}

median() { # file -> median (integer)
    sort -n "$1" | awk '{v[NR] = $1} END {
        if (NR == 0) { print "NA"; exit }
        if (NR % 2) printf "%d\n", v[(NR + 1) / 2]; else printf "%d\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# check_found NAME LABEL: compares the FOUND lines of $TMPD/NAME.out with
# expected.txt.  Lines look like "PATH: SIGNAME FOUND" (clamscan appends
# ".UNOFFICIAL" to names from unsigned databases; bulwark may append
# " [inner/path]" for findings inside containers).  Any other non-OK line
# printed under -i (bulwark's "PATH: STATUS NAME", errors) is unexpected too.
check_found() {
    local name=$1 label=$2
    python3 - "$TMPD/$name.out" "$WORK/expected.txt" "$CORP/" "$label" <<'EOF' || fail "$label: findings differ from the planted markers (see above)"
import re, sys
out, exp, corp, label = sys.argv[1:5]
want = set(tuple(l.rstrip("\n").split("\t")) for l in open(exp) if l.strip())
got, odd = set(), []
for line in open(out, errors="replace"):
    line = line.rstrip("\n")
    if not line:
        continue
    m = re.match(r"^(.*): (\S+) FOUND( \[.*\])?$", line)
    if not m:
        odd.append(line)
        continue
    path, sig = m.group(1), m.group(2)
    if sig.endswith(".UNOFFICIAL"):
        sig = sig[: -len(".UNOFFICIAL")]
    if path.startswith(corp):
        path = path[len(corp):]
    got.add((path, sig))
ok = True
for p, s in sorted(want - got):
    print("%s: MISSED %s in %s" % (label, s, p)); ok = False
for p, s in sorted(got - want):
    print("%s: UNEXPECTED %s in %s" % (label, s, p)); ok = False
for l in odd[:20]:
    print("%s: UNEXPECTED line: %s" % (label, l)); ok = False
sys.exit(0 if ok else 1)
EOF
}

CLAM=(clamscan --no-summary -i -d "$DB" "--max-filesize=$MAXSZ" "--max-scansize=$MAXSZ"
      --max-scantime=3600000 --alert-exceeds-max=yes)
BW=("$BULWARK" scan -d "$DB" -i --no-summary --no-progress --max-filesize "$MAXSZ"
    --max-scansize "$MAXSZ" --max-scantime 3600000)

echo "bench: database $HDB MD5 + $NDB body signatures (+10 markers) = $EXPECT_SIGS, $((DB_BYTES / 1048576)) MiB"
echo "bench: corpus $CORP_FILES files, $(awk -v b="$CORP_BYTES" 'BEGIN {printf "%.1f", b / 1048576}') MiB (copy of $SRC, symlinks followed, each file once)"
echo "bench: $RUNS runs each; bulwark -j $JOBS and -j 1; $(date -u +%Y-%m-%dT%H:%MZ)"

# ---- signature counts: both engines must load every signature ----------------
clamscan -d "$DB" "$TMPD/tiny.txt" > "$TMPD/count-clam.out" 2>&1
n=$(sed -n 's/^Known viruses: //p' "$TMPD/count-clam.out")
echo "bench: clamscan loads $n signatures"
[ "$n" = "$EXPECT_SIGS" ] || { cat "$TMPD/count-clam.out" >&2; fail "clamscan loaded '$n' signatures, expected $EXPECT_SIGS"; }
grep -q "LibClamAV Error\|^ERROR" "$TMPD/count-clam.out" && fail "clamscan reported errors loading the database"
if [ "$CLAM_ONLY" != 1 ]; then
    rm -rf "$TMPD/cache-count" && mkdir -p "$TMPD/cache-count"
    "$BULWARK" scan -d "$DB" --cache-dir "$TMPD/cache-count" "$TMPD/tiny.txt" > "$TMPD/count-bw.out" 2>&1
    n=$(sed -n 's/^Known signatures: //p' "$TMPD/count-bw.out")
    echo "bench: bulwark loads $n signatures"
    [ "$n" = "$EXPECT_SIGS" ] || { cat "$TMPD/count-bw.out" >&2; fail "bulwark loaded '$n' signatures, expected $EXPECT_SIGS"; }
fi

# ---- start-up: load the database and scan one tiny file ----------------------
if [ "$CLAM_ONLY" != 1 ]; then
    rm -rf "$TMPD/cache-warm" && mkdir -p "$TMPD/cache-warm"
    "${BW[@]}" --cache-dir "$TMPD/cache-warm" "$TMPD/tiny.txt" > /dev/null 2>&1 # fills the cache
fi
for i in $(seq "$RUNS"); do
    measure start-clam "${CLAM[@]}" "$TMPD/tiny.txt"
    [ "$RC" = 0 ] || { cat "$TMPD/start-clam.err" >&2; fail "clamscan start-up run exited $RC"; }
    if [ "$CLAM_ONLY" != 1 ]; then
        rm -rf "$TMPD/cache-cold" && mkdir -p "$TMPD/cache-cold"
        measure start-bw-cold "${BW[@]}" --cache-dir "$TMPD/cache-cold" "$TMPD/tiny.txt"
        [ "$RC" = 0 ] || { cat "$TMPD/start-bw-cold.err" >&2; fail "bulwark cold start-up run exited $RC"; }
        measure start-bw-warm "${BW[@]}" --cache-dir "$TMPD/cache-warm" "$TMPD/tiny.txt"
        [ "$RC" = 0 ] || { cat "$TMPD/start-bw-warm.err" >&2; fail "bulwark warm start-up run exited $RC"; }
    fi
done

# ---- full scans, interleaved -------------------------------------------------
for i in $(seq "$RUNS"); do
    measure scan-clam "${CLAM[@]}" -r "$CORP"
    [ "$RC" = 1 ] || { head -20 "$TMPD/scan-clam.err" >&2; fail "clamscan run $i exited $RC (1 expected: markers found)"; }
    check_found scan-clam "clamscan run $i"
    echo "bench: run $i clamscan $(tail -1 "$RES/scan-clam.wall") us"
    if [ "$CLAM_ONLY" != 1 ]; then
        measure scan-bw "${BW[@]}" --cache-dir "$TMPD/cache-warm" -j "$JOBS" -r "$CORP"
        [ "$RC" = 1 ] || { head -20 "$TMPD/scan-bw.err" >&2; fail "bulwark -j $JOBS run $i exited $RC (1 expected)"; }
        check_found scan-bw "bulwark -j $JOBS run $i"
        measure scan-bw1 "${BW[@]}" --cache-dir "$TMPD/cache-warm" -j 1 -r "$CORP"
        [ "$RC" = 1 ] || { head -20 "$TMPD/scan-bw1.err" >&2; fail "bulwark -j 1 run $i exited $RC (1 expected)"; }
        check_found scan-bw1 "bulwark -j 1 run $i"
        echo "bench: run $i bulwark -j $JOBS $(tail -1 "$RES/scan-bw.wall") us, -j 1 $(tail -1 "$RES/scan-bw1.wall") us"
    fi
done

# ---- the table ---------------------------------------------------------------
med() { [ -s "$RES/$1" ] && median "$RES/$1" || echo NA; }
python3 - "$CORP_BYTES" "$JOBS" "$RUNS" "$FAILS" "$RES" \
    "$(med scan-clam.wall)" "$(med scan-bw.wall)" "$(med scan-bw1.wall)" \
    "$(med scan-clam.rss)" "$(med scan-bw.rss)" "$(med scan-bw1.rss)" \
    "$(med start-clam.wall)" "$(med start-bw-cold.wall)" "$(med start-bw-warm.wall)" \
    "$(med start-clam.rss)" "$(med start-bw-cold.rss)" "$(med start-bw-warm.rss)" <<'EOF' | tee "$WORK/results.md"
import sys
a = sys.argv[1:]
nbytes, jobs, runs, fails, res = int(a[0]), a[1], a[2], int(a[3]), a[4]
v = [None if x == "NA" else int(x) for x in a[5:]]
sc, sb, sb1, rc, rb, rb1, tc, tcold, twarm, trc, trcold, trwarm = v
mb = nbytes / 1e6

def f(x, fmt):
    return "n/a" if x is None else fmt % x

def ratio(b, c):
    return "n/a" if b is None or c is None or c == 0 else "%.2f" % (b / c)

def mbs(us):
    return None if us is None else mb / (us / 1e6)

def ex(us, start):
    # The scan's own speed: the median start-up (warm cache for bulwark, as
    # the scans use it) taken off the median wall time.
    return None if us is None or start is None or us <= start else mb / ((us - start) / 1e6)

rows = [
    ("scan wall time, s", sc and sc / 1e6, sb and sb / 1e6, sb1 and sb1 / 1e6, "%.2f"),
    ("throughput, MB/s (corpus / wall)", mbs(sc), mbs(sb), mbs(sb1), "%.1f"),
    ("derived: throughput excluding start-up, MB/s (corpus / (wall - median start-up))", ex(sc, tc), ex(sb, twarm),
     ex(sb1, twarm), "%.1f"),
    ("scan peak RSS, MiB", rc and rc / 1024, rb and rb / 1024, rb1 and rb1 / 1024, "%.1f"),
    ("start-up (load DB + 1 tiny file), ms: warm cache", tc and tc / 1e3, twarm and twarm / 1e3, None, "%.1f"),
    ("start-up, ms: cold (empty cache)", tc and tc / 1e3, tcold and tcold / 1e3, None, "%.1f"),
    ("start-up peak RSS, MiB: warm", trc and trc / 1024, trwarm and trwarm / 1024, None, "%.1f"),
    ("start-up peak RSS, MiB: cold", trc and trc / 1024, trcold and trcold / 1024, None, "%.1f"),
]
print()
print("Medians of %s runs; corpus %.1f MB (10^6 bytes). Ratios are bulwark / clamscan." % (runs, mb))
print()
print("| measure | clamscan | bulwark -j %s | ratio | bulwark -j 1 | ratio |" % jobs)
print("|---|---:|---:|---:|---:|---:|")
for name, c, b, b1, fmt in rows:
    print("| %s | %s | %s | %s | %s | %s |" % (name, f(c, fmt), f(b, fmt), ratio(b, c),
                                             f(b1, fmt) if b1 is not None else "", ratio(b1, c) if b1 is not None else ""))
print()

def target(name, ok, detail):
    print("- %s: %s (%s)" % (name, "n/a" if ok is None else ("MET" if ok else "NOT MET"), detail))

t = mbs(sb) / mbs(sc) if sb and sc else None
t1 = mbs(sb1) / mbs(sc) if sb1 and sc else None
target("throughput >= 10x clamscan", None if t is None else t >= 10,
       "bulwark -j %s: %s x, -j 1: %s x" % (jobs, f(t, "%.2f"), f(t1, "%.2f")))
w = tc / twarm if tc and twarm else None
target("warm start >= 10x faster", None if w is None else w >= 10, "%s x faster" % f(w, "%.1f"))
target("peak memory no higher (scan, -j %s)" % jobs, None if rb is None or rc is None else rb <= rc,
       "%s MiB vs %s MiB" % (f(rb and rb / 1024, "%.1f"), f(rc and rc / 1024, "%.1f")))
target("peak memory no higher (scan, -j 1)", None if rb1 is None or rc is None else rb1 <= rc,
       "%s MiB vs %s MiB" % (f(rb1 and rb1 / 1024, "%.1f"), f(rc and rc / 1024, "%.1f")))
print("\nEvery run (wall s / peak RSS MiB):")
for key, label in (("scan-clam", "scan clamscan"), ("scan-bw", "scan bulwark -j " + jobs),
                   ("scan-bw1", "scan bulwark -j 1"), ("start-clam", "start-up clamscan"),
                   ("start-bw-cold", "start-up bulwark cold"), ("start-bw-warm", "start-up bulwark warm")):
    try:
        w = [int(x) / 1e6 for x in open(res + "/" + key + ".wall").read().split()]
        r = [int(x) / 1024 for x in open(res + "/" + key + ".rss").read().split()]
    except (OSError, ValueError):
        continue
    print("- %s: %s" % (label, ", ".join("%.3f/%.1f" % x for x in zip(w, r))))
if fails:
    print("\n**%d check(s) FAILED: the figures above are not valid (see the FAIL lines).**" % fails)
EOF

if [ "$FAILS" -gt 0 ]; then
    echo "bench: $FAILS check(s) failed" >&2
    exit 1
fi
echo "bench: all markers found by every engine in every run; results in $WORK/results.md"
