#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# shellcheck disable=SC2317  # functions run from traps and indirectly ("start_$s")
# icap-bench.sh: bulwarkd against c-icap + virus_scan (libclamav), as ICAP
# anti-virus services on loopback, with the same synthetic database, in one run.
#
#   bench/icap-bench.sh [BUILD_DIR]        (default: build; uses BUILD_DIR/bulwarkd)
#
# Why it is built this way (details in bench/icap-README.md):
# - Both servers are started once and stay up; every measurement round runs
#   each point against c-icap and then bulwarkd, so noise from other tenants
#   of the machine hits both alike. An idle ICAP server costs no CPU.
# - Before any timing, each server must block every planted marker (the last
#   entries of the .ndb and .hdb files, and a 10 MB object whose marker is near
#   its end): this proves it loaded the whole database and scans whole objects.
# - c-icap's clamav_mod has no database-directory setting (it calls
#   libclamav's cl_retdbdir(), compiled to /var/lib/clamav), so a 3-line
#   LD_PRELOAD shim built here returns the benchmark directory instead; the
#   system's ClamAV directory is never touched.
# - Every wait is bounded, everything listens on 127.0.0.1 only, and the
#   servers started here are stopped on exit (trap), by their pids.
#
# Environment:
#   ICAP_BENCH_RUNS (5)  ICAP_BENCH_DURATION (8, seconds per point)
#   ICAP_BENCH_QUICK=1   1 run of 3 s per point (a smoke test, about 2 minutes)
#   ICAP_BENCH_CICAP_ONLY=1   only c-icap (also automatic without bulwarkd)
#   ICAP_BENCH_CICAP_PORT (13440)  ICAP_BENCH_BULWARK_PORT (13441)
#   ICAP_BENCH_PREVIEW (1024)  ICAP_BENCH_SEED (20240601)
#   ICAP_BENCH_ANSWER_MODE (complete): bulwarkd's AnswerMode. complete holds
#     the answer until the verdict, as c-icap's mode=simple does, so every
#     marker must get the 403 page; partial streams clean bytes back while
#     scanning, and a late finding cuts the connection, which then counts as
#     a block for bulwarkd (icap-load --cut-ok).
# Exit status: 0 every check passed, 1 a check failed (figures not valid),
# 2 the benchmark could not run.
set -u

REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
WORK=$REPO/bench/work/icap
RUN=$WORK/run
RUNS=${ICAP_BENCH_RUNS:-5}
DUR=${ICAP_BENCH_DURATION:-8}
if [ "${ICAP_BENCH_QUICK:-0}" = 1 ]; then RUNS=1; DUR=3; fi
CICAP_PORT=${ICAP_BENCH_CICAP_PORT:-13440}
BW_PORT=${ICAP_BENCH_BULWARK_PORT:-13441}
PREVIEW=${ICAP_BENCH_PREVIEW:-1024}
SEED=${ICAP_BENCH_SEED:-20240601}
SERVICE=avscan
ANSWER_MODE=${ICAP_BENCH_ANSWER_MODE:-complete}
case $ANSWER_MODE in complete) BW_EXTRA="" ;; partial) BW_EXTRA="--cut-ok" ;;
    *) echo "icap-bench: ICAP_BENCH_ANSWER_MODE must be complete or partial" >&2; exit 2 ;; esac
# name:size:conns:allow204:marker-every:warmup-seconds. 15 KB objects are
# sent as Squid sends small ones (preview + Allow: 204); 1 MB and 10 MB as
# Squid sends big ones (preview, no Allow: 204), so a clean object comes back
# as a 200 echo. Big objects get no warm-up: a request that starts during the
# warm-up is not counted, and one 10 MB request can take seconds.
POINTS="15k-c8:15k:8:1:100:1 15k-c32:15k:32:1:100:1 1m-c4:1m:4:0:20:0 10m-c2:10m:2:0:8:0"

LOAD=$WORK/icap-load
FAILS=0
PIDS_TO_STOP=""
SAMPLER_PID=""

