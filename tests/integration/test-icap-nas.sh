#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The NAS ICAP profile (docs/icap-nas.md): storage systems send each file as a
# RESPMOD body to /avscan or /scan, with the encapsulated HTTP headers, with
# response headers only, or with none at all, and read the verdict from the
# status and the X-Infection-Found / X-Violations-Found / X-Virus-ID headers.
#
# Two clients: c-icap-client (someone else's reading of RFC 3507) and
# nas-client.py, which streams files from disk (the 200 MB one is never in
# its memory) and hashes what comes back.  Files: 0 bytes, 1 KB, 10 MB,
# 200 MB, EICAR and its curable variant, EICAR in a zip, a nested zip bomb,
# an encrypted zip.  Three policies in one daemon: the default group (limits
# and encrypted archives pass, with the verdict in the headers), a group
# chosen by X-Client-IP that denies them, and one with limits above 200 MB.  The workers' peak memory (VmHWM)
# must stay far below what buffering the 200 MB file would take.
#
# A second daemon (one worker, one pool thread, MaxQueuedScans=1) checks the
# overload answer: 503 with Retry-After while scans wait for a thread, and
# service again once they are done; and that MaxConnections, as advertised
# in OPTIONS, is enforced.
. "$(dirname "$0")/icap-lib.sh"

NASC="$ROOT/tests/integration/nas-client.py"
for tool in c-icap-client zip zstd; do
    if ! command -v "$tool" >/dev/null; then
        notok "nas: $tool is installed (scripts/install-deps.sh)"; exit 1
    fi
done
if [ ! -x "$BULWARKD" ]; then notok "nas: bulwarkd is built ($BULWARKD missing)"; exit 1; fi

# ---- fixtures ----------------------------------------------------------------------
F=$TMP/files
mkdir -p "$F"
: >"$F/empty"
make_random "$F/1k" 1024
make_random "$F/10m" 10485760
head -c 200M /dev/urandom >"$F/200m"
make_eicar "$F/eicar.com"
make_eicar "$F/cure.com" CURE-
(cd "$F" && zip -q eicar.zip eicar.com && zip -q -P secret enc.zip eicar.com 1k)
# The zip bomb: 1 GiB of zeros deflated to ~5 MB, and that zip nested four
# times in another (4 GiB if unpacked).  Written in a stream: never in memory.
python3 - "$F" <<'EOF'
import sys, zipfile
d = sys.argv[1]
with zipfile.ZipFile(d + "/zeros.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
    with z.open("zeros.bin", "w", force_zip64=True) as f:
        blk = bytes(1 << 20)
        for _ in range(1024):
            f.write(blk)
with zipfile.ZipFile(d + "/bomb.zip", "w", zipfile.ZIP_STORED) as z:
    for i in range(4):
        z.write(d + "/zeros.zip", "layer%d/zeros.zip" % i)
EOF
rm -f "$F/zeros.zip"

# ---- helpers -----------------------------------------------------------------------
# nas OUT ARGS...: one request through nas-client.py; its answer (JSON) in OUT.
nas() { local out=$1; shift; timeout 120 python3 "$NASC" --port "$PORT" "$@" >"$out" 2>"$out.err"; }
# expect NAME OUT PYEXPR: one TAP line; PYEXPR sees d (the answer) and h (its
# ICAP headers, lower-case names; folded lines joined with "\n").
expect() {
    python3 - "$@" <<'EOF'
import json, sys
name, path, expr = sys.argv[1:4]
try:
    d = json.load(open(path))
except Exception as e:
    print("not ok - nas: %s" % name)
    print("    no answer: %s %s" % (e, open(path + ".err").read()[-400:] if __import__("os").path.exists(path + ".err") else ""))
    sys.exit(0)
h, last = {}, None
for ln in d.get("head", "").split("\r\n")[1:]:
    if not ln:
        continue
    if ln[0] in " \t" and last:
        h[last] += "\n" + ln.strip()
        continue
    k, _, v = ln.partition(":")
    last = k.strip().lower()
    h[last] = v.strip()
try:
    good = bool(eval(expr))
except Exception as e:
    good = False
    print("    %s: %s" % (type(e).__name__, e))
print(("ok - nas: " if good else "not ok - nas: ") + name)
if not good:
    print("    expected: " + expr)
    for ln in (d.get("error") and ["error: " + d["error"]] or []) + d.get("head", "").split("\r\n") + d.get("http", "").split("\r\n")[:3]:
        print("    " + ln)
EOF
}
# the whole X-Violations-Found value as its lines
VIOL='[x.strip() for x in h.get("x-violations-found","").split("\n")]'
# cic OUTFILE ARGS...: c-icap-client (bounded); its report in $TMP/cic.txt
cic() {
    local out=$1; shift
    rm -f "$out"
    timeout 60 c-icap-client -i 127.0.0.1 -p "$PORT" -o "$out" -v "$@" >"$TMP/cic.txt" 2>&1
}
cic_has() { grep -qF -- "$1" "$TMP/cic.txt"; }
cic_expect() {
    local n=$1; shift
    if "$@"; then ok "nas: c-icap-client: $n"; else notok "nas: c-icap-client: $n"; sed 's/^/    /' "$TMP/cic.txt" | head -30; fi
}
all() { local c; for c in "$@"; do eval "$c" || return 1; done; }
# peak_kb PID: the largest VmHWM (kB) among PID's child processes (the workers).
peak_kb() {
    local p max=0 v
    for p in $(pgrep -P "$1"); do
        v=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null)
        [ -n "$v" ] && [ "$v" -gt "$max" ] && max=$v
    done
    echo "$max"
}

