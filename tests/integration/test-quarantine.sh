#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Quarantine end to end: bulwarkd with InfectedAction = quarantine answers an
# EICAR RESPMOD (raw ICAP, the client keeps no copy of the body, so the
# daemon holds it) with the block page and stores the object; `bulwark
# quarantine list` shows it; the stored file does not hold EICAR in clear;
# show prints the record; restore gives back the exact bytes and refuses to
# overwrite; bad, short and absent ids are refused; a tampered object is
# refused on restore; delete removes it.  A detection before the whole body
# arrived is stored as partial, and a store that fails still denies.  (The
# directory made for workers that run as another user, and a configuration
# whose directory cannot be made: test-privileges.sh.)
. "$(dirname "$0")/icap-lib.sh"

BULWARK=$ROOT/${BUILD:-build}/bulwark

# respmod PORT BODYFILE URL CLIENT_IP: one RESPMOD without Allow: 204 and
# without preview; prints the answer (CR removed).  The daemon may answer and
# close before the whole body is sent (a detection in the first bytes): the
# answer is read anyway.
respmod() {
    python3 - "$@" <<'PY'
import socket, sys
port, path, url, ip = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
body = open(path, "rb").read()
req = ("GET %s HTTP/1.1\r\nHost: origin.test\r\n\r\n" % url).encode()
res = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % len(body)
head = ("RESPMOD icap://127.0.0.1/av/respmod ICAP/1.0\r\nHost: 127.0.0.1\r\n"
        "X-Client-IP: %s\r\nConnection: close\r\n"
        "Encapsulated: req-hdr=0, res-hdr=%d, res-body=%d\r\n\r\n") % (ip, len(req), len(req) + len(res))
msg = head.encode() + req + res + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
s = socket.create_connection(("127.0.0.1", port), timeout=10)
try:
    s.sendall(msg)
except OSError:
    pass
out = b""
while True:
    try:
        d = s.recv(65536)
    except OSError:
        break
    if not d:
        break
    out += d
sys.stdout.write(out.decode("utf-8", "replace").replace("\r", ""))
PY
}

# wait_listed N: until `quarantine list` shows N objects (bounded: 10 s).
wait_listed() {
    for _ in $(seq 1 100); do
        "$BULWARK" quarantine list -c "$TMP/q.conf" 2>/dev/null | grep -q "^$1 object" && return 0
        sleep 0.1
    done
    return 1
}

Q=$TMP/quarantine
P=$(free_port)
bw_write_conf "$TMP/q.conf" "$P" \
    "icapserver.actions.InfectedAction=quarantine" \
    "quarantine.QuarantineDir=$Q"
bw_start "$TMP/q.conf" "$TMP/q.log" "$P" || { notok "bulwarkd starts"; exit 0; }

make_eicar "$TMP/eicar.com"
ID=$(sha "$TMP/eicar.com")

out=$(respmod "$P" "$TMP/eicar.com" "http://origin.test/dl/eicar.com" 192.0.2.9)
expect_match "quarantine: the client gets the block page" "$out" "HTTP/1.1 403 Forbidden"
expect_match "quarantine: the verdict headers say blocked" "$out" "X-Response-Info: Blocked"
check "quarantine: the object is listed" wait_listed 1

list=$("$BULWARK" quarantine list -c "$TMP/q.conf" 2>&1); rc=$?
expect_eq "quarantine list: exit 0" "$rc" 0
expect_match "quarantine list: id, status, threat, size and origin" "$list" \
    "^${ID:0:16} +[0-9-]+ [0-9:]+Z +INFECTED +68 +EICAR-Test-File in eicar.com +http://origin.test/dl/eicar.com$"

# The directory is private, the object is neither in clear nor named by the URL.
expect_eq "quarantine: the directory is mode 0700" "$(stat -c %a "$Q")" 700
expect_eq "quarantine: the object is mode 0600" "$(stat -c %a "$Q/$ID.bwq")" 600
check "quarantine: EICAR is in the original (the grep can see it)" grep -q "EICAR-STANDARD" "$TMP/eicar.com"
if grep -rqa "EICAR-STANDARD\|X5O!P%@AP" "$Q"; then notok "quarantine: no file in the quarantine holds EICAR in clear"
else ok "quarantine: no file in the quarantine holds EICAR in clear"; fi
if ls "$Q" | grep -q "eicar"; then notok "quarantine: no name comes from the URL"
else ok "quarantine: no name comes from the URL"; fi

