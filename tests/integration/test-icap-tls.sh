#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ICAP over TLS (icaps://, docs/icap-tls.md): a CA and a server certificate
# made with the openssl CLI; the startup errors for a missing or mismatched
# key; OPTIONS through `openssl s_client`; NAS-style RESPMODs (EICAR, clean,
# a 10 MB echo) through Python's ssl; TLS 1.1 and plain ICAP refused on the
# TLS port; then real Squid (built --with-openssl: Debian's squid-openssl)
# with icaps:// services and tls-cafile, fetching through `curl -x`.
. "$(dirname "$0")/icap-lib.sh"

NASC="$ROOT/tests/integration/nas-client.py"
for tool in openssl squid curl; do
    if ! command -v "$tool" >/dev/null; then notok "tls: $tool is installed (scripts/install-deps.sh)"; exit 1; fi
done
if [ ! -x "$BULWARKD" ]; then notok "tls: bulwarkd is built ($BULWARKD missing)"; exit 1; fi

# ---- certificates ------------------------------------------------------------------
C=$TMP/tls
mkdir -p "$C"
cat >"$C/ext.cnf" <<'EOF'
[srv]
subjectAltName = DNS:localhost, IP:127.0.0.1
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
EOF
mkcert() { # mkcert PREFIX: a CA (PREFIX-ca.pem) and a server cert signed by it
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout "$C/$1-ca.key" -out "$C/$1-ca.pem" -subj "/CN=Bulwark test CA $1" 2>/dev/null &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$C/$1-server.key" -out "$C/$1-server.csr" -subj "/CN=localhost" 2>/dev/null &&
    openssl x509 -req -in "$C/$1-server.csr" -CA "$C/$1-ca.pem" -CAkey "$C/$1-ca.key" \
        -CAcreateserial -days 2 -extfile "$C/ext.cnf" -extensions srv -out "$C/$1-server.pem" 2>/dev/null
}
if ! mkcert good || ! mkcert other; then notok "tls: openssl makes the test certificates"; exit 1; fi
CA=$C/good-ca.pem CERT=$C/good-server.pem KEY=$C/good-server.key

# ---- configuration errors: bulwarkd -t says what is wrong ------------------------------
P=$(free_port) TP=$(free_port)
conf_t() { # conf_t NAME REGEX KEY=VALUE...: bulwarkd -t fails and says REGEX
    local name=$1 re=$2 out; shift 2
    bw_write_conf "$TMP/bad.conf" "$P" "icapserver.network.TlsListenAddress=127.0.0.1:$TP" "$@"
    if out=$("$BULWARKD" -c "$TMP/bad.conf" -t 2>&1); then notok "tls: $name: bulwarkd -t fails"; echo "    $out"
    else expect_match "tls: $name" "$out" "$re"; fi
}
conf_t "TlsListenAddress without TlsCertificateFile is a configuration error" \
    "bad\.conf: icap: TlsListenAddress 127\.0\.0\.1:$TP needs TlsCertificateFile"
conf_t "TlsListenAddress without TlsPrivateKeyFile is a configuration error" \
    "needs TlsPrivateKeyFile" "icapserver.network.TlsCertificateFile=$CERT"
conf_t "a missing key file is named, with the system's reason" \
    "TlsPrivateKeyFile $C/none\.key: No such file or directory" \
    "icapserver.network.TlsCertificateFile=$CERT" "icapserver.network.TlsPrivateKeyFile=$C/none.key"
conf_t "a key that is not the certificate's is refused" \
    "TlsPrivateKeyFile $C/other-server\.key: .*mismatch" \
    "icapserver.network.TlsCertificateFile=$CERT" "icapserver.network.TlsPrivateKeyFile=$C/other-server.key"
conf_t "a file that is not a certificate is refused" "TlsCertificateFile $C/good-server\.key: " \
    "icapserver.network.TlsCertificateFile=$C/good-server.key" "icapserver.network.TlsPrivateKeyFile=$KEY"

