#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# bulwarkd as a drop-in clamd, with real clients: Debian's clamdscan (its
# clamd.conf pointed at Bulwark's sockets) in every mode, a minimal Python
# client (clamd-client.py) and Python's pyclamd library when installed, and
# the bad inputs of issue 5.  Replies are checked against the shapes clamd
# writes; test-clamd-diff.sh compares them byte for byte with a real clamd.
. "$(dirname "$0")/icap-lib.sh"
CLIENT="python3 $ROOT/tests/integration/clamd-client.py"
TESTFILES=/usr/share/clamav-testfiles

PORT=$(free_port)
CPORT=$(free_port)
SOCK="$TMP/clamd.sock"
mkdir -p "$TMP/allowed/tree/sub" "$TMP/clean/a/b" "$TMP/mixed"
make_eicar "$TMP/allowed/tree/eicar.com"
make_eicar "$TMP/allowed/tree/sub/warn.com" WARN-
echo "plain text" >"$TMP/allowed/tree/clean.txt"
ln -s "$TMP/allowed/tree" "$TMP/allowed/tree/sub/loop"   # a loop back up
ln -s /etc "$TMP/allowed/tree/sub/out"                  # a way out
make_eicar "$TMP/secret.com"                            # outside the allowed tree
for i in 1 2 3; do make_random "$TMP/clean/a/r$i.bin" $((i * 7000)); done
make_random "$TMP/clean/a/b/big.bin" 300000
echo hello >"$TMP/clean/hello.txt"
make_eicar "$TMP/mixed/eicar.com"
cp "$TMP/clean/hello.txt" "$TMP/mixed/"

bw_write_conf "$TMP/bw.conf" "$PORT" \
    clamd.TCPSocket="$CPORT" clamd.TCPAddr=127.0.0.1 clamd.LocalSocket="$SOCK" \
    clamd.StreamMaxLength=4M clamd.CommandReadTimeout=1s clamd.ReadTimeout=2s \
    clamd.ScanPathAllow="$TMP/allowed"
bw_start "$TMP/bw.conf" "$TMP/bw.log" "$PORT" || exit 1
check "clamd: the LocalSocket exists" test -S "$SOCK"

# clamdscan's own configuration files: one for the unix socket, one for TCP.
printf 'LocalSocket %s\n' "$SOCK" >"$TMP/unix.conf"
printf 'TCPSocket %s\nTCPAddr 127.0.0.1\n' "$CPORT" >"$TMP/tcp.conf"

# cds NAME CONF ARGS...: runs clamdscan, sets OUT and RC
cds() {
    local conf=$1; shift
    OUT=$(timeout 60 clamdscan --config-file="$conf" --no-summary "$@" 2>&1); RC=$?
}

cds "$TMP/unix.conf" "$TMP/allowed/tree/eicar.com"
expect_eq "clamdscan plain: EICAR exit code" "$RC" 1
expect_eq "clamdscan plain: EICAR line" "$OUT" "$TMP/allowed/tree/eicar.com: EICAR-Test-File FOUND"
cds "$TMP/unix.conf" "$TMP/clean"
expect_eq "clamdscan plain: clean tree exit code" "$RC" 0
expect_eq "clamdscan plain: clean tree line" "$OUT" "$TMP/clean: OK"
cds "$TMP/tcp.conf" --stream "$TMP/allowed/tree/eicar.com"
expect_eq "clamdscan --stream (TCP): EICAR" "$RC:$OUT" "1:$TMP/allowed/tree/eicar.com: EICAR-Test-File FOUND"
cds "$TMP/tcp.conf" --stream "$TMP/clean"
expect_eq "clamdscan --stream (TCP): clean tree exit code" "$RC" 0
expect_eq "clamdscan --stream (TCP): clean tree line" "$OUT" "$TMP/clean: OK"
cds "$TMP/unix.conf" --fdpass "$TMP/mixed"
expect_eq "clamdscan --fdpass: mixed tree" "$RC:$OUT" "1:$TMP/mixed/eicar.com: EICAR-Test-File FOUND"
cds "$TMP/unix.conf" --multiscan "$TMP/mixed"
expect_eq "clamdscan --multiscan: mixed tree" "$RC:$OUT" "1:$TMP/mixed/eicar.com: EICAR-Test-File FOUND"
cds "$TMP/unix.conf" --multiscan --fdpass "$TMP/clean"
expect_eq "clamdscan --multiscan --fdpass: clean tree" "$RC" 0
# Over TCP a path outside ScanPathAllow is refused, and said so.
cds "$TMP/tcp.conf" "$TMP/secret.com"
expect_eq "clamdscan over TCP: path outside ScanPathAllow refused" "$RC:$OUT" \
    "2:$TMP/secret.com: Access denied: not in ScanPathAllow. ERROR"
