#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bulwark-agent in remote mode: two agents (each on its own tmpfs) and one
# bulwarkd scanning server (BWSCAN/1 on loopback).  The second agent's scan
# of content the first already scanned transfers only the hash (the
# server's content-bytes counter does not move); with the server stopped,
# each agent follows its Fallback and says so in its status.
. "$(dirname "$0")/icap-lib.sh"
B="$ROOT/${BUILD:-build}/bulwark"
AGENT="$ROOT/${BUILD:-build}/bulwark-agent"
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
if [ "$(id -u)" != 0 ]; then echo "ok - # SKIP bulwark-agent tests need root"; exit 0; fi
M1=$TMP/m1; M2=$TMP/m2; mkdir -p "$M1" "$M2" "$TMP/db"
cp "$ROOT"/db/test/* "$TMP/db/"
mount -t tmpfs -o size=64m bw-agent-r1 "$M1" && mount -t tmpfs -o size=64m bw-agent-r2 "$M2" ||
    { echo "ok - # SKIP cannot mount tmpfs"; exit 0; }
trap 'for p in $BG_PIDS; do kill -9 $p 2>/dev/null; done; umount -l "$M1" "$M2"; rm -rf "$TMP"' EXIT

icap=$(free_port); scan=$(free_port)
bw_write_conf "$TMP/s.conf" "$icap" path.BasesPath="$TMP/db" icapserver.process.MaxChildren=1 \
    rscan.Listen="127.0.0.1:$scan" rscan.CacheEntries=1024
bw_start "$TMP/s.conf" "$TMP/s.log" "$icap" || { notok "bulwarkd starts"; exit 0; }
SPID=$BW_PID
scounter() { "$B" ctl -c "$TMP/s.conf" stats | awk -v k="$1" '$1 == k {print $2}'; }

agent() { # NAME MOUNT FALLBACK
    cat >"$TMP/$1.conf" <<CONF
[agent]
Paths = $2
ControlSocket = $TMP/$1.sock
QuarantineDirectory = $TMP/quar-$1
[scanner]
Mode = remote
Server = 127.0.0.1:$scan
Fallback = $3
DatabaseDirectory = $TMP/db
CONF
    "$AGENT" -c "$TMP/$1.conf" -f >"$TMP/$1.log" 2>&1 &
    BG_PIDS="$BG_PIDS $!"
    wait_until 60 "$AGENT" --status --socket "$TMP/$1.sock" >/dev/null 2>&1
}
acounter() { "$AGENT" --status --socket "$TMP/$1.sock" | sed -n "s/^$2: //p"; }
agent a1 "$M1" local || { notok "agent 1 starts"; cat "$TMP/a1.log"; exit 0; }
agent a2 "$M2" closed || { notok "agent 2 starts"; cat "$TMP/a2.log"; exit 0; }
ok "bulwarkd and two remote agents start"

head -c 200000 /dev/urandom >"$TMP/blob"
cp "$TMP/blob" "$M1/blob"
check "agent 1: the file opens (scanned remotely)" timeout 20 cmp -s "$TMP/blob" "$M1/blob"
wait_until 20 test "$(acounter a1 'remote scans')" -ge 1
bytes1=$(scounter rscan_content_bytes)
check "the server received the content once (${bytes1:-0} bytes)" test "${bytes1:-0}" -ge 200000
cp "$TMP/blob" "$M2/blob"
check "agent 2: the same content opens" timeout 20 cmp -s "$TMP/blob" "$M2/blob"
wait_until 20 test "$(acounter a2 'remote cache hits')" -ge 1
expect_eq "agent 2's scan transferred only the hash (server content bytes unchanged)" \
    "$(scounter rscan_content_bytes)" "$bytes1"
check "agent 2 counts a server cache hit" test "$(acounter a2 'remote cache hits')" -ge 1

printf '%s' "$EICAR" >"$M2/eicar.com"
out=$(timeout 20 cat "$M2/eicar.com" 2>&1)
expect_match "remote verdict INFECTED blocks the open" "$out" "Operation not permitted"

# Stop the server (master and workers) and wait until its port refuses.
kill -TERM "$SPID"
wait_until 60 bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$scan) 2>/dev/null"
check "the scanning server is stopped" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$scan) 2>/dev/null"
echo "new content 1" >"$M2/after.txt"
out=$(timeout 20 cat "$M2/after.txt" 2>&1)
expect_match "server stopped, Fallback closed: denied" "$out" "Operation not permitted"
expect_match "agent 2 says the server is unreachable" "$("$AGENT" --status --socket "$TMP/a2.sock")" "UNREACHABLE"
check "agent 2 counts the closed fallback" test "$(acounter a2 'fallback closed')" -ge 1
echo "new content 2" >"$M1/after.txt"
expect_eq "server stopped, Fallback local: a clean file opens" "$(timeout 20 cat "$M1/after.txt")" "new content 2"
printf '%s' "$EICAR" >"$M1/eicar.com"
out=$(timeout 20 cat "$M1/eicar.com" 2>&1)
expect_match "server stopped, Fallback local: EICAR still blocked" "$out" "Operation not permitted"
check "agent 1 counts the local fallback" test "$(acounter a1 'fallback local')" -ge 1
check "the fallback is reported in the log" grep -q "Fallback" "$TMP/a1.log"
# Under SAN the agents' reports go to their logs: any is a failure.
if grep -lE "AddressSanitizer|LeakSanitizer|runtime error:" "$TMP"/*.log >/dev/null 2>&1; then
    notok "no sanitizer report in the agents' logs"; grep -hE -A20 "Sanitizer|runtime error:" "$TMP"/*.log | head -60
else ok "no sanitizer report in the agents' logs"; fi