# ---- the daemon with a plain and a TLS listener -------------------------------------
bw_write_conf "$TMP/tls.conf" "$P" "icapserver.network.TlsListenAddress=127.0.0.1:$TP" \
    "icapserver.network.TlsCertificateFile=$CERT" "icapserver.network.TlsPrivateKeyFile=$KEY"
bw_start "$TMP/tls.conf" "$TMP/tls.log" "$P" || { notok "tls: bulwarkd starts with a TLS listener"; exit 1; }

sclient() { # sclient REQUEST ARGS...: one request through openssl s_client (verified)
    local req=$1; shift
    printf '%b' "$req" | timeout 10 openssl s_client -connect "127.0.0.1:$TP" -CAfile "$CA" \
        -verify_return_error -servername localhost -quiet "$@" 2>"$TMP/sclient.err"
}
OPT='OPTIONS icap://127.0.0.1/avscan ICAP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\nEncapsulated: null-body=0\r\n\r\n'
A=$(sclient "$OPT")
expect_match "tls: OPTIONS over TLS (openssl s_client, certificate verified): 200 with Methods and ISTag" \
    "$A" 'ICAP/1.0 200 OK.*'
PLAIN_ISTAG=$(python3 - "$P" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"OPTIONS icap://127.0.0.1/avscan ICAP/1.0\r\nHost: x\r\nConnection: close\r\nEncapsulated: null-body=0\r\n\r\n")
d = b""
while b"\r\n\r\n" not in d:
    x = s.recv(4096)
    if not x:
        break
    d += x
print([l for l in d.decode().split("\r\n") if l.startswith("ISTag:")][0])
EOF
)
if printf '%s' "$A" | grep -q 'Methods: RESPMOD, REQMOD' && printf '%s' "$A" | grep -qF "$PLAIN_ISTAG"; then
    ok "tls: the TLS service is the same service (Methods, and the plain listener's $PLAIN_ISTAG)"
