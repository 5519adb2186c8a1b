#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# bulwarkd against c-icap-client (Debian's c-icap package), an ICAP client
# written by someone else: if it and bulwarkd disagree about the protocol,
# one of them reads RFC 3507 differently, and NAS devices and c-icap-style
# clients would meet the same disagreement.
. "$(dirname "$0")/icap-lib.sh"

if ! command -v c-icap-client >/dev/null; then
    notok "c-icap-client is installed (package c-icap, scripts/install-deps.sh)"
    exit 1
fi
if [ ! -x "$BULWARKD" ]; then
    notok "c-icap-client: bulwarkd is built ($BULWARKD missing)"
    exit 1
fi

P=$(free_port)
REPORT="$TMP/report-$P.log"
bw_write_conf "$TMP/bulwark.conf" "$P"
bw_start "$TMP/bulwark.conf" "$TMP/bulwarkd.log" "$P" || { notok "c-icap-client: bulwarkd starts"; exit 1; }

make_eicar "$TMP/eicar.com"
make_random "$TMP/small" 1000
make_random "$TMP/clean" 100000
make_random "$TMP/big" 10485760

# cic OUTFILE ARGS...: runs c-icap-client (bounded), its report in $TMP/cic.txt
cic() {
    local out=$1; shift
    rm -f "$out"
    timeout 20 c-icap-client -i 127.0.0.1 -p "$P" -o "$out" -v "$@" >"$TMP/cic.txt" 2>&1
}
has() { grep -qF -- "$1" "$TMP/cic.txt"; }
show() { sed 's/^/    /' "$TMP/cic.txt" | head -30; }
# expect NAME COND...: one TAP line; on failure, c-icap-client's output
expect() { local n=$1; shift; if "$@"; then ok "c-icap-client: $n"; else notok "c-icap-client: $n"; show; fi; }
all() { local c; for c in "$@"; do eval "$c" || return 1; done; }

# --- OPTIONS -------------------------------------------------------------------------
cic "$TMP/o" -s av/respmod
expect "OPTIONS av/respmod: 200, Methods: RESPMOD, Preview 4096, Allow 204 and 206" \
    all 'has "ICAP/1.0 200 OK"' 'has "Methods: RESPMOD"' 'has "Preview: 4096"' \
        'has "Allow 204: Yes"' 'has "Allow 206: Yes"' 'has "Encapsulated: null-body=0"'
ISTAG=$(grep -o 'ISTag: "[^"]*"' "$TMP/cic.txt" | head -1)
expect "OPTIONS: a quoted ISTag ($ISTAG)" test -n "$ISTAG"
cic "$TMP/o" -s av/reqmod
expect "OPTIONS av/reqmod: Methods: REQMOD" all 'has "ICAP/1.0 200 OK"' 'has "Methods: REQMOD"'
cic "$TMP/o" -s avscan
expect "OPTIONS avscan: Methods: RESPMOD, REQMOD" all 'has "ICAP/1.0 200 OK"' 'has "Methods: RESPMOD, REQMOD"'

# --- RESPMOD of clean files ---------------------------------------------------------
cic "$TMP/o" -s av/respmod -f "$TMP/clean"
expect "RESPMOD clean 100 KB with preview: 204 with the same ISTag" all 'has "ICAP/1.0 204"' 'has "$ISTAG"'
cic "$TMP/o" -s av/respmod -f "$TMP/clean" -no204
expect "RESPMOD clean 100 KB with preview, no Allow: 204: 200 echo, byte-identical" \
    all 'has "ICAP/1.0 200 OK"' 'cmp -s "$TMP/clean" "$TMP/o"'
cic "$TMP/o" -s av/respmod -f "$TMP/small" -no204
expect "RESPMOD clean 1 KB, whole body in the preview (ieof): 204" has "ICAP/1.0 204"
cic "$TMP/o" -s av/respmod -f "$TMP/clean" -nopreview
expect "RESPMOD clean 100 KB without preview, Allow: 204: 204" has "ICAP/1.0 204"
cic "$TMP/o" -s av/respmod -f "$TMP/clean" -nopreview -no204
expect "RESPMOD clean 100 KB without preview nor Allow: 204: 200 echo, byte-identical" \
    all 'has "ICAP/1.0 200 OK"' 'cmp -s "$TMP/clean" "$TMP/o"'