say() { echo "icap-bench: $*"; }
fail() {
    local msg
    msg=$(printf '%s' "$*" | tr '\n' ' ')
    echo "icap-bench: FAIL: $msg"; echo "FAIL: $msg" >> "$RUN/fails.txt"; FAILS=$((FAILS + 1))
}
die() { echo "icap-bench: $*" >&2; exit 2; }

# All descendants of a pid (and the pid), from /proc.
tree_pids() {
    python3 - "$1" <<'EOF'
import os, sys
root = int(sys.argv[1]); kids = {}
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(d))
        except (OSError, IndexError, ValueError):
            pass
out, todo = [], [root]
while todo and len(out) < 100000:
    p = todo.pop(); out.append(p); todo.extend(kids.get(p, []))
print(" ".join(map(str, out)))
EOF
}

stop_server() { # pid: TERM the process we started, then KILL what remains of its tree
    local pid=$1 tree
    kill -0 "$pid" 2>/dev/null || return 0
    tree=$(tree_pids "$pid")
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    for p in $tree; do kill -KILL "$p" 2>/dev/null; done
    wait "$pid" 2>/dev/null
    return 0
}

cleanup() {
    [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
    for p in $PIDS_TO_STOP; do stop_server "$p"; done
}
trap cleanup EXIT
trap 'exit 2' INT TERM

# ---- prerequisites ------------------------------------------------------------
for t in python3 cc make; do command -v $t >/dev/null || die "needs $t"; done
CICAP=$(command -v c-icap) || die "needs c-icap (Debian packages c-icap libc-icap-mod-virus-scan)"
MODDIR=""
for d in /usr/lib/*/c_icap /usr/lib/c_icap /usr/local/lib/c_icap; do
    [ -f "$d/virus_scan.so" ] && [ -f "$d/clamav_mod.so" ] && { MODDIR=$d; break; }
done
[ -n "$MODDIR" ] || die "needs virus_scan.so and clamav_mod.so (Debian package libc-icap-mod-virus-scan)"
TEMPLATES=/usr/share/c_icap/templates
MAGIC=/etc/c-icap/c-icap.magic
[ -f "$MAGIC" ] || die "missing $MAGIC"

SERVERS="cicap"
if [ "${ICAP_BENCH_CICAP_ONLY:-0}" != 1 ]; then
    if [ -x "$BUILD/bulwarkd" ]; then
        SERVERS="cicap bulwarkd"
    else
        say "$BUILD/bulwarkd not found: measuring c-icap only"
    fi
fi

mkdir -p "$WORK" "$RUN"
rm -rf "${RUN:?}"/* "$WORK/tmp"
mkdir -p "$WORK/tmp" "$WORK/markers"
: > "$RUN/fails.txt"
RESULTS=$RUN/results.jsonl
: > "$RESULTS"

make -s -C "$REPO/bench" icap-load OUT="$WORK" >/dev/null || die "building icap-load failed"

cat > "$WORK/clamav-dbdir.c" <<'EOF'
/* LD_PRELOAD shim: clamav_mod loads cl_retdbdir(); point it at the bench DB. */
#include <stdlib.h>
const char *cl_retdbdir(void)
{
    const char *d = getenv("ICAP_BENCH_CLAMAV_DBDIR");
    return d ? d : "/var/lib/clamav";
}
EOF
cc -shared -fPIC -O2 -o "$WORK/clamav-dbdir.so" "$WORK/clamav-dbdir.c" || die "building the shim failed"

# ---- database and markers ----------------------------------------------------
DB=$WORK/db
STAMP="seed=$SEED $(md5sum < "$REPO/bench/gen-db.py")"
if [ ! -f "$DB/bench.hdb" ] || [ "$(cat "$WORK/db.stamp" 2>/dev/null)" != "$STAMP" ]; then
    rm -rf "$DB"
    python3 "$REPO/bench/gen-db.py" db --out "$DB" --markers "$WORK/markers.json" --seed "$SEED" \
        || die "gen-db.py failed"
    echo "$STAMP" > "$WORK/db.stamp"
fi
python3 - "$WORK/markers.json" "$WORK/markers" <<'EOF' || die "reading markers.json failed"
import json, os, sys
m = json.load(open(sys.argv[1])); out = sys.argv[2]
for i, s in enumerate(m["ndb"], 1):
    open(os.path.join(out, "ndb-%d.hex" % i), "w").write(s["bytes"])
for i, s in enumerate(m["hdb"], 1):
    open(os.path.join(out, "hdb-%d.bin" % i), "wb").write(bytes.fromhex(s["bytes"]))
EOF
SIGS=$(( $(wc -l < "$DB/bench.hdb") + $(wc -l < "$DB/bench.ndb") ))
say "database: $SIGS signatures in $DB"

# ---- process sampler -----------------------------------------------------------
# Peak RSS and PSS summed over a server's process tree, the largest single
# process, and the CPU time the tree used, until SIGTERM (or 30 minutes).
cat > "$WORK/procstat.py" <<'EOF'
import json, os, signal, sys, time
# argv: root-pid out-file [once | delay-seconds]. The delay skips the load
# generator's warm-up, so that CPU is measured over the counted window.
root, out = int(sys.argv[1]), sys.argv[2]
once = len(sys.argv) > 3 and sys.argv[3] == "once"
delay = float(sys.argv[3]) if len(sys.argv) > 3 and not once else 0.0
tck = os.sysconf("SC_CLK_TCK")
def tree():
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    kids.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [root]
    while todo and len(out) < 10000:
        p = todo.pop(); out.append(p); todo.extend(kids.get(p, []))
    return out
def sample():
    rss = pss = top = n = 0; cpu = 0.0
    for p in tree():
        try:
            with open("/proc/%d/stat" % p) as f:
                st = f.read().rsplit(")", 1)[1].split()
            cpu += sum(int(x) for x in st[11:15]) / tck
            r = 0
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Rss:"): r = int(line.split()[1])
                    elif line.startswith("Pss:"): pss += int(line.split()[1])
            rss += r; top = max(top, r); n += 1
        except (OSError, ValueError, IndexError):
            pass
    return rss, pss, top, n, cpu
def busy():  # machine-wide busy CPU seconds, to see other tenants' load
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - (v[4] if len(v) > 4 else 0)) / tck
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
t_start = time.time()
while not stop and time.time() - t_start < delay:
    time.sleep(0.05)
