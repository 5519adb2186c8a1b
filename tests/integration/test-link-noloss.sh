#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# No loss, no duplicate (issue 12): bulwark-console is stopped for a minute
# while the node produces detections under load (parallel EICAR requests
# through ICAP); the console comes back, and while the node's shipper is
# forwarding the backlog it is killed with SIGKILL (the supervisor restarts
# it).  Afterwards the console holds every detection exactly once: as many as
# the node produced, and no id twice.  HTTPS with a test CA throughout.
# LOSS_SECONDS (default 60) is how long the console stays down.
. "$(dirname "$0")/console-lib.sh"

for need in "$CONSOLE" "$BULWARKD"; do
    [ -x "$need" ] || { notok "noloss: $need is built"; exit 1; }
done
DOWN=${LOSS_SECONDS:-60}
RATE=${LOSS_RATE:-50}   # detections per second while the console is down

console_ca || { notok "noloss: test CA"; exit 1; }
console_start "$(free_port)" || { notok "noloss: bulwark-console starts"; exit 1; }
console_login || { notok "noloss: admin signs in"; exit 1; }
TOKEN=$(enroll_token default)
P=$(free_port)
NODE=noloss-$P
bw_write_conf "$TMP/node.conf" "$P" \
    "events.NodeName=$NODE" \
    "events.SpoolDirectory=$TMP/spool" \
    "console.Url=$CURL_URL" \
    "console.CAFile=$CA" \
    "console.EnrollToken=$TOKEN" \
    "console.CredentialFile=$TMP/node.cred" \
    "console.PollInterval=1s" \
    "console.BatchSize=20" \
    "console.MaxRetryInterval=2s" \
    "console.PolicyFile=$TMP/policy.conf"
bw_start "$TMP/node.conf" "$TMP/bulwarkd.log" "$P" || { notok "noloss: bulwarkd starts"; exit 1; }
check "noloss: the node enrols" wait_until 30 test -s "$TMP/node.cred"

make_eicar "$TMP/eicar.com"
expect_eq "noloss: EICAR is blocked before the outage" "$(respmod_status "$P" "$TMP/eicar.com")" 200
seen_first() { [ "$(count_events "type=detection&node=$NODE" | cut -d' ' -f1)" -ge 1 ]; }
check "noloss: the first detection reaches the console" wait_until 30 seen_first

# --- the console is down while the node works under load --------------------------------
console_stop
check "noloss: the console is stopped" test -z "$CPID"
python3 - "$P" "$TMP/eicar.com" "$DOWN" "$RATE" >"$TMP/load.txt" <<'PY'
import socket, sys, threading, time
port, body, secs = int(sys.argv[1]), open(sys.argv[2], "rb").read(), float(sys.argv[3])
period = 4.0 / float(sys.argv[4])  # each of the 4 threads
res = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
end = time.time() + secs
blocked, other, lock = [0], [0], threading.Lock()
def run(t):
    i = 0
    nxt = time.time()
    while time.time() < end:
        nxt += period
        time.sleep(max(0.0, nxt - time.time()))
        i += 1
        hdr = b"GET http://noloss.example/%d/%d HTTP/1.1\r\nHost: noloss.example\r\n\r\n" % (t, i)
        msg = (b"RESPMOD icap://x/av/respmod ICAP/1.0\r\nHost: x\r\nEncapsulated: req-hdr=0, res-hdr=%d, res-body=%d\r\n\r\n"
               % (len(hdr), len(hdr) + len(res)) + hdr + res + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(msg)
            d = b""
            while b"\r\n\r\n" not in d:
                c = s.recv(65536)
                if not c: break
                d += c
            s.close()
            with lock:
                if d.startswith(b"ICAP/1.0 200"): blocked[0] += 1
                else: other[0] += 1
        except OSError:
            with lock: other[0] += 1
ts = [threading.Thread(target=run, args=(t,)) for t in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print(blocked[0], other[0])
PY
read -r BLOCKED OTHER <"$TMP/load.txt"
check "noloss: the node blocked EICAR under load while the console was down ($BLOCKED requests)" \
    test "${BLOCKED:-0}" -gt $((DOWN * RATE / 2))
expect_eq "noloss: every load request got a block answer" "${OTHER:-x}" 0
PRODUCED=$((BLOCKED + 1)) # the load plus the first request

# --- the console comes back; the shipper is killed while forwarding ------------------------
console_start "$CPORT" || { notok "noloss: bulwark-console starts again"; exit 1; }
console_login
SHIP=$(pgrep -P "$BW_PID" -x bulwarkd-ship)
check "noloss: the shipper process runs (pid $SHIP)" test -n "$SHIP"
# (cheap checks while it forwards: one small page, not a count of everything)
some() { [ "$(api GET "/api/v1/events?type=detection&node=$NODE&limit=$1" | jq '.events | length')" -ge "$1" ]; }
backlog() { api GET "/api/v1/nodes/$(jq -r .node_id "$TMP/node.cred")" | jq -r '.backlog // 0'; }
# forwarding: events arrive, and the node's latest heartbeat still counts
# some to send (the heartbeat from before the outage said 0 or 1)
forwarding() { some 2 && MID=$(backlog) && [ "$MID" -gt 1 ]; }
check "noloss: the shipper is forwarding the backlog" wait_until 120 forwarding
check "noloss: the shipper is killed (SIGKILL) while forwarding ($MID events still to send)" \
    kill -KILL "$SHIP"
restarted() { local p; p=$(pgrep -P "$BW_PID" -x bulwarkd-ship); [ -n "$p" ] && [ "$p" != "$SHIP" ]; }
check "noloss: the supervisor restarts the shipper" wait_until 30 restarted
# The backlog is drained (the new shipper's heartbeat says 0): everything
# was acknowledged, so nothing more is on its way; then count once.
drained() { [ "$(backlog)" = 0 ]; }
check "noloss: the node's backlog is drained" wait_until 300 drained
read -r TOTAL UNIQUE <<<"$(count_events "type=detection&node=$NODE")"
expect_eq "noloss: the console holds exactly the detections produced" "$TOTAL" "$PRODUCED"
expect_eq "noloss: no event id is stored twice" "$UNIQUE" "$TOTAL"
check "noloss: bulwarkd logged the shipper's death and restart" \
    grep -q "shipper process (pid $SHIP) ended (status 137); restarting" "$TMP/bulwarkd.log"

bw_stop
bw_log_clean "noloss" "$TMP/bulwarkd.log"
console_stop