cic "$TMP/o" -s av/respmod -f "$TMP/clean" -nopreview -no204 -206
expect "RESPMOD clean 100 KB with Allow: 206 only: 206, use-original-body=0, output identical" \
    all 'has "ICAP/1.0 206"' 'has "use 0 from the original body"' 'cmp -s "$TMP/clean" "$TMP/o"'
cic "$TMP/o" -s av/respmod -f "$TMP/big" -nopreview -no204
expect "RESPMOD clean 10 MB echo: byte-identical" all 'has "ICAP/1.0 200 OK"' 'cmp -s "$TMP/big" "$TMP/o"'

# --- EICAR ------------------------------------------------------------------------------
eicar_blocked() { # the verdict in the ICAP headers and the HTTP 403 page
    all 'has "ICAP/1.0 200 OK"' 'has "HTTP/1.1 403 Forbidden"' \
        'has "X-Infection-Found: Type=0; Resolution=2; Threat=EICAR-Test-File;"' \
        'has "X-Virus-ID: EICAR-Test-File"' 'has "X-Response-Info: Blocked"' \
        'has "Cache-Control: no-store"' 'grep -q EICAR-Test-File "$TMP/o"'
}
cic "$TMP/o" -s av/respmod -f "$TMP/eicar.com" -resp http://files.test/eicar.com \
    -x "X-Client-IP: 198.51.100.23"
expect "RESPMOD EICAR with preview: 200 + HTTP 403 page, X-Infection-Found, X-Virus-ID" eicar_blocked
if grep -q 'EICAR-Test-File' "$TMP/o" && grep -qF 'http://files.test/eicar.com' "$TMP/o"; then
    ok "c-icap-client: the block page names the threat and the URL"
else notok "c-icap-client: the block page names the threat and the URL"; head -c 600 "$TMP/o" | sed 's/^/    /'; fi
cic "$TMP/o" -s av/respmod -f "$TMP/eicar.com" -nopreview
expect "RESPMOD EICAR without preview: blocked" eicar_blocked

# --- the avscan service takes both methods ------------------------------------------------
cic "$TMP/o" -s avscan -f "$TMP/eicar.com"
expect "avscan RESPMOD EICAR: blocked" eicar_blocked
cic "$TMP/o" -s avscan -method POST -req http://files.test/upload -f "$TMP/eicar.com"
expect "avscan REQMOD EICAR: blocked (HTTP 403 in place of the request)" eicar_blocked
cic "$TMP/o" -s avscan -method POST -req http://files.test/upload -f "$TMP/clean" -no204
expect "avscan REQMOD clean: 200 echo of the request, body byte-identical" \
    all 'has "ICAP/1.0 200 OK"' 'has "POST http://files.test/upload"' 'cmp -s "$TMP/clean" "$TMP/o"'
cic "$TMP/o" -s avscan -f "$TMP/clean"
expect "avscan RESPMOD clean: 204" has "ICAP/1.0 204"
cic "$TMP/o" -s av/reqmod -req http://files.test/upload -f "$TMP/eicar.com"
expect "av/reqmod REQMOD EICAR: blocked" eicar_blocked

# --- the report log -----------------------------------------------------------------------
if grep -F 'http://files.test/eicar.com' "$REPORT" 2>/dev/null | grep -q '198\.51\.100\.23 .*RESPMOD .* 68 INFECTED EICAR-Test-File deny'; then
    ok "c-icap-client: the report line has the X-Client-IP, URL, size, status and threat"
else
    notok "c-icap-client: the report line has the X-Client-IP, URL, size, status and threat"
    tail -5 "$REPORT" 2>/dev/null | sed 's/^/    /'
fi

bw_log_clean c-icap-client "$TMP/bulwarkd.log"
check "c-icap-client: bulwarkd exits 0 on SIGTERM" bw_stop
