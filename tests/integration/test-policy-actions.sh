#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Every status x action combination through real Squid and curl.
#
# One bulwarkd covers the whole matrix: groups chosen by URL give each
# action value its own group (?act=skip, ?act=deny, ?act=cure; &lim=size and
# &lim=time add the MaxReqLength and MaxScanTime limits that produce
# TOO_LARGE and TIMEOUT), and every object is fetched through a test-local
# Squid once per action that applies to its status.  What curl gets is
# checked against the action: skip -> the original bytes (sha256; for a
# CURED object skip means the cured bytes, see test-icap-delivery.sh), deny ->
# HTTP 403 with the block page of that status (its <title>, read from the
# shipped conf/templates/object_<status>.html), cure -> the cured bytes.
# The report log's line for each fetch must carry the STATUS and ACTION.
#
# How each status is produced (docs/policy.md has the table):
#   CLEAN       a text file
#   INFECTED    the EICAR test file, and EICAR with the DELE- prefix
#   CURED       EICAR with the CURE- prefix (cured text: "CURE")
#   WARNING     WARN- prefix      SUSPICIOUS  SUSP- prefix
#   CORRUPTED   CORR- prefix, and a truncated zip
#   ERROR       ERRO- prefix, and a zip bomb past the compression-ratio bound
#   PROTECTED   a password-protected zip
#   TOO_LARGE   20 000 bytes where MaxReqLength = 8K
#   TIMEOUT     an object whose origin pauses 1.5 s mid-body where
#               MaxScanTime = 500ms
. "$(dirname "$0")/icap-lib.sh"

make_eicar() { printf '%sX5O!P%%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' "${2:-}" > "$1"; }

W="$TMP/www"
mkdir -p "$W" "$TMP/src"
printf 'a perfectly clean text file\n' > "$W/clean.txt"
make_eicar "$W/eicar.com"
for p in DELE CURE WARN SUSP CORR ERRO; do make_eicar "$W/$p.com" "$p-"; done
printf 'nothing to see\n' > "$TMP/src/notes.txt"
(cd "$TMP/src" && zip -q -P secret "$W/protected.zip" notes.txt)
make_random "$TMP/src/rand.bin" 20000
(cd "$TMP/src" && zip -q "$TMP/src/full.zip" rand.bin)
head -c 150 "$TMP/src/full.zip" > "$W/trunc.zip"
head -c $((4 << 20)) /dev/zero > "$TMP/src/zeros.bin"
(cd "$TMP/src" && zip -q "$W/bomb.zip" zeros.bin)
make_random "$W/big.bin" 20000
make_random "$TMP/slow.bin" 8192
for f in protected.zip trunc.zip bomb.zip; do
    [ -s "$W/$f" ] || { notok "fixture $f could be built (zip)"; exit 1; }
done

# A second origin for the slow object: Content-Length 8192, 5000 bytes,
# a 1.5 s pause, then the rest.
SLOW=$(free_port)
python3 - "$SLOW" "$TMP/slow.bin" <<'PY' 2>"$TMP/slow.log" &
import http.server, socketserver, sys, time
data = open(sys.argv[2], "rb").read()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[:5000]); self.wfile.flush()
        time.sleep(1.5)
        self.wfile.write(data[5000:])
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
BG_PIDS="$BG_PIDS $!"