cds "$TMP/tcp.conf" "$TMP/allowed/tree/eicar.com"
expect_eq "clamdscan over TCP: path inside ScanPathAllow scanned" "$RC" 1

# ClamAV's test files: the files flagged through each clamdscan mode are
# exactly those the engine flags on its own (bulwark scan, same database).
if [ -d "$TESTFILES" ]; then
    want=$("$ROOT/${BUILD:-build}/bulwark" scan -r -q --no-cache -d "$ROOT/db/test" "$TESTFILES" 2>/dev/null |
           grep ' FOUND' | cut -d: -f1 | sort)
    nwant=$(printf '%s\n' "$want" | grep -c .)
    check "clamav-testfiles: the engine flags at least 10 of them ($nwant)" test "$nwant" -ge 10
    for mode in "" --stream --fdpass "--multiscan --fdpass"; do
        # shellcheck disable=SC2086
        cds "$TMP/unix.conf" $mode "$TESTFILES"
        got=$(printf '%s\n' "$OUT" | grep ' FOUND$' | cut -d: -f1 | sort)
        expect_eq "clamav-testfiles via clamdscan ${mode:-plain}: exit code" "$RC" 1
        expect_eq "clamav-testfiles via clamdscan ${mode:-plain}: same files flagged" "$got" "$want"
    done
else
    notok "clamav-testfiles: $TESTFILES is missing (scripts/install-deps.sh installs it)"
fi

# A minimal Python client: PING, VERSION, INSTREAM, IDSESSION.
expect_eq "python client: PING" "$($CLIENT "$SOCK" ping)" "PONG"
expect_match "python client: VERSION names Bulwark in ClamAV's shape" \
    "$($CLIENT 127.0.0.1:"$CPORT" version)" '^ClamAV [0-9.]+-Bulwark-[0-9.]+/[0-9]+/.+ [0-9]{4}$'
expect_eq "python client: INSTREAM EICAR" "$($CLIENT 127.0.0.1:"$CPORT" instream "$TMP/allowed/tree/eicar.com")" \
    "stream: EICAR-Test-File FOUND"
expect_eq "python client: INSTREAM of 300 KB in 1000-byte chunks" \
    "$($CLIENT 127.0.0.1:"$CPORT" instream "$TMP/clean/a/b/big.bin" 1000)" "stream: OK"
sess=$($CLIENT "$SOCK" session "$TMP/allowed/tree/eicar.com" "$TMP/clean/hello.txt" | sort |
      sed 's/^2: ClamAV .*/2: ClamAV (version)/')
expect_eq "python client: IDSESSION numbers every reply" "$sess" "1: PONG
2: ClamAV (version)
3: stream: EICAR-Test-File FOUND
4: stream: OK"
expect_eq "python client: FILDES" "$($CLIENT "$SOCK" fildes "$TMP/mixed/eicar.com" | sed 's/fd\[[0-9]*\]/fd[N]/')" \
    "fd[N]: EICAR-Test-File FOUND"