# ---- the daemon: default policy, and a strict group by client address ----------------
TAIL_MARKER="BULWARK-NAS-TEST-TAIL-MARKER-5e1d07c2"
mkdir -p "$TMP/db"
printf 'Bulwark-NAS-Tail-Marker:0:*:%s\n' "$(printf '%s' "$TAIL_MARKER" | od -An -tx1 | tr -d ' \n')" \
    >"$TMP/db/nas-test.ndb"
# Under AddressSanitizer freed memory is kept in a quarantine (256 MB by
# default) that would count in the workers' peak memory: a small one keeps
# the memory bound meaningful in a SAN=1 build.
if ldd "$BULWARKD" 2>/dev/null | grep -q libasan; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
fi
PORT=$(free_port)
bw_write_conf "$TMP/nas.conf" "$PORT" "path.BasesPath=$ROOT/db/test" "path.BasesPath=$TMP/db" \
    "icapserver.groups:strict.Priority=10" "icapserver.groups:strict.ClientIP=10.9.9.9" \
    "icapserver.actions:strict.MaxReqLengthAction=deny" \
    "icapserver.actions:strict.ProtectedAction=deny" "icapserver.actions:strict.ErrorAction=deny" \
    "icapserver.groups:big.Priority=5" "icapserver.groups:big.ClientIP=10.8.8.8" \
    "icapserver.engine.options:big.MaxFileSize=300M" "icapserver.engine.options:big.MaxScanSize=300M"
bw_start "$TMP/nas.conf" "$TMP/nas.log" "$PORT" || { notok "nas: bulwarkd starts"; exit 1; }
NAS_PID=$BW_PID

# OPTIONS on both default service paths
for svc in avscan scan; do
    cic "$TMP/o" -s "$svc"
    cic_expect "OPTIONS /$svc: 200, Methods: RESPMOD, REQMOD, Max-Connections, ISTag" \
        all 'cic_has "ICAP/1.0 200 OK"' 'cic_has "Methods: RESPMOD, REQMOD"' \
            'cic_has "Max-Connections: 1000"' 'grep -q "ISTag: \"" "$TMP/cic.txt"'