b0 = busy(); first = sample(); peak = list(first); last = first; t0 = time.time()
while not once and not stop and time.time() - t0 < 1800:
    time.sleep(0.25)
    s = sample()
    if s[3] == 0: break
    last = s
    for i in range(4): peak[i] = max(peak[i], s[i])
json.dump({"rss_kb": peak[0], "pss_kb": peak[1], "max_proc_rss_kb": peak[2], "procs": peak[3],
           "cpu_s": round(last[4] - first[4], 3), "machine_busy_s": round(busy() - b0, 3)},
          open(out, "w"))
EOF

# ---- servers ---------------------------------------------------------------------
port_free() {
    python3 -c "import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', int(sys.argv[1])))" "$1" 2>/dev/null
}

start_cicap() {
    port_free "$CICAP_PORT" || die "port $CICAP_PORT is in use (set ICAP_BENCH_CICAP_PORT)"
    # 2 children x 40 threads: one thread per keep-alive connection is c-icap's
    # model, so 80 threads serve the 32-connection point without queueing.
    # No size limits and no early sending, so that every object is scanned
    # whole before the answer (the markers check it).
    cat > "$RUN/c-icap.conf" <<EOF
PidFile $RUN/c-icap.pid
CommandsSocket $RUN/c-icap.ctl
Port 127.0.0.1:$CICAP_PORT
Timeout 300
MaxKeepAliveRequests 0
KeepAliveTimeout 600
StartServers 2
MaxServers 2
MinSpareThreads 1
MaxSpareThreads 80
ThreadsPerChild 40
MaxRequestsPerChild 0
TmpDir $WORK/tmp
MaxMemObject 131072
DebugLevel 1
Pipelining on
ModulesDir $MODDIR
ServicesDir $MODDIR
TemplateDir $TEMPLATES/
TemplateDefaultLanguage en
LoadMagicFile $MAGIC
ServerLog $RUN/c-icap-server.log
Module common clamav_mod.so
clamav_mod.MaxScanSize 0
clamav_mod.MaxFileSizeInArchive 0
clamav_mod.TmpDir $WORK/tmp
Service antivirus_module virus_scan.so
ServiceAlias $SERVICE virus_scan?allow204=on&sizelimit=off&mode=simple
virus_scan.ScanFileTypes TEXT DATA EXECUTABLE ARCHIVE GIF JPEG MSOFFICE
virus_scan.SendPercentData 0
virus_scan.StartSendPercentDataAfter 0
virus_scan.MaxObjectSize 1000M
virus_scan.DefaultEngine clamav
EOF
    ICAP_BENCH_CLAMAV_DBDIR=$DB LD_PRELOAD=$WORK/clamav-dbdir.so \
        "$CICAP" -N -f "$RUN/c-icap.conf" > "$RUN/c-icap.out" 2>&1 &
    CICAP_PID=$!
    PIDS_TO_STOP="$PIDS_TO_STOP $CICAP_PID"
}