else notok "tls: the TLS service is the same service (Methods, and the plain listener's ISTag)"; printf '%s\n' "$A" | sed 's/^/    /'; fi
A=$(sclient "$OPT" -tls1_2)
expect_match "tls: TLS 1.2 is accepted" "$A" '^ICAP/1.0 200 OK'
A=$(sclient "$OPT" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0')
if printf '%s' "$A" | grep -q '^ICAP/'; then notok "tls: TLS 1.1 is refused"; else ok "tls: TLS 1.1 is refused"; fi

# NAS-style requests over TLS (Python ssl, certificate verified)
make_eicar "$TMP/eicar.com"
make_random "$TMP/1k" 1024
make_random "$TMP/10m" 10485760
nas() { local out=$1; shift; timeout 60 python3 "$NASC" --port "$TP" --tls-ca "$CA" "$@" >"$out" 2>"$out.err"; }
jexpect() { # jexpect NAME FILE PYEXPR (d: the answer)
    python3 - "$@" <<'EOF'
import json, sys
name, path, expr = sys.argv[1:4]
try:
    d = json.load(open(path))
    good = bool(eval(expr))
except Exception as e:
    d, good = {"error": repr(e)}, False
print(("ok - tls: " if good else "not ok - tls: ") + name)
if not good:
    print("    expected: " + expr)
    print("    error: %s" % d.get("error"))
    for ln in d.get("head", "").split("\r\n"):
        print("    " + ln)
EOF
}
nas "$TMP/a" --file "$TMP/eicar.com" --headers none
jexpect "EICAR over TLS 1.3: 200, X-Infection-Found, encapsulated 403" "$TMP/a" \
    'd["tls"] == "TLSv1.3" and d["status"] == 200 and "X-Infection-Found: Type=0; Resolution=2; Threat=EICAR-Test-File;\r\n" in d["head"] and d["http"].startswith("HTTP/1.1 403 ")'
nas "$TMP/a" --file "$TMP/1k" --headers reqres --preview 4096
jexpect "clean 1 KB over TLS with a preview: 204" "$TMP/a" 'd["status"] == 204'
SHA10=$(sha "$TMP/10m")
nas "$TMP/a" --file "$TMP/10m" --headers reqres --no204
jexpect "10 MB over TLS without Allow: 204: 200, the same 10 MB back" "$TMP/a" \
    "d['status'] == 200 and d['body_len'] == 10485760 and d['body_sha256'] == '$SHA10'"
timeout 60 python3 "$NASC" --port "$TP" --tls-ca "$C/other-ca.pem" --file "$TMP/1k" >"$TMP/a" 2>/dev/null
jexpect "a client trusting another CA refuses the server (the configured certificate is served)" "$TMP/a" \
    '"CERTIFICATE_VERIFY_FAILED" in d["error"] and d["status"] == 0'

# plain ICAP on the TLS port: no answer, the connection ends; the service goes on
R=$(python3 - "$TP" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"OPTIONS icap://127.0.0.1/avscan ICAP/1.0\r\nHost: x\r\nEncapsulated: null-body=0\r\n\r\n")
d = b""
try:
    while True:
        x = s.recv(4096)
        if not x:
            break
        d += x
    print("closed" + (" icap" if b"ICAP/" in d else ""))
except OSError as e:
    print("closed" if isinstance(e, ConnectionResetError) else "error %s" % e)
EOF
)
expect_eq "tls: plain ICAP on the TLS port gets no ICAP answer and is closed" "$R" "closed"
tlsline() { grep -m1 "icaps client: " "$TMP/tls.log"; }
wait_until 10 tlsline
expect_match "tls: the worker logs the broken client with time, bulwarkd[pid] and level, as the supervisor does" \
    "$(tlsline)" "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} bulwarkd\[[0-9]+\] info: icaps client: "
nas "$TMP/a" --file "$TMP/1k" --headers none
jexpect "the TLS port still serves after that" "$TMP/a" 'd["status"] == 204'

# ---- Squid with icaps:// services -----------------------------------------------------
if ! squid -v | grep -q -- '--with-openssl'; then
    notok "tls: squid is built --with-openssl (Debian's squid-openssl; the GnuTLS build ignores tls-cafile)"
else
    HP=$(free_port) OP=$(free_port)
    mkdir -p "$TMP/www"
    cp "$TMP/eicar.com" "$TMP/www/eicar.com"
    make_random "$TMP/www/clean.bin" 1048576
    origin_start "$TMP/www" "$OP" || notok "tls: the origin starts"
    # Squid 5 matches the service's host against the certificate's DNS
    # names only (not IP addresses): tls-domain names the one to expect.
    # shellcheck disable=SC2034  # read by squid_start (icap-lib.sh)
    SQUID_EXTRA="icap_enable on
