#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# bulwarkd behind a real Squid (Debian's squid package): a test-local proxy
# on loopback with the deployment lines from issue 3, in front of a local
# origin (origin.py).  curl is the browser.  What the user sees is checked
# end to end: clean objects arrive byte-identical whatever their size and
# framing, infected ones become the block page, uploads are scanned through
# REQMOD, and the EICAR test modifications get their configured actions.
. "$(dirname "$0")/icap-lib.sh"

for tool in squid curl; do
    if ! command -v "$tool" >/dev/null; then
        notok "squid: $tool is installed (scripts/install-deps.sh)"
        exit 1
    fi
done
if [ ! -x "$BULWARKD" ]; then
    notok "squid: bulwarkd is built ($BULWARKD missing)"
    exit 1
fi

# --- the origin's files ------------------------------------------------------------
WWW="$TMP/www"
mkdir -p "$WWW"
SIZES="0 1 15360 65535 65537 1048576 10485760 52428800"
for n in $SIZES; do make_random "$WWW/r$n" "$n"; done
make_eicar "$WWW/eicar.com"
for m in CURE WARN SUSP DELE CORR ERRO; do make_eicar "$WWW/$m.com" "$m-"; done
python3 - "$WWW" <<'EOF'
import sys, zipfile, random
d = sys.argv[1]
eicar = open(d + "/eicar.com", "rb").read()
with zipfile.ZipFile(d + "/eicar.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("readme.txt", "nothing to see here\n" * 50)
    z.writestr("dir/eicar.com", eicar)
random.seed(8)
junk = random.randbytes(1 << 20)
with zipfile.ZipFile(d + "/eicar-last.zip", "w", zipfile.ZIP_STORED) as z:
    z.writestr("junk.bin", junk)
    z.writestr("eicar.com", eicar)
open(d + "/eicar-head.bin", "wb").write(eicar + junk)
random.seed(7)
words = [b"alpha", b"beta", b"gamma", b"delta", b"proxy", b"scan", b"\n"]
open(d + "/text.txt", "wb").write(b" ".join(random.choice(words) for _ in range(200000)))
EOF

ICAP=$(free_port); HTTP=$(free_port); SQ=$(free_port); SQ0=$(free_port)
REPORT="$TMP/report-$ICAP.log"
bw_write_conf "$TMP/bulwark.conf" "$ICAP"
bw_start "$TMP/bulwark.conf" "$TMP/bulwarkd.log" "$ICAP" || { notok "squid: bulwarkd starts"; exit 1; }
origin_start "$WWW" "$HTTP" || { notok "squid: origin starts"; exit 1; }
if ! squid_start "$TMP/squid" "$SQ" "$ICAP"; then notok "squid: squid starts with the ICAP lines"; exit 1; fi
SQUID_ICAP_PID=$SQUID_PID
ok "squid: squid -k parse accepts the issue's ICAP lines and squid starts"
if grep -qE "UPGRADE|WARNING" "$TMP/squid/parse.log"; then
    notok "squid: the documented ICAP lines parse without an UPGRADE or WARNING"
    grep -E "UPGRADE|WARNING" "$TMP/squid/parse.log" | head -5 | sed 's/^/    /'
else ok "squid: the documented ICAP lines parse without an UPGRADE or WARNING"; fi
if ! squid_start "$TMP/squid0" "$SQ0" none; then notok "squid: squid without ICAP starts"; exit 1; fi
SQUID_PLAIN_PID=$SQUID_PID

ORIGIN="http://127.0.0.1:$HTTP"
# get URL OUT [PROXYPORT] [curl args...]: prints the HTTP status code; the
# response headers are in $TMP/out.hdr
get() {
    local url=$1 out=$2 port=${3:-$SQ}; shift 3 2>/dev/null || shift $#
    rm -f "$TMP/out.hdr"; [ "$out" = /dev/null ] || rm -f "$out"
    # a transfer stalled for 5 s fails at once: the suite stays fast when broken
    curl -s --noproxy '' -x "http://127.0.0.1:$port" --max-time 60 --speed-time 5 --speed-limit 1 \
        -o "$out" -D "$TMP/out.hdr" -w '%{http_code}' "$@" "$url"
}

# --- clean downloads: byte-identical -------------------------------------------------
for n in $SIZES; do
    code=$(get "$ORIGIN/files/r$n" "$TMP/out")
    if [ "$code" = 200 ] && [ "$(sha "$TMP/out")" = "$(sha "$WWW/r$n")" ]; then
        ok "squid: clean download of $n bytes arrives byte-identical"
    else
        notok "squid: clean download of $n bytes arrives byte-identical (HTTP $code, $(stat -c %s "$TMP/out" 2>/dev/null || echo 0) bytes)"
        sed 's/^/    /' "$TMP/out.hdr" | head -12
    fi
done

code=$(get "$ORIGIN/gzip/text.txt" "$TMP/out")
if [ "$code" = 200 ] && grep -qi '^content-encoding: *gzip' "$TMP/out.hdr" &&
   [ "$(gzip -dc <"$TMP/out" | sha256sum | cut -d' ' -f1)" = "$(sha "$WWW/text.txt")" ]; then
    ok "squid: a gzip-encoded response arrives still encoded and decodes to the original"
else
    notok "squid: a gzip-encoded response arrives still encoded and decodes to the original (HTTP $code)"
    sed 's/^/    /' "$TMP/out.hdr" | head -12
fi
code=$(get "$ORIGIN/chunked/r1048576" "$TMP/out")
if [ "$code" = 200 ] && [ "$(sha "$TMP/out")" = "$(sha "$WWW/r1048576")" ]; then
    ok "squid: a chunked response (1 MiB) arrives byte-identical"
else
    notok "squid: a chunked response (1 MiB) arrives byte-identical (HTTP $code)"
fi
code=$(get "$ORIGIN/chunked/text.txt" "$TMP/out")
check "squid: a chunked text response arrives byte-identical" \
    test "$code" = 200 -a "$(sha "$TMP/out")" = "$(sha "$WWW/text.txt")"

# --- blocked downloads -----------------------------------------------------------------
blocked() { # NAME URL: the block page, naming the threat and the URL, not cacheable
    local name=$1 url=$2 code
    code=$(get "$url" "$TMP/out")
    if [ "$code" = 403 ] && grep -q 'EICAR-Test-File' "$TMP/out" && grep -qF "$url" "$TMP/out" &&
       grep -qi '^cache-control:.*no-store' "$TMP/out.hdr"; then
        ok "squid: $name gets the 403 block page (threat, URL, Cache-Control: no-store)"
    else
        notok "squid: $name gets the 403 block page (threat, URL, Cache-Control: no-store) (HTTP $code)"
        sed 's/^/    /' "$TMP/out.hdr" | head -12; head -c 600 "$TMP/out" | sed 's/^/    /'
    fi
}
blocked "an EICAR download" "$ORIGIN/files/eicar.com"
blocked "EICAR inside a zip" "$ORIGIN/files/eicar.zip"
blocked "EICAR with Content-Encoding: gzip" "$ORIGIN/gzip/eicar.com"
blocked "EICAR in a chunked response" "$ORIGIN/chunked/eicar.com"

blocked "EICAR at the start of a 1 MiB download" "$ORIGIN/files/eicar-head.bin"
# In a zip the verdict comes at the end, after the answer has started (the
# body past the hold-back was already echoed): the answer must be cut, so the
# client never receives the complete infected object.
code=$(get "$ORIGIN/files/eicar-last.zip" "$TMP/out")
if [ "$code" = 403 ] || [ "$(sha "$TMP/out")" != "$(sha "$WWW/eicar-last.zip")" ]; then
    ok "squid: EICAR at the end of a 1 MiB zip: the client never gets the complete object (HTTP $code, $(stat -c %s "$TMP/out" 2>/dev/null || echo 0) bytes)"
else
    notok "squid: EICAR at the end of a 1 MiB zip: the client never gets the complete object (HTTP $code, complete)"
fi

# --- uploads through REQMOD -----------------------------------------------------------
code=$(get "$ORIGIN/upload" "$TMP/out" "$SQ" -F "file=@$WWW/eicar.com")
if [ "$code" = 403 ] && grep -q 'EICAR-Test-File' "$TMP/out"; then
    ok "squid: a multipart upload of EICAR is blocked by REQMOD (403)"
else
    notok "squid: a multipart upload of EICAR is blocked by REQMOD (403) (HTTP $code)"; head -c 400 "$TMP/out" | sed 's/^/    /'
fi
code=$(get "$ORIGIN/upload" "$TMP/out" "$SQ" -F "file=@$WWW/text.txt")
if [ "$code" = 200 ] && grep -q '^received [0-9]* bytes' "$TMP/out"; then
    ok "squid: a clean multipart upload reaches the origin"
else
    notok "squid: a clean multipart upload reaches the origin (HTTP $code)"; head -c 400 "$TMP/out" | sed 's/^/    /'
fi
code=$(get "$ORIGIN/upload" "$TMP/out" "$SQ" -H 'Content-Type: application/octet-stream' --data-binary "@$WWW/r1048576")
if [ "$code" = 200 ] && grep -q "^received 1048576 bytes sha256=$(sha "$WWW/r1048576")" "$TMP/out"; then
    ok "squid: a clean 1 MiB POST body reaches the origin byte-identical"
else
    notok "squid: a clean 1 MiB POST body reaches the origin byte-identical (HTTP $code)"; head -c 400 "$TMP/out" | sed 's/^/    /'
fi

# --- the EICAR test modifications and the default actions -------------------------------
code=$(get "$ORIGIN/files/CURE.com" "$TMP/out")
if [ "$code" = 200 ] && [ "$(cat "$TMP/out")" = CURE ]; then
    ok "squid: CURE- (CuredAction=cure) delivers the cured body \"CURE\""
else
    notok "squid: CURE- (CuredAction=cure) delivers the cured body \"CURE\" (HTTP $code)"; head -c 300 "$TMP/out" | sed 's/^/    /'
fi
for m in WARN SUSP DELE; do
    code=$(get "$ORIGIN/files/$m.com" "$TMP/out")
    check "squid: $m- is blocked by default (403)" test "$code" = 403
done
for m in CORR ERRO; do
    code=$(get "$ORIGIN/files/$m.com" "$TMP/out")
    check "squid: $m- passes unchanged with the default skip" \
        test "$code" = 200 -a "$(sha "$TMP/out")" = "$(sha "$WWW/$m.com")"
done

# --- time to first byte, 50 MB, with and without ICAP -----------------------------------
t_icap=$(get "$ORIGIN/files/r52428800" /dev/null "$SQ" -w ' %{time_starttransfer} %{time_total}')
t_plain=$(get "$ORIGIN/files/r52428800" /dev/null "$SQ0" -w ' %{time_starttransfer} %{time_total}')
# the -w given twice: curl keeps the last, so the code is not in the output
set -- $t_icap; ti_first=${1:-?}; ti_total=${2:-?}
set -- $t_plain; tp_first=${1:-?}; tp_total=${2:-?}
echo "# ttfb 50MB via squid+bulwarkd: first byte ${ti_first}s, total ${ti_total}s; via squid without ICAP: first byte ${tp_first}s, total ${tp_total}s"

# --- the report log -------------------------------------------------------------------
wait_until 10 grep -qF "$ORIGIN/files/eicar.com" "$REPORT"
if grep -F "$ORIGIN/files/eicar.com" "$REPORT" 2>/dev/null | grep -q 'INFECTED.*EICAR-Test-File' &&
   grep -F "$ORIGIN/files/eicar.com" "$REPORT" | grep -q '127\.0\.0\.1'; then
    ok "squid: the report log has the EICAR download with URL, client IP, INFECTED and the threat"
else
    notok "squid: the report log has the EICAR download with URL, client IP, INFECTED and the threat"
    tail -5 "$REPORT" 2>/dev/null | sed 's/^/    /'
fi
if grep -F "$ORIGIN/files/r1048576" "$REPORT" 2>/dev/null | grep -q 'RESPMOD.* 1048576 CLEAN'; then
    ok "squid: the report log has the clean 1 MiB download with URL, size and CLEAN"
else
    notok "squid: the report log has the clean 1 MiB download with URL, size and CLEAN"
    grep -F "r1048576" "$REPORT" 2>/dev/null | head -3 | sed 's/^/    /'
fi
if grep -F "$ORIGIN/files/r52428800" "$REPORT" 2>/dev/null | grep -q 'RESPMOD.* 52428800 CLEAN'; then
    ok "squid: the 50 MiB download was scanned whole (report: 52428800 bytes, CLEAN)"
else
    notok "squid: the 50 MiB download was scanned whole (report: 52428800 bytes, CLEAN)"
    grep -F "r52428800" "$REPORT" 2>/dev/null | head -3 | sed 's/^/    /'
fi
if grep -F "$ORIGIN/upload" "$REPORT" 2>/dev/null | grep -q 'REQMOD.*INFECTED'; then
    ok "squid: the report log has the blocked upload as REQMOD INFECTED"
else
    notok "squid: the report log has the blocked upload as REQMOD INFECTED"
fi
n_obj=$(grep -c 'RESPMOD' "$REPORT" 2>/dev/null || echo 0)
# 8 sizes + gzip + 2 chunked + 6 blocked + 7 modifications + 2 big = at least 26 RESPMOD objects
if [ "$n_obj" -ge 26 ]; then ok "squid: one report line per downloaded object ($n_obj RESPMOD lines)"
else notok "squid: one report line per downloaded object ($n_obj RESPMOD lines, want >= 26)"; fi

bw_log_clean squid "$TMP/bulwarkd.log"
if grep -q 'suspending ICAP service\|essential ICAP service is down\|ICAP protocol error' "$TMP/squid/cache.log"; then
    notok "squid: squid logged no ICAP failure"; grep -i 'icap' "$TMP/squid/cache.log" | head -5 | sed 's/^/    /'
else ok "squid: squid logged no ICAP failure"; fi

check "squid: squid (ICAP) stops on SIGTERM" squid_stop "$SQUID_ICAP_PID"
squid_stop "$SQUID_PLAIN_PID" || true
origin_stop
check "squid: bulwarkd exits 0 on SIGTERM" bw_stop