done

# 0 bytes: a body of no bytes without HTTP headers, and a null-body with headers
nas "$TMP/a" --file "$F/empty" --headers none
expect "0 bytes, res-body only (no HTTP headers): 204" "$TMP/a" \
    'd["status"] == 204 and h.get("x-response-info") == "Passed" and "x-infection-found" not in h'
nas "$TMP/a" --headers res
expect "0 bytes as null-body after res-hdr: 204" "$TMP/a" 'd["status"] == 204'
nas "$TMP/a" --file "$F/empty" --headers reqres --preview 1024
expect "0 bytes in a preview (0; ieof): 204 at once" "$TMP/a" 'd["status"] == 204'

# 1 KB, in every framing, on both paths
nas "$TMP/a" --file "$F/1k" --headers none
expect "1 KB, res-body only: 204" "$TMP/a" 'd["status"] == 204'
nas "$TMP/a" --file "$F/1k" --headers res --service scan
expect "1 KB with res-hdr on /scan: 204" "$TMP/a" 'd["status"] == 204'
nas "$TMP/a" --file "$F/1k" --headers reqres --preview 4096
expect "1 KB with req-hdr and res-hdr, all in the preview: 204" "$TMP/a" 'd["status"] == 204'
cic "$TMP/o" -s avscan -f "$F/1k"
cic_expect "1 KB RESPMOD on /avscan: 204" cic_has "ICAP/1.0 204"

# 10 MB: 204 when allowed; without Allow: 204 the echo comes back byte-identical
nas "$TMP/a" --file "$F/10m" --headers none
expect "10 MB, res-body only: 204" "$TMP/a" 'd["status"] == 204 and d["body_len"] == 0'
cic "$TMP/o" -s scan -f "$F/10m" -nopreview -no204
cic_expect "10 MB without Allow: 204 on /scan: 200, the same 10 MB back" \
    all 'cic_has "ICAP/1.0 200 OK"' 'cmp -s "$F/10m" "$TMP/o"'

# 200 MB, streamed both ways.  By default it is over MaxFileSize (100M): a
# limit status that the default policy passes.
SHA200=$(sha "$F/200m")
nas "$TMP/a" --file "$F/200m" --headers none
expect "200 MB, default limits, Allow: 204: 204 carrying Type=1 limits exceeded: max file size" "$TMP/a" \
    'd["status"] == 204 and h.get("x-infection-found") == "Type=1; Resolution=0; Threat=limits exceeded: max file size;"'
nas "$TMP/a" --file "$F/200m" --headers reqres --no204 --name /ifs/data/big.bin --check-close
expect "200 MB without Allow: 204: 200 and all 200 MB back (the rest streams on after the limit)" "$TMP/a" \
    "d['status'] == 200 and d['body_len'] == 209715200 and d['body_sha256'] == '$SHA200' and d['last_chunk'] == '0' and not d['closed']"
# The group "big" raises the limits: all 200 MB are scanned, as a marker at
# its very end shows (a test signature of our own, matched at any offset).
nas "$TMP/a" --file "$F/200m" --headers none --client-ip 10.8.8.8
expect "200 MB, group with MaxFileSize=300M: 204, clean" "$TMP/a" \
    'd["status"] == 204 and "x-infection-found" not in h and h.get("x-response-info") == "Passed"'
{ cat "$F/200m"; printf '%s' "$TAIL_MARKER"; } >"$F/200m-tail"
nas "$TMP/a" --file "$F/200m-tail" --headers none --client-ip 10.8.8.8
expect "200 MB + a marker at its end, group with MaxFileSize=300M: 200, the marker found" "$TMP/a" \
    'd["status"] == 200 and h.get("x-virus-id") == "Bulwark-NAS-Tail-Marker" and d["http"].startswith("HTTP/1.1 403 ")'