start_bulwarkd() {
    port_free "$BW_PORT" || die "port $BW_PORT is in use (set ICAP_BENCH_BULWARK_PORT)"
    mkdir -p "$WORK/bulwark-cache"
    cat > "$RUN/bulwark.conf" <<EOF
[path]
BasesPath = $DB
CacheDir = $WORK/bulwark-cache

[icapserver.network]
ListenAddress = 127.0.0.1:$BW_PORT
Timeout = 60s

[icapserver.process]
MaxChildren = 0

[icapserver.protocol]
MaxConnections = 1000
Allow204 = yes
AnswerMode = $ANSWER_MODE

[icapserver.filter]
MaxReqLength = 0

[icapserver.notify]
NotifyTemplateDir = $REPO/conf/templates
EOF
    "$BUILD/bulwarkd" -c "$RUN/bulwark.conf" -f > "$RUN/bulwarkd.log" 2>&1 &
    BW_PID=$!
    PIDS_TO_STOP="$PIDS_TO_STOP $BW_PID"
}

port_of() { [ "$1" = cicap ] && echo "$CICAP_PORT" || echo "$BW_PORT"; }
pid_of() { [ "$1" = cicap ] && echo "$CICAP_PID" || echo "$BW_PID"; }
label() { [ "$1" = cicap ] && echo "c-icap" || echo "bulwarkd"; }

load() { # server, icap-load options...
    local s=$1 extra=""; shift
    [ "$s" = bulwarkd ] && extra=$BW_EXTRA
    # shellcheck disable=SC2086
    "$LOAD" --host 127.0.0.1 --port "$(port_of "$s")" --service "$SERVICE" $extra "$@"
}

wait_ready() { # server: up to 300 s for a first good answer
    local s=$1 pid
    pid=$(pid_of "$s")
    for _ in $(seq 300); do
        if ! kill -0 "$pid" 2>/dev/null; then
            say "$(label "$s") exited; its log:"
            if [ "$s" = cicap ]; then tail -20 "$RUN/c-icap.out" "$RUN/c-icap-server.log"
            else tail -20 "$RUN/bulwarkd.log"; fi
            return 1
        fi
        load "$s" --requests 1 --conns 1 --size 1k --timeout 5 >/dev/null 2>&1 && return 0
        sleep 1
    done
    say "$(label "$s") did not answer within 300 s"
    return 1
}