# clamd scans a passed descriptor from offset 0 (pread) and leaves its
# offset alone: a descriptor read part-way, or passed twice, still gives
# the detection, and the caller's offset is where it was.
expect_eq "FILDES: a descriptor at offset 10, passed twice, is scanned whole both times; its offset stays 10" \
    "$($CLIENT "$SOCK" fildes-reuse "$TMP/mixed/eicar.com" 10 | sed 's/fd\[[0-9]*\]/fd[N]/')" \
    "fd[N]: EICAR-Test-File FOUND
fd[N]: EICAR-Test-File FOUND
offset 10"
expect_eq "FILDES: a descriptor at offset 0 passed twice: the second scan finds it too" \
    "$($CLIENT "$SOCK" fildes-reuse "$TMP/mixed/eicar.com" 0 | sed 's/fd\[[0-9]*\]/fd[N]/')" \
    "fd[N]: EICAR-Test-File FOUND
fd[N]: EICAR-Test-File FOUND
offset 0"
# A curable object: the clamd protocol has no way to return the cure, so
# the reply reports the detection (never OK, which would tell the client to
# use the original).
make_eicar "$TMP/mixed/cure.com" CURE-
expect_eq "FILDES: a curable object (CURE-) is reported FOUND, not OK" \
    "$($CLIENT "$SOCK" fildes "$TMP/mixed/cure.com" | sed 's/fd\[[0-9]*\]/fd[N]/')" \
    "fd[N]: EICAR-Test-File-CURE FOUND"
expect_eq "INSTREAM: a curable object (CURE-) is reported FOUND, not OK" \
    "$($CLIENT "$SOCK" instream "$TMP/mixed/cure.com")" "stream: EICAR-Test-File-CURE FOUND"

# pyclamd, the library applications use (Debian's python3-pyclamd).
# (Debian's own interpreter: the package installs for /usr/bin/python3.)
if /usr/bin/python3 -c 'import pyclamd' 2>/dev/null; then
    out=$(/usr/bin/python3 - "$SOCK" "$CPORT" "$TMP/allowed/tree/eicar.com" <<'EOF'
import sys, pyclamd
u = pyclamd.ClamdUnixSocket(filename=sys.argv[1])
n = pyclamd.ClamdNetworkSocket(host="127.0.0.1", port=int(sys.argv[2]))
print(u.ping(), n.ping())
print(n.version().startswith("ClamAV "))
print(n.scan_stream(open(sys.argv[3], "rb").read()))
print(n.scan_stream(b"harmless"))
EOF
)
    expect_eq "pyclamd: ping, version, scan_stream" "$out" "True True
True
{'stream': ('FOUND', 'EICAR-Test-File')}
None"
else
    notok "pyclamd: python3-pyclamd is not installed (scripts/install-deps.sh installs it)"
fi

# Bad input: each gets clamd's error reply or a closed connection.
printf '%s\n' \
    "b'zINSTREAM\\0' + (8 << 20).to_bytes(4, 'big') + b'abc'" \
    "b'zINSTREAM\\0' + (3 << 20).to_bytes(4, 'big') + bytes(3 << 20) + (3 << 20).to_bytes(4, 'big') + b'x'" \
    "b'nPING'" \
    "b'nSCAN /' + b'a' * (1 << 20) + b'\\n'" \
    "b'zSCAN /' + b'a' * (1 << 20)" \
    "b'nFILDES\\n\\0'" \
    "b'zPING\\0'" >"$TMP/bad.txt"