show=$("$BULWARK" quarantine show "${ID:0:8}" -c "$TMP/q.conf" 2>&1); rc=$?
expect_eq "quarantine show (8-digit prefix): exit 0" "$rc" 0
expect_match "quarantine show: sha256" "$show" "^sha256: $ID$"
expect_match "quarantine show: origin" "$show" "^origin: http://origin.test/dl/eicar.com$"
expect_match "quarantine show: client" "$show" "^client: 192.0.2.9$"
expect_match "quarantine show: verdict" "$show" "^status: INFECTED$"
expect_match "quarantine show: threat" "$show" "^threat: EICAR-Test-File in eicar.com$"
expect_match "quarantine show: whole object" "$show" "^partial: no$"
expect_match "quarantine show: method and group" "$show" "^method: RESPMOD$"
expect_match "quarantine show: size" "$show" "^size: 68$"

"$BULWARK" quarantine restore "$ID" --to "$TMP/restored" -c "$TMP/q.conf" >"$TMP/r.out" 2>&1; rc=$?
expect_eq "quarantine restore: exit 0" "$rc" 0
check "quarantine restore: the exact bytes come back" cmp -s "$TMP/eicar.com" "$TMP/restored"
expect_eq "quarantine restore: the restored file is mode 0600" "$(stat -c %a "$TMP/restored")" 600
out=$("$BULWARK" quarantine restore "$ID" --to "$TMP/restored" -c "$TMP/q.conf" 2>&1); rc=$?
expect_eq "quarantine restore: refuses to overwrite (exit 2)" "$rc" 2
expect_match "quarantine restore: says why" "$out" "exists \(--force replaces it\)"
echo garbage >"$TMP/restored"
"$BULWARK" quarantine restore "$ID" --to "$TMP/restored" --force --dir "$Q" >/dev/null 2>&1; rc=$?
expect_eq "quarantine restore --force --dir: exit 0" "$rc" 0
check "quarantine restore --force: replaced with the exact bytes" cmp -s "$TMP/eicar.com" "$TMP/restored"

# Ids: only hex digits, at least 8; nothing else reaches the directory.
out=$("$BULWARK" quarantine show ../quarantine.key -c "$TMP/q.conf" 2>&1); rc=$?
expect_eq "quarantine show ../quarantine.key: exit 2" "$rc" 2
expect_match "quarantine show ../quarantine.key: not an id" "$out" "is not a quarantine id"
out=$("$BULWARK" quarantine restore "${ID:0:7}" --to "$TMP/x" -c "$TMP/q.conf" 2>&1); rc=$?
expect_eq "quarantine restore with a 7-digit prefix: exit 2" "$rc" 2
out=$("$BULWARK" quarantine delete 0000000000000000 -c "$TMP/q.conf" 2>&1); rc=$?
expect_eq "quarantine delete of an absent id: exit 1" "$rc" 1
expect_match "quarantine delete of an absent id: says so" "$out" "no quarantined object"

# Tampering: one bit of the stored object flipped.
python3 - "$Q/$ID.bwq" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[30] ^= 1
open(p, "wb").write(bytes(b))
PY
out=$("$BULWARK" quarantine restore "$ID" --to "$TMP/tampered" -c "$TMP/q.conf" 2>&1); rc=$?
expect_eq "quarantine restore of a tampered object: exit 2" "$rc" 2
expect_match "quarantine restore of a tampered object: says so" "$out" "authentication failed"
check "quarantine restore of a tampered object: nothing written" test ! -e "$TMP/tampered"

out=$("$BULWARK" quarantine delete "${ID:0:12}" -c "$TMP/q.conf" 2>&1); rc=$?
expect_eq "quarantine delete: exit 0" "$rc" 0
check "quarantine delete: object and record are gone" test ! -e "$Q/$ID.bwq" -a ! -e "$Q/$ID.meta"
list=$("$BULWARK" quarantine list -c "$TMP/q.conf" 2>&1)
expect_match "quarantine list: empty after delete" "$list" "^0 objects in "

# A detection in the first bytes of a large body: the answer comes before
# the rest is received, and the object is stored as partial.
make_eicar "$TMP/big"
make_random "$TMP/pad" 300000
cat "$TMP/pad" >>"$TMP/big"
out=$(respmod "$P" "$TMP/big" "http://origin.test/big.bin" 192.0.2.10)
expect_match "quarantine, large body: block page" "$out" "HTTP/1.1 403 Forbidden"
check "quarantine, large body: listed" wait_listed 1
BIG=$(ls "$Q" | sed -n 's/\.meta$//p' | head -1)
show=$("$BULWARK" quarantine show "$BIG" --dir "$Q" 2>&1)
expect_match "quarantine, large body: the record says partial" "$show" "^partial: yes$"
n=$(printf '%s\n' "$show" | sed -n 's/^size: //p')
"$BULWARK" quarantine restore "$BIG" --to "$TMP/big.part" --dir "$Q" >/dev/null 2>&1
if [ -n "$n" ] && [ "$n" -gt 68 ] && [ "$n" -lt 300068 ] && cmp -s -n "$n" "$TMP/big" "$TMP/big.part" &&
   [ "$(stat -c %s "$TMP/big.part")" = "$n" ]; then
    ok "quarantine, large body: the stored bytes are the body's first $n"