# ---- bulwarkd with one group per action (and per limit) --------------------
ACTION_KEYS="InfectedAction SuspiciousAction WarningAction ProtectedAction CorruptedAction
ErrorAction CuredAction MaxReqLengthAction TimeoutAction"
P=$(free_port)
bw_write_conf "$TMP/a.conf" "$P"
{
    group() { # NAME PRIORITY URLREGEX ACTION [extra section lines...]
        local name=$1 prio=$2 url=$3 act=$4 k; shift 4
        printf '[icapserver.groups:%s]\nPriority = %s\nURL = %s\n[icapserver.actions:%s]\n' \
            "$name" "$prio" "$url" "$name"
        for k in $ACTION_KEYS; do printf '%s = %s\n' "$k" "$act"; done
        printf '%s\n' "$@"
    }
    for a in skip deny cure; do
        group "$a" 1 "[?&]act=$a(&|\$)" "$a"
    done
    for a in skip deny; do
        group "$a-size" 2 "[?&]act=$a&lim=size\$" "$a" "[icapserver.filter:$a-size]" "MaxReqLength = 8K"
        group "$a-time" 2 "[?&]act=$a&lim=time\$" "$a" "[icapserver.engine.options:$a-time]" \
            "MaxScanTime = 500ms"
    done
    # Cure = no: a curable object counts as infected (InfectedAction),
    # whatever CuredAction says.
    printf '[icapserver.groups:nocure]\nPriority = 1\nURL = [?&]act=nocure$\n'
    printf '[icapserver.actions:nocure]\nInfectedAction = deny\nCuredAction = cure\n'
    printf '[icapserver.engine.options:nocure]\nCure = no\n'
    # ... even when InfectedAction is cure: nothing is cured then.
    printf '[icapserver.groups:nocure2]\nPriority = 1\nURL = [?&]act=nocure2$\n'
    printf '[icapserver.actions:nocure2]\nInfectedAction = cure\nCuredAction = cure\n'
    printf '[icapserver.engine.options:nocure2]\nCure = no\n'
} >> "$TMP/a.conf"
bw_start "$TMP/a.conf" "$TMP/a.log" "$P" || { notok "bulwarkd starts with the action groups"; exit 1; }
OP=$(free_port); SQ=$(free_port)
origin_start "$W" "$OP" || exit 1
wait_port "$SLOW" 10 || { notok "the slow origin starts"; cat "$TMP/slow.log"; exit 1; }
squid_start "$TMP/squid" "$SQ" "$P" || exit 1

# The block page of each status, by its <title> in the shipped template.
title() {
    sed -n 's:.*<title>\(.*\)</title>.*:\1:p' "$ROOT/conf/templates/object_$1.html" | head -1
}
titles=$(for s in infected cured warning suspicious protected corrupted error too_large timeout; do title $s; done)
expect_eq "the nine block pages have distinct titles" "$(printf '%s\n' "$titles" | sort -u | wc -l)" 9

# fetch NAME URL STATUS ACTION EXPECT [ORIGINAL]
#   EXPECT: orig (the original bytes of ORIGINAL), page (403 + the block page
#   of STATUS), cured (the bytes "CURE").  Records URL STATUS ACTION for the
#   report-log pass.
: > "$TMP/expected"
n=0
fetch() {
    local name=$1 url=$2 status=$3 action=$4 expect=$5 orig=${6:-} out code want
    n=$((n + 1))
    out="$TMP/got.$n"
    code=$(curl -s --max-time 20 -o "$out" -w '%{http_code}' -x "http://127.0.0.1:$SQ" "$url")
    case $expect in
    orig)
        if [ "$code" = 200 ] && [ "$(sha "$out")" = "$(sha "$orig")" ]; then
            ok "$name: $status + $action -> the original bytes"
        else
            notok "$name: $status + $action -> the original bytes (HTTP $code, $(stat -c %s "$out") bytes)"
        fi ;;
    page)
        local lc
        lc=$(printf '%s' "$status" | tr 'A-Z' 'a-z')
        want=$(title "$lc")
        if [ "$code" = 403 ] && grep -qF "<title>$want</title>" "$out"; then
            ok "$name: $status + $action -> 403 with object_$lc.html"
        else
            notok "$name: $status + $action -> 403 with object_$lc.html (HTTP $code: $(grep -o '<title>[^<]*' "$out" | head -1))"
        fi ;;
    cured)
        if [ "$code" = 200 ] && [ "$(cat "$out")" = CURE ]; then
            ok "$name: $status + $action -> the cured bytes"
        else
            notok "$name: $status + $action -> the cured bytes (HTTP $code, $(head -c 40 "$out" | tr -c '[:print:]' '.'))"
        fi ;;
    esac
    printf '%s %s %s %s\n' "$url" "$status" "$action" "$name" >> "$TMP/expected"
}