mapfile -t bad < <($CLIENT 127.0.0.1:"$CPORT" script "$TMP/bad.txt")
expect_eq "bad input: a chunk length beyond StreamMaxLength" "${bad[0]}" "b'INSTREAM size limit exceeded. ERROR\\x00' <EOF>"
expect_eq "bad input: chunks summing beyond StreamMaxLength" "${bad[1]}" "b'INSTREAM size limit exceeded. ERROR\\x00' <EOF>"
expect_eq "bad input: a command without its terminator" "${bad[2]}" "b'COMMAND READ TIMED OUT\\n' <EOF>"
expect_eq "bad input: a 1 MB command line closes without a reply" "${bad[3]}" "b'' <EOF>"
expect_eq "bad input: 1 MB without any terminator closes too" "${bad[4]}" "b'' <EOF>"
expect_eq "bad input: FILDES without a descriptor (TCP)" "${bad[5]}" "b'No file descriptor received. ERROR\\n' <EOF>"
expect_eq "bad input: the daemon still answers after all that" "${bad[6]}" "b'PONG\\x00' <EOF>"
trunc=$($CLIENT 127.0.0.1:"$CPORT" raw "$(printf 'zINSTREAM\0' | od -An -tx1 | tr -d ' \n')00000064616263" 1)
expect_eq "bad input: a truncated chunk closes without a reply" "$trunc" "b'' <EOF>"
expect_eq "bad input: FILDES without a descriptor (unix)" \
    "$($CLIENT "$SOCK" raw "$(printf 'zFILDES' | od -An -tx1 | tr -d ' \n')0000")" \
    "b'No file descriptor received. ERROR\\x00' <EOF>"
out=$($CLIENT 127.0.0.1:"$CPORT" raw "$(printf 'nSCAN %s\n' "$TMP/secret.com" | od -An -tx1 | tr -d ' \n')")
expect_eq "bad input: a scan path outside the allowed tree" "$out" \
    "b'$TMP/secret.com: Access denied: not in ScanPathAllow. ERROR\\n' <EOF>"
out=$($CLIENT 127.0.0.1:"$CPORT" raw "$(printf 'nSCAN %s/allowed/../secret.com\n' "$TMP" | od -An -tx1 | tr -d ' \n')")
expect_eq "bad input: '..' out of the allowed tree" "$out" \
    "b\"$TMP/allowed/../secret.com: Access denied: '..' in the path. ERROR\\n\" <EOF>"
out=$($CLIENT 127.0.0.1:"$CPORT" raw "$(printf 'nSCAN %s/allowed/tree/sub/out/passwd\n' "$TMP" | od -An -tx1 | tr -d ' \n')")
expect_eq "bad input: a symlink out of the allowed tree" "$out" \
    "b'$TMP/allowed/tree/sub/out/passwd: Access denied: a symlink leads out of ScanPathAllow. ERROR\\n' <EOF>"
out=$($CLIENT 127.0.0.1:"$CPORT" raw "$(printf 'nCONTSCAN %s/allowed/tree\n' "$TMP" | od -An -tx1 | tr -d ' \n')")
expect_eq "bad input: a symlink loop in the tree is skipped, not followed" "$out" \
    "b'$TMP/allowed/tree/eicar.com: EICAR-Test-File FOUND\\n$TMP/allowed/tree/sub/warn.com: EICAR-Test-File-WARN FOUND\\n' <EOF>"

# RELOAD and SHUTDOWN
expect_eq "RELOAD answers RELOADING" "$($CLIENT 127.0.0.1:"$CPORT" raw "$(printf 'zRELOAD\0' | od -An -tx1 | tr -d ' \n')")" \
    "b'RELOADING\\x00' <EOF>"
expect_eq "SHUTDOWN over TCP is refused by default" \
    "$($CLIENT 127.0.0.1:"$CPORT" raw "$(printf 'zSHUTDOWN\0' | od -An -tx1 | tr -d ' \n')")" \
    "b'SHUTDOWN command disabled by clamd configuration. ERROR\\x00' <EOF>"
ok=0
for _ in $(seq 1 50); do
    [ "$($CLIENT "$SOCK" ping 2>/dev/null)" = PONG ] && { ok=1; break; }
    sleep 0.1
done
check "the daemon answers after RELOAD" test "$ok" = 1

bw_log_clean "clamd" "$TMP/bw.log"
check "bulwarkd stops cleanly" bw_stop
check "the LocalSocket is removed at exit" test ! -e "$SOCK"