check_markers() { # server: every marker blocked, clean objects passed
    local s=$1 f ok=1 out
    for f in "$WORK"/markers/ndb-*.hex; do
        out=$(load "$s" --requests 2 --conns 1 --marker-every 2 --marker-hex "$(cat "$f")" \
              --allow204 --preview "$PREVIEW" 2>&1) || { ok=0; fail "$(label "$s"): $(basename "$f" .hex) not blocked: $out"; }
    done
    for f in "$WORK"/markers/hdb-*.bin; do
        out=$(load "$s" --requests 1 --conns 1 --marker-every 1 --marker-file "$f" --same-body \
              --allow204 2>&1) || { ok=0; fail "$(label "$s"): $(basename "$f" .bin) not blocked: $out"; }
    done
    out=$(load "$s" --requests 2 --conns 1 --size 10m --marker-every 2 \
          --marker-hex "$(cat "$WORK/markers/ndb-1.hex")" --preview "$PREVIEW" 2>&1) \
        || { ok=0; fail "$(label "$s"): 10 MB object with a marker near its end not blocked: $out"; }
    [ $ok = 1 ] && say "$(label "$s"): all 11 marker objects blocked, clean objects passed"
}

sample_once() { # server name file
    python3 "$WORK/procstat.py" "$(pid_of "$1")" "$2" once
}

run_point() { # server point run
    local s=$1 point=$2 run=$3 name size conns a204 every warm args out rc
    IFS=: read -r name size conns a204 every warm <<< "$point"
    args="--size $size --conns $conns --duration $DUR --warmup $warm --preview $PREVIEW --seed $run"
    args="$args --marker-every $every --marker-hex $(cat "$WORK/markers/ndb-1.hex") --json"
    [ "$a204" = 1 ] && args="$args --allow204"
    python3 "$WORK/procstat.py" "$(pid_of "$s")" "$RUN/sample.json" "$warm" &
    SAMPLER_PID=$!
    # shellcheck disable=SC2086
    out=$(load "$s" $args 2> "$RUN/load.err"); rc=$?
    kill -TERM "$SAMPLER_PID" 2>/dev/null; wait "$SAMPLER_PID" 2>/dev/null; SAMPLER_PID=""
    if [ -z "$out" ]; then
        fail "$(label "$s") $name run $run: icap-load gave no result: $(head -3 "$RUN/load.err")"
        return
    fi
    [ $rc = 0 ] || fail "$(label "$s") $name run $run: $(head -3 "$RUN/load.err" | tr '\n' ' ')"
    python3 - "$s" "$name" "$run" "$out" "$RUN/sample.json" >> "$RESULTS" <<'EOF'
import json, sys
r = json.loads(sys.argv[4])
try:
    r["srv"] = json.load(open(sys.argv[5]))
except (OSError, ValueError):
    r["srv"] = {}
r.update(server=sys.argv[1], point=sys.argv[2], run=int(sys.argv[3]))
print(json.dumps(r))
EOF
    python3 -c "import json,sys; r=json.loads(sys.argv[1]); print('  %-8s %-8s run %s: %8.1f req/s %8.2f MB/s  p50 %.2f p99 %.2f ms  errors %d' % (sys.argv[2], sys.argv[3], sys.argv[4], r['rps'], r['mbps'], r['p50_ms'], r['p99_ms'], r['errors']))" \
        "$out" "$(label "$s")" "$name" "$run"
}

# ---- the run -------------------------------------------------------------------------
T0=$(date +%s)
if [ "$SERVERS" != cicap ]; then
    # bulwarkd maps its compiled database from CacheDir when the cache is
    # valid, and compiles into anonymous memory when it is not; an installed
    # server restarts warm, so fill the cache first and measure a warm start.
    start_bulwarkd
    wait_ready bulwarkd || die "bulwarkd did not start (logs in $RUN)"
    say "bulwarkd cache filled in $(( $(date +%s) - T0 )) s; restarting it warm"
    stop_server "$BW_PID"
    PIDS_TO_STOP=""
    T0=$(date +%s)
fi
for s in $SERVERS; do "start_$s"; done
for s in $SERVERS; do
    wait_ready "$s" || die "$(label "$s") did not start (logs in $RUN)"
    say "$(label "$s") ready on 127.0.0.1:$(port_of "$s") after $(( $(date +%s) - T0 )) s"