B="http://127.0.0.1:$OP/files"
for a in skip deny cure; do
    fetch "clean.txt" "$B/clean.txt?act=$a" CLEAN skip orig "$W/clean.txt"
done
for f in eicar.com DELE.com; do
    fetch "$f" "$B/$f?act=skip" INFECTED skip orig "$W/$f"
    fetch "$f" "$B/$f?act=deny" INFECTED deny page
done
# skip for a curable object lets the cured object through, as in the proxy
# product whose keys these are (never the infected original): the report
# says cure.
fetch "CURE.com" "$B/CURE.com?act=skip" CURED cure cured
fetch "CURE.com" "$B/CURE.com?act=deny" CURED deny page
fetch "CURE.com" "$B/CURE.com?act=cure" CURED cure cured
for pair in WARN:WARNING SUSP:SUSPICIOUS; do
    f=${pair%%:*}.com s=${pair#*:}
    fetch "$f" "$B/$f?act=skip" "$s" skip orig "$W/$f"
    fetch "$f" "$B/$f?act=deny" "$s" deny page
done
for pair in CORR.com:CORRUPTED trunc.zip:CORRUPTED ERRO.com:ERROR bomb.zip:ERROR protected.zip:PROTECTED; do
    f=${pair%%:*} s=${pair#*:}
    fetch "$f" "$B/$f?act=skip" "$s" skip orig "$W/$f"
    fetch "$f" "$B/$f?act=deny" "$s" deny page
done
fetch "big.bin" "$B/big.bin?act=skip&lim=size" TOO_LARGE skip orig "$W/big.bin"
fetch "big.bin" "$B/big.bin?act=deny&lim=size" TOO_LARGE deny page
fetch "slow.bin" "http://127.0.0.1:$SLOW/slow.bin?act=skip&lim=time" TIMEOUT skip orig "$TMP/slow.bin"
fetch "slow.bin" "http://127.0.0.1:$SLOW/slow.bin?act=deny&lim=time" TIMEOUT deny page
# Beyond the matrix: cure where nothing can be cured blocks (and the report
# says deny); Cure = no makes a curable object follow InfectedAction, and
# never returns it cured.
fetch "eicar.com" "$B/eicar.com?act=cure" INFECTED deny page
fetch "CURE.com" "$B/CURE.com?act=nocure" CURED deny page
fetch "CURE.com" "$B/CURE.com?act=nocure2" CURED deny page

# ---- the report log: one RESPMOD line per fetch, with STATUS and ACTION -----
reported() { [ "$(grep -c ' RESPMOD ' "$TMP/report-$P.log")" -ge "$(wc -l <"$TMP/expected")" ]; }
wait_until 10 reported
python3 - "$TMP/report-$P.log" "$TMP/expected" <<'PY'
import sys
lines = [l.rstrip("\n").split(" ") for l in open(sys.argv[1], encoding="latin-1")]
# TIME CLIENT USER METHOD URL SIZE STATUS THREAT... ACTION MSms GROUP
by_url = {}
for f in lines:
    if len(f) >= 11 and f[3] == "RESPMOD":
        by_url.setdefault(f[4], []).append((f[6], f[-3], f[-1]))
for e in open(sys.argv[2]):
    url, status, action, name = e.split()
    got = by_url.get(url, [])
    label = "report log: %s %s -> %s %s" % (name, url.split("?", 1)[1], status, action)
    if len(got) == 1 and got[0][:2] == (status, action):
        print("ok - %s (group %s)" % (label, got[0][2]))
    else:
        print("not ok - %s" % label)
        print("    got: %r" % got)
PY

squid_stop
check "bulwarkd exits 0 on SIGTERM" bw_stop
bw_log_clean "status x action" "$TMP/a.log"