else notok "quarantine, large body: the stored bytes are the body's first ${n:-?}"; fi

bw_stop; check "quarantine: bulwarkd stops cleanly" test $? = 0
bw_log_clean "quarantine" "$TMP/q.log"

# A store that fails (the directory, made by the supervisor at start, was
# replaced by a regular file since): the client is denied all the same, and
# the failure is logged.
P2=$(free_port)
bw_write_conf "$TMP/q2.conf" "$P2" \
    "icapserver.actions.InfectedAction=quarantine" \
    "quarantine.QuarantineDir=$TMP/missing/quarantine"
if bw_start "$TMP/q2.conf" "$TMP/q2.log" "$P2"; then
    check "quarantine: the supervisor created the directory and its parent" test -d "$TMP/missing/quarantine"
    rm -rf "$TMP/missing/quarantine"; : > "$TMP/missing/quarantine"
    out=$(respmod "$P2" "$TMP/eicar.com" "http://origin.test/eicar.com" 192.0.2.11)
    expect_match "quarantine failing: still the block page" "$out" "HTTP/1.1 403 Forbidden"
    for _ in $(seq 1 50); do grep -q "quarantine: .*not stored" "$TMP/q2.log" && break; sleep 0.1; done
    expect_match "quarantine failing: logged" "$(cat "$TMP/q2.log")" \
        "quarantine: http://origin.test/eicar.com: not stored: .*missing/quarantine"
    # A worker's line has the supervisor's shape (core/log.h): time, name,
    # the worker's pid, level; the supervisor's own lines for comparison.
    wline=$(grep "quarantine: .*not stored" "$TMP/q2.log" | head -1)
    expect_match "quarantine failing: the worker's log line has time, bulwarkd[pid] and level" "$wline" \
        "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} bulwarkd\[[0-9]+\] warning: quarantine: "
    check "quarantine failing: ... the pid is a worker's, not the supervisor's ($BW_PID)" \
        bash -c '! grep -q "bulwarkd\[$1\] warning: quarantine" "$2"' _ "$BW_PID" "$TMP/q2.log"
    expect_match "quarantine failing: ... the supervisor's lines have the same shape" \
        "$(grep "worker(s) started" "$TMP/q2.log")" \
        "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} bulwarkd\[$BW_PID\] info: "
    bw_stop
    bw_log_clean "quarantine failing" "$TMP/q2.log"
else
    notok "quarantine failing: bulwarkd starts"
fi

# A client that keeps its own copy (Allow: 204 and a preview holding the whole
# object) still gets its object quarantined whole: the daemon keeps a copy
# whenever a quarantine action is configured.
Q=$TMP/quarantine204
P=$(free_port)
bw_write_conf "$TMP/q204.conf" "$P" "icapserver.actions.InfectedAction=quarantine" "quarantine.QuarantineDir=$Q"
bw_start "$TMP/q204.conf" "$TMP/q204.log" "$P" || { notok "204 client: bulwarkd starts"; exit 1; }
make_eicar "$TMP/eicar.com"
out=$(python3 - "$P" "$TMP/eicar.com" <<'PY'
import socket, sys
port, body = int(sys.argv[1]), open(sys.argv[2], "rb").read()
req = b"GET http://origin.test/small/eicar.com HTTP/1.1\r\nHost: origin.test\r\n\r\n"
res = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
head = ("RESPMOD icap://127.0.0.1/av/respmod ICAP/1.0\r\nHost: 127.0.0.1\r\nAllow: 204\r\nPreview: 4096\r\n"
        "X-Client-IP: 192.0.2.77\r\nConnection: close\r\nEncapsulated: req-hdr=0, res-hdr=%d, res-body=%d\r\n\r\n") % (len(req), len(req) + len(res))
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(head.encode() + req + res + b"%x\r\n" % len(body) + body + b"\r\n0; ieof\r\n\r\n")
out = b""
while True:
    d = s.recv(65536)
    if not d: break
    out += d
print(out.decode("utf-8", "replace").replace("\r", ""))
PY
)
expect_match "204 client: block page" "$out" "HTTP/1.1 403 Forbidden"
ID=$(sha "$TMP/eicar.com")
for _ in $(seq 1 50); do [ -e "$Q/$ID.meta" ] && break; sleep 0.1; done
show=$("$BULWARK" quarantine show "$ID" --dir "$Q" 2>&1)
expect_match "204 client: stored whole" "$show" "^partial: no$"
expect_match "204 client: client address" "$show" "^client: 192.0.2.77$"
"$BULWARK" quarantine restore "$ID" --to "$TMP/r204" --dir "$Q" >/dev/null 2>&1
check "204 client: restore gives the bytes" cmp -s "$TMP/r204" "$TMP/eicar.com"
bw_stop
bw_log_clean "204 client" "$TMP/q204.log"