done
for s in $SERVERS; do check_markers "$s"; done
for s in $SERVERS; do sample_once "$s" "$RUN/idle-$s.json"; done

say "$RUNS run(s) of ${DUR} s per point; points: $POINTS"
for run in $(seq "$RUNS"); do
    for point in $POINTS; do
        for s in $SERVERS; do
            kill -0 "$(pid_of "$s")" 2>/dev/null || die "$(label "$s") died (logs in $RUN)"
            run_point "$s" "$point" "$run"
        done
    done
done
for s in $SERVERS; do sample_once "$s" "$RUN/idle-after-$s.json"; done
say "measured in $(( $(date +%s) - T0 )) s"

# ---- summary --------------------------------------------------------------------------
python3 - "$RESULTS" "$RUN" "$RUNS" "$DUR" "$PREVIEW" "$SIGS" "$SERVERS" "$FAILS" "$ANSWER_MODE" <<'EOF' | tee "$WORK/results.md"
import json, os, statistics, sys
res_path, run_dir, runs, dur, preview, sigs, servers, fails, amode = sys.argv[1:10]
servers = servers.split(); fails = int(fails)
rows = [json.loads(l) for l in open(res_path) if l.strip()]
label = {"cicap": "c-icap", "bulwarkd": "bulwarkd"}
points = []
for r in rows:
    if r["point"] not in points: points.append(r["point"])
def runs_of(s, p): return [r for r in rows if r["server"] == s and r["point"] == p]
def med(s, p, key, f=None):
    v = [(f(r) if f else r[key]) for r in runs_of(s, p)]
    return statistics.median(v) if v else None
def idle(s, which):
    try: return json.load(open(os.path.join(run_dir, "%s-%s.json" % (which, s))))
    except (OSError, ValueError): return {}
desc = {"15k": "15 KB", "1m": "1 MB", "10m": "10 MB"}
def pdesc(p):
    size, c = p.split("-"); return "%s, %s conns" % (desc.get(size, size), c[1:])
two = len(servers) == 2
hdr = "| measure | " + " | ".join(label[s] for s in servers) + (" | ratio bulwarkd/c-icap |" if two else " |")
print("Medians of %s run(s) of %s s per point; preview %s bytes; %s signatures; bulwarkd AnswerMode=%s"
      % (runs, dur, preview, sigs, amode) if two else
      "Medians of %s run(s) of %s s per point; preview %s bytes; %s signatures; c-icap only"
      % (runs, dur, preview, sigs))
print()
print(hdr)
print("|---" * (len(servers) + 1 + (1 if two else 0)) + "|")
def line(name, vals, fmt, ratio=True):
    cells = [(fmt % v) if v is not None else "-" for v in vals]
    r = ""
    if two:
        a, b = vals
        r = " | %.2f" % (b / a) if ratio and a and b is not None else " | "
    print("| %s | %s%s |" % (name, " | ".join(cells), r))
for p in points:
    pd = pdesc(p)
    if p.startswith("15k"):
        line(pd + ": requests/s", [med(s, p, "rps") for s in servers], "%.0f")
    line(pd + ": MB/s", [med(s, p, "mbps") for s in servers], "%.2f")
    line(pd + ": p50 latency, ms", [med(s, p, "p50_ms") for s in servers], "%.2f")
    line(pd + ": p99 latency, ms", [med(s, p, "p99_ms") for s in servers], "%.2f")
    line(pd + ": server CPU, cores busy", [med(s, p, None, lambda r: r["srv"].get("cpu_s", 0) / r["seconds"]) for s in servers], "%.2f")
    # Work per CPU-second of the server: less sensitive than rates to how
    # much CPU other processes left free during the run.
    if p.startswith("15k"):
        line(pd + ": requests per server CPU-second", [med(s, p, None, lambda r: r["requests"] / max(r["srv"].get("cpu_s", 0), 1e-3)) for s in servers], "%.0f")
    else:
        line(pd + ": MB per server CPU-second", [med(s, p, None, lambda r: r["mbps"] * r["seconds"] / max(r["srv"].get("cpu_s", 0), 1e-3)) for s in servers], "%.1f")
    line(pd + ": load generator CPU, cores", [med(s, p, None, lambda r: r["client_cpu_s"] / r["seconds"]) for s in servers], "%.2f", False)
    line(pd + ": other processes' CPU, cores", [med(s, p, None, lambda r: max(0.0, r["srv"].get("machine_busy_s", 0) - r["srv"].get("cpu_s", 0) - r["client_cpu_s"]) / r["seconds"]) for s in servers], "%.2f", False)
