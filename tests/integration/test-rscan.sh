#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The remote-scan server (BWSCAN/1, docs/rscan.md) with real peers: bulwarkd
# servers, a real redis-server on a free loopback port, certificates made by
# openssl, and `bulwark rscan` (the client library the agent uses) as the
# client.  Counters are read from `bulwark ctl stats`: the bytes the server
# received show whether a scan transferred the content or only the hash.
. "$(dirname "$0")/icap-lib.sh"
B="$ROOT/${BUILD:-build}/bulwark"

if ! command -v redis-server >/dev/null; then
    echo "1..0 # SKIP redis-server not installed (scripts/install-deps.sh)"; exit 0
fi

# --- fixtures --------------------------------------------------------------
mkdir -p "$TMP/db" "$TMP/files" "$TMP/pki"
cp "$ROOT"/db/test/* "$TMP/db/"
make_eicar "$TMP/files/eicar.com"
make_random "$TMP/files/clean.bin" 300000        # several chunks
echo "a clean text file" >"$TMP/files/clean.txt"

pki() { openssl "$@" >/dev/null 2>&1; }
cd "$TMP/pki" || exit 1
pki req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Test CA" -keyout ca.key -out ca.pem
for who in server client; do
    pki req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout $who.key -out $who.csr
    printf 'subjectAltName=IP:127.0.0.1\n' >$who.ext
    pki x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile $who.ext -out $who.pem
done
# a client certificate from a CA the server does not trust
pki req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=rogue" -keyout rogue.key -out rogue.pem
cd "$ROOT" || exit 1
check "pki: CA, server and client certificates made" test -s "$TMP/pki/client.pem"

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$TMP" --daemonize no >"$TMP/redis.log" 2>&1 &
BG_PIDS="$BG_PIDS $!"
check "redis-server answers on port $RPORT" wait_port "$RPORT" 20

# server NAME: writes $TMP/NAME.conf and starts it; sets <NAME>_SCAN, <NAME>_ICAP
start_server() {
    local name=$1 icap scan; shift
    icap=$(free_port); scan=$(free_port); metrics=$(free_port)
    bw_write_conf "$TMP/$name.conf" "$icap" path.BasesPath="$TMP/db" \
        icapserver.statistics.MetricsAddress="127.0.0.1:$metrics" \
        icapserver.process.MaxChildren=1 \
        rscan.Listen="127.0.0.1:$scan" rscan.RedisUrl="redis://127.0.0.1:$RPORT" \
        rscan.MaxFileSize=4M rscan.CacheEntries=1024 "$@"
    bw_start "$TMP/$name.conf" "$TMP/$name.log" "$icap" || return 1
    eval "${name}_SCAN=$scan ${name}_ICAP=$icap ${name}_PID=$BW_PID ${name}_METRICS=$metrics"
}
# counter NAME KEY: a counter of `ctl stats`
counter() { "$B" ctl -c "$TMP/$1.conf" stats | awk -v k="$2" '$1 == k {print $2}'; }
TLSOPTS=(--ca "$TMP/pki/ca.pem" --cert "$TMP/pki/client.pem" --key "$TMP/pki/client.key")

start_server A rscan.TlsCertificate="$TMP/pki/server.pem" rscan.TlsKey="$TMP/pki/server.key" \
    rscan.TlsClientCA="$TMP/pki/ca.pem" || exit 1
start_server B || exit 1

# --- scans over TLS with a client certificate ------------------------------
out=$("$B" rscan --server "127.0.0.1:$A_SCAN" "${TLSOPTS[@]}" "$TMP/files/eicar.com"); rc=$?
expect_eq "tls: EICAR is INFECTED (exit 1), scanned" "$rc:$out" \
    "1:$TMP/files/eicar.com: INFECTED EICAR-Test-File (scanned)"
out=$("$B" rscan --server "127.0.0.1:$A_SCAN" "${TLSOPTS[@]}" "$TMP/files/clean.bin" "$TMP/files/clean.txt"); rc=$?
expect_eq "tls: clean files are CLEAN (exit 0)" "$rc:$out" \
    "0:$TMP/files/clean.bin: CLEAN (scanned)
$TMP/files/clean.txt: CLEAN (scanned)"
bytes1=$(counter A rscan_content_bytes)
expect_eq "server A counted the content bytes received" "$bytes1" $((68 + 300000 + 18))

# a second client (a new connection, a new process) offers the same file
out=$("$B" rscan --server "127.0.0.1:$A_SCAN" "${TLSOPTS[@]}" "$TMP/files/clean.bin")
expect_eq "second client: answered from the cache" "$out" "$TMP/files/clean.bin: CLEAN (cached)"
expect_eq "second client: only the hash travelled (content bytes unchanged)" \
    "$(counter A rscan_content_bytes)" "$bytes1"
expect_eq "server A counted the cache hit" "$(counter A rscan_cache_hits)" 1
expect_eq "server A counted 4 requests" "$(counter A rscan_requests)" 4
expect_match "ctl status shows the rscan counters" "$("$B" ctl -c "$TMP/A.conf" status)" \
    "rscan: 4 requests, 1 cache hits, $bytes1 content bytes received"
curl -s "http://127.0.0.1:$A_METRICS/metrics" >"$TMP/metrics" 2>&1
expect_match "/metrics exports the rscan counters" "$(grep '^bulwark_rscan' "$TMP/metrics" | sort)" \
    "^bulwark_rscan_cache_hits_total 1
bulwark_rscan_content_bytes_total $bytes1
bulwark_rscan_requests_total 4$"

# --- refused clients ----------------------------------------------------------
out=$("$B" rscan --server "127.0.0.1:$A_SCAN" --ca "$TMP/pki/ca.pem" "$TMP/files/clean.txt" 2>&1); rc=$?
expect_match "tls: a client without a certificate is refused (rc $rc)" "$out" "rscan"
expect_eq "tls: ... with exit code 2" "$rc" 2
out=$("$B" rscan --server "127.0.0.1:$A_SCAN" --ca "$TMP/pki/ca.pem" --cert "$TMP/pki/rogue.pem" \
    --key "$TMP/pki/rogue.key" "$TMP/files/clean.txt" 2>&1); rc=$?
expect_eq "tls: a certificate from another CA is refused" "$rc" 2
out=$("$B" rscan --server "127.0.0.1:$A_SCAN" --plain "$TMP/files/clean.txt" 2>&1); rc=$?
expect_eq "tls: a plain-TCP client is refused" "$rc" 2
out=$("$B" rscan --server "127.0.0.1:$A_SCAN" --ca "$TMP/pki/rogue.pem" --cert "$TMP/pki/client.pem" \
    --key "$TMP/pki/client.key" "$TMP/files/clean.txt" 2>&1); rc=$?
expect_match "tls: the client refuses a server its CA did not sign" "$rc:$out" "^2:.*certificate"

# a server that says SEND and hangs up: the client reports it, SIGPIPE does not kill it
HPORT=$(free_port)
python3 - "$HPORT" "$TMP/pki" >"$TMP/hangup.log" 2>&1 <<'PY' &
import socket, ssl, sys
port, pki = int(sys.argv[1]), sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(pki + "/server.pem", pki + "/server.key")
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port)); l.listen(1); l.settimeout(60)
while True:  # the first connection is wait_port's probe
    c, _ = l.accept()
    try:
        t = ctx.wrap_socket(c, server_side=True)
        if t.recv(200).startswith(b"SCAN "):
            t.sendall(b"SEND\n")
            t.close()
            break
    except (ssl.SSLError, OSError):
        pass
    c.close()
PY
BG_PIDS="$BG_PIDS $!"
wait_port "$HPORT" 20
make_random "$TMP/files/big.bin" 900000
out=$("$B" rscan --server "127.0.0.1:$HPORT" "${TLSOPTS[@]}" "$TMP/files/big.bin" 2>&1); rc=$?
expect_match "client: a server hanging up mid-stream is an error, not SIGPIPE (rc $rc)" "$rc:$out" "^2:.*big.bin: "

# --- the shared cache: server B answers from what A scanned ------------------
bbytes=$(counter B rscan_content_bytes)
out=$("$B" rscan --server "127.0.0.1:$B_SCAN" "$TMP/files/eicar.com" "$TMP/files/clean.bin")
expect_eq "redis: files scanned on A are cache hits on B" "$out" \
    "$TMP/files/eicar.com: INFECTED EICAR-Test-File (cached)
$TMP/files/clean.bin: CLEAN (cached)"
expect_eq "redis: B received no content" "$(counter B rscan_content_bytes)" "${bbytes:-0}"
keys=$(redis-cli -p "$RPORT" --scan --pattern 'bw:v1:*' 2>/dev/null | wc -l)
expect_eq "redis: three verdicts stored under bw:v1:<db>:<sha256>:<size>" "$keys" 3

# --- hostile input: ERROR, and the connection stays usable -------------------
raw() { python3 "$ROOT/tests/integration/rscan-raw.py" "$B_SCAN" "$1"; }
out=$(raw short)
expect_match "hostile: content shorter than announced gets ERROR" "$out" $'^SEND\nERROR size mismatch: announced [0-9]+, received [0-9]+\nALIVE$'
out=$(raw long)
expect_match "hostile: content longer than announced gets ERROR" "$out" $'^SEND\nERROR size mismatch: more than the announced 5 bytes\nALIVE$'
out=$(raw hash)
expect_match "hostile: a hash mismatch gets ERROR" "$out" $'^SEND\nERROR SHA-256 mismatch: the content hashes to [0-9a-f]{64}\nALIVE$'
expect_eq "hostile: no verdict cached under the unverified hash" \
    "$(redis-cli -p "$RPORT" --scan --pattern "bw:v1:*:$(printf 'ab%.0s' $(seq 32)):*" | wc -l)" 0
out=$(raw oversized)
expect_match "hostile: an offer over MaxFileSize gets ERROR before any content" "$out" $'^ERROR size 1099511627776 over MaxFileSize 4194304\nALIVE$'
out=$(raw malformed)
expect_eq "hostile: malformed lines get one ERROR each, connection alive" \
    "$(printf '%s\n' "$out" | grep -c '^ERROR byte [0-9]*: ')/$(printf '%s\n' "$out" | tail -1)" "6/ALIVE"
out=$(raw flood)
expect_eq "hostile: 100000 pipelined PINGs all answered, in order" "$out" $'PONGS 100000\nALIVE'
out=$(raw badchunk)
expect_match "hostile: a broken chunk header gets ERROR and the close" "$out" $'^SEND\nERROR byte 0: not a hex digit in the chunk length\nCLOSED$'
out=$(raw longline)
expect_match "hostile: an over-long line gets ERROR and the close" "$out" $'^ERROR byte 0: line longer than 4096 bytes\nCLOSED$'
out=$("$B" rscan --server "127.0.0.1:$B_SCAN" "$TMP/files/clean.txt")
expect_eq "hostile: the server still scans afterwards" "$out" "$TMP/files/clean.txt: CLEAN (cached)"

# content over the server's 1 MiB memory spool goes through a temporary file
make_random "$TMP/files/large.bin" 2500000
b0=$(counter B rscan_content_bytes)
out=$("$B" rscan --server "127.0.0.1:$B_SCAN" "$TMP/files/large.bin")
expect_eq "large: a 2.5 MB file is streamed and scanned" "$out" "$TMP/files/large.bin: CLEAN (scanned)"
expect_eq "large: B received its 2500000 bytes" "$(( $(counter B rscan_content_bytes) - b0 ))" 2500000

# --- Redis down: the server scans, never an error to the client ---------------
redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1
wait_until 10 sh -c "! python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $RPORT), timeout=1)' 2>/dev/null"
make_random "$TMP/files/new.bin" 5000
out=$("$B" rscan --server "127.0.0.1:$B_SCAN" "$TMP/files/new.bin" 2>&1); rc=$?
expect_eq "redis down: the file is scanned anyway" "$rc:$out" "0:$TMP/files/new.bin: CLEAN (scanned)"
check "redis down: logged" grep -q "rscan: Redis 127.0.0.1:$RPORT" "$TMP/B.log"

# --- a database change invalidates the cache ------------------------------------
dbv1=$("$B" rscan --server "127.0.0.1:$B_SCAN" --ping | cut -d' ' -f2)
printf '%s:%s:Test.Clean.Txt.Now.Bad\n' "$(md5sum "$TMP/files/clean.txt" | cut -d' ' -f1)" \
    "$(stat -c %s "$TMP/files/clean.txt")" >"$TMP/db/extra.hdb"
"$B" ctl -c "$TMP/B.conf" reload-bases >/dev/null 2>&1
wait_until 30 sh -c "[ \"\$('$B' rscan --server 127.0.0.1:$B_SCAN --ping 2>/dev/null | cut -d' ' -f2)\" != '$dbv1' ]"
dbv2=$("$B" rscan --server "127.0.0.1:$B_SCAN" --ping | cut -d' ' -f2)
check "reload: the database version changed ($dbv1 -> $dbv2)" test "$dbv1" != "$dbv2" -a -n "$dbv2"
out=$("$B" rscan --server "127.0.0.1:$B_SCAN" "$TMP/files/clean.txt"); rc=$?
expect_eq "reload: the cached CLEAN verdict is not reused; the new signature finds it" "$rc:$out" \
    "1:$TMP/files/clean.txt: INFECTED Test.Clean.Txt.Now.Bad (scanned)"

bw_stop "$A_PID"; bw_stop "$B_PID"
bw_log_clean "server A" "$TMP/A.log"
bw_log_clean "server B" "$TMP/B.log"
