# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Shared helpers for the bulwarkd integration tests (bash; sources lib.sh).
#
# Everything runs on 127.0.0.1 with ports picked free at run time, so the
# tests never collide with a daemon or a proxy already on the machine.  Every
# process started here is recorded and killed by the EXIT trap, and every wait
# is bounded: a broken daemon makes a test fail, never hang.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BULWARKD=${BULWARKD:-$ROOT/${BUILD:-build}/bulwarkd}
ORIGIN_PY="$ROOT/tests/integration/origin.py"
EICAR_HEX=58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a
chmod 755 "$TMP"

BG_PIDS=""     # every background process we started
icap_cleanup() {
    local p
    for p in $BG_PIDS; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.2
    for p in $BG_PIDS; do kill -KILL "$p" 2>/dev/null; done
    # squid's kid process does not die with its parent under -N: by pid file
    for p in "$TMP"/*/squid.pid; do
        [ -f "$p" ] && kill -KILL "$(cat "$p")" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap icap_cleanup EXIT
trap 'exit 130' INT TERM

# free_port: prints a TCP port free on 127.0.0.1 right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT SECONDS: until something accepts on 127.0.0.1:PORT.
wait_port() {
    python3 - "$1" "$2" <<'EOF'
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
end = time.time() + limit
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}

# bw_write_conf OUT PORT [SECTION.KEY=VALUE ...]: a bulwark.conf derived from
# conf/bulwark.conf (the documented defaults) with the test's settings.  A key
# given several times becomes several lines (BasesPath is repeatable); a key
# the file does not have is added to its section.
bw_write_conf() {
    local out=$1 port=$2; shift 2
    python3 - "$ROOT/conf/bulwark.conf" "$out" \
        "icapserver.network.ListenAddress=127.0.0.1:$port" \
        "path.BasesPath=$ROOT/db/test" \
        "icapserver.process.MaxChildren=2" \
        "icapserver.report.ReportFileName=$TMP/report-$port.log" \
        "icapserver.notify.NotifyTemplateDir=$ROOT/conf/templates" \
        "path.ControlSocket=$TMP/ctl-$port.sock" \
        "path.PidFile=$TMP/bulwarkd-$port.pid" \
        "icapserver.process.User=" \
        "events.SpoolDirectory=$TMP/events-$port" \
        "$@" <<'EOF'
import sys, collections
src, out, sets = sys.argv[1], sys.argv[2], sys.argv[3:]
# The first nine settings are this library's defaults (the test's own
# control socket and pid file; workers stay root so they can write the
# test's private temporary files); a key the caller sets replaces them, and
# a key the caller repeats gets several lines.
over = collections.OrderedDict()
for i, s in enumerate(sets):
    k, v = s.split("=", 1)
    sec, key = k.rsplit(".", 1)
    who = "lib" if i < 9 else "caller"
    if (sec, key) not in over or over[(sec, key)][0] != who:
        over[(sec, key)] = [who]
    over[(sec, key)].append(v)
lines, sec, done = [], None, set()
def put(s, k):
    if (s, k) not in done:
        lines.extend("%s = %s" % (k, v) for v in over[(s, k)][1:])
        done.add((s, k))
def flush(section):
    for (s, k) in over:
        if s == section:
            put(s, k)
for raw in open(src):
    t = raw.strip()
    if t.startswith("[") and t.endswith("]"):
        flush(sec)
        sec = t[1:-1]
        lines.append(t)
        continue
    if "=" in t and not t.startswith((";", "#")):
        key = t.split("=", 1)[0].strip()
        if (sec, key) in over:
            put(sec, key)
            continue
    lines.append(raw.rstrip("\n"))
flush(sec)
for (s, k) in over:
    if (s, k) not in done:
        lines.append("[%s]" % s)
        put(s, k)
open(out, "w").write("\n".join(lines) + "\n")
EOF
}

# icap_ping PORT: sends OPTIONS, succeeds on an ICAP/1.0 200 answer.
icap_ping() {
    python3 - "$1" <<'EOF'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
    s.sendall(b"OPTIONS icap://127.0.0.1/av/respmod ICAP/1.0\r\nHost: 127.0.0.1\r\n"
              b"Connection: close\r\nEncapsulated: null-body=0\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(4096)
        if not d:
            break
        data += d
    sys.exit(0 if data.startswith(b"ICAP/1.0 200") else 1)
except OSError:
    sys.exit(1)
EOF
}

# bw_start CONF LOG PORT: starts bulwarkd in the foreground (background job),
# sets BW_PID, and waits (bounded) until it answers OPTIONS.
bw_start() {
    local conf=$1 log=$2 port=$3
    "$BULWARKD" -c "$conf" -f 2>"$log" &
    BW_PID=$!
    BG_PIDS="$BG_PIDS $BW_PID"
    for _ in $(seq 1 100); do
        if icap_ping "$port"; then return 0; fi
        kill -0 "$BW_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "# bulwarkd did not start on port $port; its log:"
    sed 's/^/#   /' "$log" | tail -20
    return 1
}

# bw_stop: SIGTERM, then waits (bounded); succeeds when bulwarkd exits 0.
bw_stop() {
    local pid=${1:-$BW_PID} rc
    kill -TERM "$pid" 2>/dev/null || return 1
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "# bulwarkd $pid ignored SIGTERM for 10s"
        kill -KILL "$pid"
        wait "$pid" 2>/dev/null
        return 1
    fi
    wait "$pid"; rc=$?
    [ "$rc" = 0 ] || echo "# bulwarkd $pid exited with status $rc"
    [ "$rc" = 0 ]
}

# origin_start DIR PORT: the local HTTP origin serving DIR.
origin_start() {
    python3 "$ORIGIN_PY" --dir "$1" --port "$2" 2>"$TMP/origin-$2.log" &
    ORIGIN_PID=$!
    BG_PIDS="$BG_PIDS $ORIGIN_PID"
    wait_port "$2" 10 || { echo "# origin did not start"; cat "$TMP/origin-$2.log"; return 1; }
}

origin_stop() {
    kill -TERM "$ORIGIN_PID" 2>/dev/null
    wait "$ORIGIN_PID" 2>/dev/null
    return 0
}

# squid_start DIR HTTP_PORT ICAP_PORT|none: a test-local Squid without cache.
# With ICAP_PORT it carries the deployment lines of docs/squid.md, verbatim
# but for the port (bypass=off: the old `0` makes Squid warn UPGRADE).  Sets SQUID_PID.
squid_start() {
    local dir=$1 port=$2 icap=$3
    mkdir -p "$dir"
    chmod 777 "$dir"
    {
        echo "http_port 127.0.0.1:$port"
        echo "visible_hostname bulwark-test"
        echo "pid_filename $dir/squid.pid"
        echo "access_log stdio:$dir/access.log"
        echo "cache_log $dir/cache.log"
        echo "cache_store_log none"
        echo "coredump_dir $dir"
        echo "netdb_filename none"
        echo "pinger_enable off"
        echo "cache deny all"
        echo "cache_mem 8 MB"
        echo "shutdown_lifetime 1 seconds"
        echo "http_access allow localhost"
        echo "http_access deny all"
        echo "request_body_max_size 0"
        if [ "$icap" != none ]; then
            echo "icap_enable on"
            echo "icap_send_client_ip on"
            echo "icap_preview_enable on"
            echo "icap_preview_size 4096"
            echo "icap_206_enable on"
            echo "icap_service is_kav_resp respmod_precache bypass=off icap://127.0.0.1:$icap/av/respmod"
            echo "icap_service is_kav_req reqmod_precache bypass=off icap://127.0.0.1:$icap/av/reqmod"
            echo "adaptation_access is_kav_req allow all"
            echo "adaptation_access is_kav_resp allow all"
        fi
        # extra lines, e.g. SQUID_EXTRA="debug_options ALL,1 93,5" to debug ICAP
        [ -n "${SQUID_EXTRA:-}" ] && printf '%s\n' "$SQUID_EXTRA"
    } >"$dir/squid.conf"
    if ! squid -k parse -f "$dir/squid.conf" >"$dir/parse.log" 2>&1; then
        echo "# squid -k parse failed:"; sed 's/^/#   /' "$dir/parse.log" | tail -20
        return 1
    fi
    squid -N -f "$dir/squid.conf" >"$dir/squid.out" 2>&1 &
    SQUID_PID=$!
    BG_PIDS="$BG_PIDS $SQUID_PID"
    if ! wait_port "$port" 20; then
        echo "# squid did not start:"; sed 's/^/#   /' "$dir/cache.log" | tail -20
        return 1
    fi
}

# squid_stop: SIGTERM (bounded by shutdown_lifetime); succeeds on a clean exit.
squid_stop() {
    local pid=${1:-$SQUID_PID}
    kill -TERM "$pid" 2>/dev/null || return 1
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; wait "$pid" 2>/dev/null; return 1; fi
    wait "$pid"
}

# make_eicar FILE [PREFIX]: the EICAR test string, optionally after a
# test-modification prefix (CURE-, WARN-, ...).
make_eicar() {
    python3 -c 'import sys; open(sys.argv[1],"wb").write(sys.argv[3].encode()+bytes.fromhex(sys.argv[2]))' \
        "$1" "$EICAR_HEX" "${2:-}"
}

# bw_pss_total CONF: the summed PSS (KiB) of every bulwarkd process started
# with CONF (supervisor, workers, a compile process, draining workers).
bw_pss_total() {
    local sum=0 p v
    for p in $(pgrep -f "bulwarkd -c $1"); do
        v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}

# make_random FILE SIZE: SIZE deterministic pseudo-random bytes.
make_random() {
    python3 -c 'import random, sys; random.seed(int(sys.argv[2]))
open(sys.argv[1], "wb").write(random.randbytes(int(sys.argv[2])))' "$1" "$2"
}

# bw_log_clean NAME LOG: one TAP line: no worker died (signal, sanitizer
# report, non-zero exit) during the test.
bw_log_clean() {
    local pat='killed by signal|exited with status [1-9]|AddressSanitizer|LeakSanitizer|runtime error'
    if grep -qE "$pat" "$2"; then
        notok "$1: no bulwarkd worker crashed"; grep -E "$pat" "$2" | head -5 | sed 's/^/    /'
    else ok "$1: no bulwarkd worker crashed"; fi
}

sha() { sha256sum "$1" 2>/dev/null | cut -d" " -f1; }

# respmod_status PORT FILE: the ICAP status code of a plain RESPMOD of FILE
# (200: blocked with a page; 204: passed), or "none".
respmod_status() {
    python3 - "$1" "$2" <<'EOF'
import socket, sys
port, body = int(sys.argv[1]), open(sys.argv[2], "rb").read()
res = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
msg = (b"RESPMOD icap://x/av/respmod ICAP/1.0\r\nHost: x\r\nEncapsulated: res-hdr=0, res-body=%d\r\n\r\n" % len(res)
       + res + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(msg)
d = s.recv(64)
print(d.split(b" ")[1].decode() if d.startswith(b"ICAP/1.0 ") else "none")
EOF
}