mib = lambda kb: kb / 1024.0
line("RSS idle, MiB (sum over processes)", [mib(idle(s, "idle").get("rss_kb", 0)) for s in servers], "%.1f")
line("PSS idle, MiB (sum over processes)", [mib(idle(s, "idle").get("pss_kb", 0)) for s in servers], "%.1f")
line("RSS peak under load, MiB (sum over processes)", [mib(max([r["srv"].get("rss_kb", 0) for r in rows if r["server"] == s] or [0])) for s in servers], "%.1f")
line("PSS peak under load, MiB (sum over processes)", [mib(max([r["srv"].get("pss_kb", 0) for r in rows if r["server"] == s] or [0])) for s in servers], "%.1f")
line("largest single process RSS, MiB", [mib(max([r["srv"].get("max_proc_rss_kb", 0) for r in rows if r["server"] == s] or [0])) for s in servers], "%.1f")
line("processes", [max([r["srv"].get("procs", 0) for r in rows if r["server"] == s] or [0]) for s in servers], "%d", False)
print()
errs = {s: sum(r["errors"] for r in rows if r["server"] == s) for s in servers}
blk = {s: (sum(r["blocked"] for r in rows if r["server"] == s), sum(r["markers"] for r in rows if r["server"] == s),
           sum(r.get("cut", 0) for r in rows if r["server"] == s)) for s in servers}
for s in servers:
    print("- %s: %d requests, %d errors, %d of %d marker requests blocked%s" %
          (label[s], sum(r["requests"] for r in rows if r["server"] == s), errs[s], blk[s][0] + blk[s][2], blk[s][1],
           " (%d of them by cutting the connection)" % blk[s][2] if blk[s][2] else ""))
if two:
    for p in points:
        if p.startswith("15k"):
            a, b = med("cicap", p, "rps"), med("bulwarkd", p, "rps")
            pa, pb = med("cicap", p, "p99_ms"), med("bulwarkd", p, "p99_ms")
            ok = a and b and b >= 4 * a and pb <= pa
            print("- %s: requests/s >= 4x c-icap with p99 no worse: %s (%.2fx, p99 %.2f vs %.2f ms)" %
                  (pdesc(p), "MET" if ok else "NOT MET", b / a if a else 0, pb or 0, pa or 0))
        if p.startswith("1m"):
            a, b = med("cicap", p, "mbps"), med("bulwarkd", p, "mbps")
            print("- %s: MB/s >= 3x c-icap: %s (%.2fx)" % (pdesc(p), "MET" if a and b and b >= 3 * a else "NOT MET", b / a if a else 0))
else:
    print("- bulwarkd was not measured (not built, or ICAP_BENCH_CICAP_ONLY=1): no ratios, no targets checked")
print()
print("Every run (requests/s, MB/s, p99 ms):")
for p in points:
    for s in servers:
        print("- %s %s: %s" % (label[s], p, ", ".join("%.1f/%.2f/%.1f" % (r["rps"], r["mbps"], r["p99_ms"]) for r in runs_of(s, p))))
if fails or any(errs.values()):
    print()
    print("**%d check(s) FAILED: the figures above are not valid.**" % max(fails, 1))
    for l in open(os.path.join(run_dir, "fails.txt")):
        print("- " + l.strip())
EOF
[ "$FAILS" = 0 ] || exit 1
exit 0