nas "$TMP/a" --file "$F/200m-tail" --headers none
expect "the same file, default limits: 204 carrying the limit (the marker lies past MaxFileSize)" "$TMP/a" \
    'd["status"] == 204 and "max file size" in h.get("x-infection-found", "")'
rm -f "$F/200m-tail"

# EICAR: the verdict headers exactly as NAS clients parse them
nas "$TMP/a" --file "$F/eicar.com" --headers none
expect "EICAR without HTTP headers: 200, X-Infection-Found Type=0 Resolution=2" "$TMP/a" \
    'd["status"] == 200 and h.get("x-infection-found") == "Type=0; Resolution=2; Threat=EICAR-Test-File;"'
expect "EICAR: X-Violations-Found: 1, then file name, threat, problem id, resolution" "$TMP/a" \
    "$VIOL == ['1', '-', 'EICAR-Test-File', '9', '2']"
expect "EICAR: X-Virus-ID, X-Response-Info: Blocked, and an encapsulated HTTP 403" "$TMP/a" \
    'h.get("x-virus-id") == "EICAR-Test-File" and h.get("x-response-info") == "Blocked" and d["http"].startswith("HTTP/1.1 403 ") and d["body_len"] > 0'
nas "$TMP/a" --file "$F/eicar.com" --headers reqres --name /ifs/share/docs/eicar.com --preview 4096
expect "EICAR with req-hdr naming the file: X-Violations-Found names eicar.com" "$TMP/a" \
    "d['status'] == 200 and $VIOL == ['1', 'eicar.com', 'EICAR-Test-File', '9', '2']"
nas "$TMP/a" --file "$F/eicar.zip" --headers reqres --name /ifs/share/eicar.zip
expect "EICAR in a zip: X-Violations-Found names eicar.zip/eicar.com" "$TMP/a" \
    "d['status'] == 200 and $VIOL == ['1', 'eicar.zip/eicar.com', 'EICAR-Test-File', '9', '2'] and h.get('x-virus-id') == 'EICAR-Test-File'"
cic "$TMP/o" -s scan -f "$F/eicar.com" -nopreview
cic_expect "EICAR on /scan: 200 + HTTP 403 + X-Infection-Found" \
    all 'cic_has "ICAP/1.0 200 OK"' 'cic_has "HTTP/1.1 403 Forbidden"' \
        'cic_has "X-Infection-Found: Type=0; Resolution=2; Threat=EICAR-Test-File;"'

# Curing: the cured file comes back as the modified body
nas "$TMP/a" --file "$F/cure.com" --headers none
expect "curable EICAR without HTTP headers: 200, res-body=0, the cured body, Resolution=1" "$TMP/a" \
    'd["status"] == 200 and h.get("encapsulated") == "res-body=0" and d["body_head"] == "CURE" and d["body_len"] == 4 and h.get("x-infection-found") == "Type=0; Resolution=1; Threat=EICAR-Test-File-CURE;" and h.get("x-response-info") == "Passed"'
nas "$TMP/a" --file "$F/cure.com" --headers reqres --name /ifs/share/cure.com
expect "curable EICAR with HTTP headers: the cured body with Content-Length: 4" "$TMP/a" \
    'd["status"] == 200 and d["body_head"] == "CURE" and "Content-Length: 4\r\n" in d["http"] and d["http"].startswith("HTTP/1.1 200 ")'

# The zip bomb and the encrypted zip: limits and encryption are statuses
nas "$TMP/a" --file "$F/bomb.zip" --headers reqres --name /ifs/share/bomb.zip
expect "zip bomb, default policy (MaxReqLengthAction=skip): 204 carrying Type=1 limits exceeded" "$TMP/a" \
    'd["status"] == 204 and h.get("x-infection-found", "").startswith("Type=1; Resolution=0; Threat=limits exceeded") and h.get("x-response-info") == "Passed"'