icap_send_client_ip on
icap_preview_enable on
icap_preview_size 4096
icap_service is_kav_resp respmod_precache bypass=off icaps://127.0.0.1:$TP/av/respmod tls-cafile=$CA tls-domain=localhost
icap_service is_kav_req reqmod_precache bypass=off icaps://127.0.0.1:$TP/av/reqmod tls-cafile=$CA tls-domain=localhost
adaptation_access is_kav_req allow all
adaptation_access is_kav_resp allow all"
    if squid_start "$TMP/squid" "$HP" none; then
        get() { curl -s --noproxy '' -x "http://127.0.0.1:$HP" --max-time 30 "$@"; }
        code=$(get -o "$TMP/got.bin" -w '%{http_code}' "http://127.0.0.1:$OP/files/clean.bin")
        if [ "$code" = 200 ] && cmp -s "$TMP/got.bin" "$TMP/www/clean.bin"; then
            ok "tls: Squid over icaps://: a clean 1 MB file arrives intact (200)"
        else notok "tls: Squid over icaps://: a clean 1 MB file arrives intact (got $code)"; tail -5 "$TMP/squid/cache.log" | sed 's/^/    /'; fi
        code=$(get -o "$TMP/got.html" -w '%{http_code}' "http://127.0.0.1:$OP/files/eicar.com")
        if [ "$code" = 403 ] && grep -q 'EICAR-Test-File' "$TMP/got.html"; then
            ok "tls: Squid over icaps://: EICAR is blocked with the 403 page"
        else notok "tls: Squid over icaps://: EICAR is blocked with the 403 page (got $code)"; tail -5 "$TMP/squid/cache.log" | sed 's/^/    /'; fi
        code=$(get -o "$TMP/got.html" -w '%{http_code}' -F "file=@$TMP/eicar.com" "http://127.0.0.1:$OP/upload")
        if [ "$code" = 403 ] && grep -q 'EICAR-Test-File' "$TMP/got.html"; then
            ok "tls: Squid over icaps:// (REQMOD): an EICAR upload is blocked"
        else notok "tls: Squid over icaps:// (REQMOD): an EICAR upload is blocked (got $code)"; fi
        if grep -qE 'essential ICAP service is down|TLS negotiation .* failed' "$TMP/squid/cache.log"; then
            notok "tls: Squid logged no ICAP service failure"; grep -E 'ICAP|TLS' "$TMP/squid/cache.log" | tail -5 | sed 's/^/    /'
        else ok "tls: Squid logged no ICAP service failure"; fi
        check "tls: squid exits cleanly" squid_stop
    else
        notok "tls: squid starts with icaps:// services"
    fi
    origin_stop
fi

# ---- a renewed certificate is served after a configuration reload (SIGHUP) ----------------
served_fp() {
    timeout 10 openssl s_client -connect "127.0.0.1:$TP" -servername localhost </dev/null 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 2>/dev/null
}
OLD_FP=$(served_fp)
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/renewed.key" \
    -out "$C/renewed.csr" -subj "/CN=localhost" 2>/dev/null
openssl x509 -req -in "$C/renewed.csr" -CA "$CA" -CAkey "$C/good-ca.key" -CAcreateserial -days 2 \
    -extfile "$C/ext.cnf" -extensions srv -out "$C/renewed.pem" 2>/dev/null
NEW_FP=$(openssl x509 -in "$C/renewed.pem" -noout -fingerprint -sha256)
cp "$C/renewed.pem" "$CERT"
cp "$C/renewed.key" "$KEY"
kill -HUP "$BW_PID"
GOT_FP=""
for _ in $(seq 1 50); do
    GOT_FP=$(served_fp)
    [ -n "$GOT_FP" ] && [ "$GOT_FP" = "$NEW_FP" ] && break
    sleep 0.2
done
if [ -n "$OLD_FP" ] && [ "$OLD_FP" != "$NEW_FP" ] && [ "$GOT_FP" = "$NEW_FP" ]; then
    ok "tls: after SIGHUP the renewed certificate is served"
else notok "tls: after SIGHUP the renewed certificate is served"; echo "    before $OLD_FP"; echo "    want   $NEW_FP"; echo "    got    $GOT_FP"; fi
nas "$TMP/a" --file "$TMP/eicar.com" --headers none
jexpect "EICAR over TLS after the reload: blocked" "$TMP/a" 'd["status"] == 200 and d["http"].startswith("HTTP/1.1 403 ")'

if grep -q ' RESPMOD .* INFECTED EICAR-Test-File deny' "$TMP/report-$P.log" 2>/dev/null; then
    ok "tls: TLS requests are in the report log"
else notok "tls: TLS requests are in the report log"; fi
bw_log_clean tls "$TMP/tls.log"
check "tls: bulwarkd exits 0 on SIGTERM" bw_stop