nas "$TMP/a" --file "$F/bomb.zip" --headers reqres --name /ifs/share/bomb.zip --client-ip 10.9.9.9
expect "zip bomb, strict group (deny): 200 + HTTP 403, Type=1 Resolution=2, a member named" "$TMP/a" \
    'd["status"] == 200 and d["http"].startswith("HTTP/1.1 403 ") and h.get("x-infection-found", "").startswith("Type=1; Resolution=2; Threat=limits exceeded") and "bomb.zip/layer0/zeros.zip" in h.get("x-violations-found", "")'
nas "$TMP/a" --file "$F/enc.zip" --headers none
expect "encrypted zip, default policy (ProtectedAction=skip): 204 carrying Type=2" "$TMP/a" \
    'd["status"] == 204 and h.get("x-infection-found", "").startswith("Type=2; Resolution=0; Threat=Heuristics.Encrypted")'
nas "$TMP/a" --file "$F/enc.zip" --headers none --client-ip 10.9.9.9
expect "encrypted zip, strict group: 200 + HTTP 403, Type=2 Resolution=2" "$TMP/a" \
    'd["status"] == 200 and d["http"].startswith("HTTP/1.1 403 ") and h.get("x-infection-found", "").startswith("Type=2; Resolution=2; Threat=Heuristics.Encrypted")'

# Bounded memory: buffering the 200 MB file would take more than 200 MB.
PEAK=$(peak_kb "$NAS_PID")
if [ "$PEAK" -gt 0 ] && [ "$PEAK" -lt 153600 ]; then
    ok "nas: workers' peak memory (VmHWM) ${PEAK} kB < 150 MB after 200 MB both ways and the bomb"
else
    notok "nas: workers' peak memory (VmHWM) ${PEAK} kB < 150 MB after 200 MB both ways and the bomb"
fi
if grep -q ' RESPMOD http://nas.test/ifs/share/bomb.zip [0-9]* TOO_LARGE ' "$TMP/report-$PORT.log" 2>/dev/null; then
    ok "nas: the report log has the bomb as TOO_LARGE with its URL"
else notok "nas: the report log has the bomb as TOO_LARGE with its URL"; tail -5 "$TMP/report-$PORT.log" | sed 's/^/    /'; fi
bw_log_clean nas "$TMP/nas.log"
check "nas: bulwarkd exits 0 on SIGTERM" bw_stop "$NAS_PID"

# ---- overload: one worker, one pool thread, MaxQueuedScans=1 --------------------------
# A scan that takes exactly MaxScanTime: 200 copies of 200 copies of 1 MB of
# random bytes, zstd --long dedups them to ~1 MB (each level's ratio stays
# under the bomb bound); with MaxScanSize=0 only the time limit ends it.
mkdir -p "$F/l1" "$F/l2"
head -c 1M /dev/urandom >"$F/l0"
for i in $(seq 1 200); do ln -f "$F/l0" "$F/l1/f$i"; done
tar cf - --hard-dereference -C "$F/l1" . | zstd -q --long=27 -3 -o "$F/l1.tar.zst"
for i in $(seq 1 200); do ln -f "$F/l1.tar.zst" "$F/l2/g$i.tar.zst"; done
tar cf - --hard-dereference -C "$F/l2" . | zstd -q --long=27 -3 -o "$F/slow.tar.zst"
rm -rf "$F/l1" "$F/l2" "$F/200m" "$F/10m"

PORT=$(free_port)
bw_write_conf "$TMP/over.conf" "$PORT" icapserver.process.MaxChildren=1 \
    icapserver.protocol.MaxQueuedScans=1 icapserver.protocol.MaxConnections=4 \
    icapserver.engine.options.MaxScanSize=0 icapserver.engine.options.MaxScanTime=6s
UV_THREADPOOL_SIZE=1 bw_start "$TMP/over.conf" "$TMP/over.log" "$PORT" ||
    { notok "nas: bulwarkd starts with MaxQueuedScans=1"; exit 1; }

cic "$TMP/o" -s avscan
cic_expect "OPTIONS advertises Max-Connections: 4" cic_has "Max-Connections: 4"
# The test makes the state it checks, step by step, and sees each step in
# the worker's gauges (bulwark ctl stats): the first slow scan holds the only
# thread (for MaxScanTime, 6 s), the second is queued behind it, and only then
# does the third request arrive.  A loaded machine makes this slower, never
# different.
gauge() { "$BULWARK" ctl -c "$TMP/over.conf" stats 2>/dev/null | awk -v k="$1" '$1 == k { print $2 }'; }
gauge_is() { [ "$(gauge "$1")" = "$2" ]; }
nas "$TMP/s1" --file "$F/slow.tar.zst" --headers none & S1=$!
check "nas: the first slow scan has the only thread (ctl stats: scans_running 1)" wait_until 60 gauge_is scans_running 1
nas "$TMP/s2" --file "$F/slow.tar.zst" --headers none & S2=$!
check "nas: the second slow scan waits for it (ctl stats: scans_waiting 1)" wait_until 60 gauge_is scans_waiting 1
nas "$TMP/a" --file "$F/1k" --headers none --check-close
expect "a scan waits for the only thread (MaxQueuedScans=1): 503 with Retry-After, its body read and dropped, the connection kept" "$TMP/a" \
    'd["status"] == 503 and h.get("retry-after", "").isdigit() and not d["closed"] and not d.get("send_error")'
wait "$S1" "$S2"
expect_eq "nas: the gauges are back to 0 when the scans are done" "$(gauge scans_running) $(gauge scans_waiting)" "0 0"
expect "the first slow scan ends at MaxScanTime: 204 carrying the limit" "$TMP/s1" \
    'd["status"] == 204 and "max scan time" in h.get("x-infection-found", "")'
expect "the scan that waited is answered too" "$TMP/s2" \
    'd["status"] == 204 and "max scan time" in h.get("x-infection-found", "")'
nas "$TMP/a" --file "$F/1k" --headers none
expect "the queue drained: served again (204)" "$TMP/a" 'd["status"] == 204'
if grep -q 'overloaded: .*MaxQueuedScans 1' "$TMP/over.log"; then ok "nas: the overload is logged"
else notok "nas: the overload is logged"; tail -5 "$TMP/over.log" | sed 's/^/    /'; fi

# MaxConnections=4: four open connections, the fifth is refused; one closes, one more gets in
python3 - "$PORT" <<'EOF'
import socket, sys
port = int(sys.argv[1])
def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=5)
def answer(s):
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(4096)
        if not d:
            break
        data += d
    return data
OPT = b"OPTIONS icap://127.0.0.1/avscan ICAP/1.0\r\nHost: x\r\nEncapsulated: null-body=0\r\n\r\n"
held = [conn() for _ in range(4)]
for s in held:            # each is served (and stays open, kept alive)
    s.sendall(OPT)
served = all(answer(s).startswith(b"ICAP/1.0 200") for s in held)
fifth = conn()
a = answer(fifth)
refused = a.startswith(b"ICAP/1.0 503") and b"Retry-After:" in a and fifth.recv(1) == b""
held.pop().close()
import time
ok_again = False
for _ in range(50):       # the slot frees once the server sees the close
    time.sleep(0.05)
    s = conn()
    s.sendall(OPT)
    if answer(s).startswith(b"ICAP/1.0 200"):
        ok_again = True
        break
    s.close()
print(("ok" if served and refused else "not ok") + " - nas: MaxConnections=4: four connections served, the fifth gets 503 + Retry-After and is closed")
print(("ok" if ok_again else "not ok") + " - nas: MaxConnections=4: a connection closes, the next one is served")
EOF
bw_log_clean "nas overload" "$TMP/over.log"
check "nas: bulwarkd (overload) exits 0 on SIGTERM" bw_stop
