#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Proxy policy through bulwarkd: groups chosen by client address and by URL
# give the same EICAR modification different actions (raw ICAP and real
# Squid), %GROUP% on the block page, per-group report lines, statistics on
# /metrics and in the counters file, NotifyScript and webhook on a detection,
# and policy configuration errors with file:line.
. "$(dirname "$0")/icap-lib.sh"

make_eicar() { printf '%sX5O!P%%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' "${2:-}" > "$1"; }

# respmod PORT BODYFILE URL [X-Client-IP] -> the answer's status line + X-Response-Info + page
respmod() {
    python3 - "$@" <<'PY'
import socket, sys
port, path, url = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ip = sys.argv[4] if len(sys.argv) > 4 else None
body = open(path, "rb").read()
req = ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % url).encode()
res = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
head = "RESPMOD icap://x/av/respmod ICAP/1.0\r\nHost: x\r\nAllow: 204\r\n"
if ip:
    head += "X-Client-IP: %s\r\n" % ip
head += "Encapsulated: req-hdr=0, res-hdr=%d, res-body=%d\r\n\r\n" % (len(req), len(req) + len(res))
msg = head.encode() + req + res + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(msg)
out = b""
while not (out.endswith(b"0\r\n\r\n") or (b"\r\n\r\n" in out and b" 204 " in out[:20])):
    d = s.recv(65536)
    if not d:
        break
    out += d
sys.stdout.write(out.decode("utf-8", "replace").replace("\r", ""))
PY
}

cat > "$TMP/notify.sh" <<'SH'
#!/bin/sh
env | grep '^BULWARK_' | sort > "$(dirname "$0")/notified.$$"
SH
chmod 755 "$TMP/notify.sh"

# A webhook receiver: records each POST body, one file per request.
python3 - "$TMP" > "$TMP/hook.port" <<'PY' &
import http.server, sys, os, threading
d = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(n)
        with open(os.path.join(d, "hook.%d" % len(os.listdir(d))), "wb") as f:
            f.write(body)
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
threading.Timer(120, s.shutdown).start()
s.serve_forever()
PY
BG_PIDS="$BG_PIDS $!"
for _ in $(seq 1 50); do [ -s "$TMP/hook.port" ] && break; sleep 0.1; done
HOOK=$(cat "$TMP/hook.port")

P=$(free_port); M=$(free_port)
bw_write_conf "$TMP/p.conf" "$P" \
    "icapserver.statistics.MetricsAddress=127.0.0.1:$M" \
    "icapserver.statistics.CounterStatisticsFile=$TMP/counters" \
    "icapserver.notify.NotifyScript=$TMP/notify.sh" \
    "icapserver.notify.WebhookUrl=http://127.0.0.1:$HOOK/hook"
cat >> "$TMP/p.conf" <<'EOF2'
[icapserver.groups:lab]
Priority = 10
ClientIP = 192.0.2.0/24
ClientIP = 2001:db8::/32

[icapserver.actions:lab]
WarningAction = skip

[icapserver.groups:kids]
Priority = 5
URL = ^http://kids\.example/

[icapserver.actions:kids]
CorruptedAction = deny
EOF2
bw_start "$TMP/p.conf" "$TMP/p.log" "$P" || { notok "bulwarkd starts with groups"; exit 1; }

make_eicar "$TMP/warn.com" WARN-
make_eicar "$TMP/corr.com" CORR-
out=$(respmod "$P" "$TMP/warn.com" http://any.example/w.com 192.0.2.5)
expect_match "group lab (by client address): WARN- passes (WarningAction=skip)" "$out" "^ICAP/1.0 204"
out=$(respmod "$P" "$TMP/warn.com" http://any.example/w.com 2001:db8::7)
expect_match "group lab (by IPv6 client address): WARN- passes" "$out" "^ICAP/1.0 204"
out=$(respmod "$P" "$TMP/warn.com" http://any.example/w.com 198.51.100.1)
expect_match "default group: the same WARN- is blocked" "$out" "HTTP/1.1 403 Forbidden"
expect_match "the block page names the default group (%GROUP%)" "$out" "<td>default</td>"
out=$(respmod "$P" "$TMP/corr.com" http://kids.example/c.com 198.51.100.1)
expect_match "group kids (by URL): CORR- is blocked (CorruptedAction=deny)" "$out" "HTTP/1.1 403 Forbidden"
expect_match "the block page names group kids (%GROUP%)" "$out" "<td>kids</td>"
out=$(respmod "$P" "$TMP/corr.com" http://other.example/c.com 198.51.100.1)
expect_match "default group: CORR- passes (CorruptedAction=skip)" "$out" "^ICAP/1.0 204"
out=$(respmod "$P" "$TMP/corr.com" http://kids.example/c.com 192.0.2.9)
expect_match "both match: the higher Priority (lab) wins, CORR- passes" "$out" "^ICAP/1.0 204"
check "report lines end with the group" wait_until 10 grep -q "kids.example/c.com .* kids$" "$TMP/report-$P.log"

metrics=$(curl -s --max-time 5 "http://127.0.0.1:$M/metrics")
expect_match "/metrics counts the requests" "$metrics" "bulwark_requests_total 6"
expect_match "/metrics counts per group" "$metrics" 'bulwark_group_requests_total\{group="lab"\} 3'
make_eicar "$TMP/eicar.com"
respmod "$P" "$TMP/eicar.com" http://any.example/e.com > /dev/null
metrics=$(curl -s --max-time 5 "http://127.0.0.1:$M/metrics")
expect_match "/metrics moves with the next request" "$metrics" "bulwark_requests_total 7"
expect_eq "/metrics: another path is 404" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$M/nope")" 404
kill -USR2 "$BW_PID"
check "SIGUSR2 writes the counters file" wait_until 10 grep -qx "requests 7" "$TMP/counters"
check "SIGUSR2 leaves the workers running" icap_ping "$P"

for _ in $(seq 1 50); do ls "$TMP"/notified.* >/dev/null 2>&1 && ls "$TMP"/hook.* >/dev/null 2>&1 && break; sleep 0.1; done
check "NotifyScript ran with the verdict in its environment" grep -qs "BULWARK_THREAT=EICAR-Test-File$" $TMP/notified.*
check "the webhook received the detection as JSON" python3 -c '
import json, sys, glob
evs = [json.load(open(f)) for f in glob.glob(sys.argv[1] + "/hook.[0-9]*")]
sys.exit(0 if any(e.get("threat") == "EICAR-Test-File" and e.get("status") == "INFECTED" for e in evs) else 1)' "$TMP"
# What docs/notify.md promises for the EICAR event (no user sent, no group
# matched): an empty string, never null; the group is "default".
ehook() { grep -qs "any.example/e.com" "$TMP"/hook.* && grep -qs "any.example/e.com" "$TMP"/notified.*; }
wait_until 10 ehook
check "webhook: a missing string is \"\" (user), the default group is \"default\"" python3 -c '
import json, sys, glob
evs = [json.load(open(f)) for f in glob.glob(sys.argv[1] + "/hook.[0-9]*")]
e = [e for e in evs if e.get("url", "").endswith("/e.com")]
sys.exit(0 if e and e[0]["user"] == "" and e[0]["group"] == "default" and e[0]["action"] == "deny" else 1)' "$TMP"
check "NotifyScript: BULWARK_GROUP=default and an empty BULWARK_USER for the same event" \
    bash -c 'f=$(grep -l "BULWARK_URL=http://any.example/e.com$" "$1"/notified.*) &&
             grep -qx BULWARK_GROUP=default $f && grep -qx BULWARK_USER= $f' _ "$TMP"
check "bulwarkd exits 0 on SIGTERM" bw_stop
grep -E "killed by signal|ERROR: AddressSanitizer|runtime error" "$TMP/p.log" && notok "no worker crashed" || ok "no worker crashed"

# Policy configuration errors stop the start with file:line.
printf '[icapserver.groups:a]\nClientIP = 10.0.0.0/33\n' > "$TMP/bad1.conf"; bw_own_paths "$TMP/bad1.conf"
out=$("$BULWARKD" -c "$TMP/bad1.conf" -f 2>&1)
expect_match "a bad CIDR is refused with file:line" "$out" "bad1.conf:2: ClientIP"
printf '[icapserver.groups:a]\nURL = ^(unclosed\n' > "$TMP/bad2.conf"; bw_own_paths "$TMP/bad2.conf"
out=$("$BULWARKD" -c "$TMP/bad2.conf" -f 2>&1)
expect_match "a regex that does not compile is refused with file:line" "$out" "bad2.conf:2: URL"
printf '[icapserver.actions:ghost]\nInfectedAction = skip\n' > "$TMP/bad3.conf"; bw_own_paths "$TMP/bad3.conf"
out=$("$BULWARKD" -c "$TMP/bad3.conf" -f 2>&1)
expect_match "a group section for an undefined group is refused" "$out" "bad3.conf:1: .*ghost"
printf '[icapserver.filter]\nExcludeMimeType = ^audio/(\n' > "$TMP/bad4.conf"; bw_own_paths "$TMP/bad4.conf"
out=$("$BULWARKD" -c "$TMP/bad4.conf" -f 2>&1)
expect_match "a bad ExcludeMimeType regex is refused with file:line" "$out" "bad4.conf:2: ExcludeMimeType"

# Through real Squid: the same WARN- object, two groups.  Squid sends its own
# address (127.0.0.1) in X-Client-IP: group "proxyusers" (by client address)
# lets WARN- pass; group "strict" (by URL, higher Priority) blocks it.
P3=$(free_port); SQ=$(free_port); OP=$(free_port)
mkdir -p "$TMP/www"
make_eicar "$TMP/www/WARN.com" WARN-
bw_write_conf "$TMP/s.conf" "$P3"
cat >> "$TMP/s.conf" <<'EOF2'
[icapserver.groups:proxyusers]
Priority = 1
ClientIP = 127.0.0.1
[icapserver.actions:proxyusers]
WarningAction = skip
[icapserver.groups:strict]
Priority = 9
URL = \?strict$
[icapserver.actions:strict]
WarningAction = deny
EOF2
bw_start "$TMP/s.conf" "$TMP/s.log" "$P3" || { notok "bulwarkd starts for the Squid group test"; exit 1; }
origin_start "$TMP/www" "$OP" || exit 1
squid_start "$TMP/squid" "$SQ" "$P3" || exit 1
code=$(curl -s --max-time 20 -o "$TMP/w1" -w '%{http_code}' -x "http://127.0.0.1:$SQ" "http://127.0.0.1:$OP/files/WARN.com")
if [ "$code" = 200 ] && cmp -s "$TMP/w1" "$TMP/www/WARN.com"; then ok "via Squid, group proxyusers (client address): WARN- passes"
else notok "via Squid, group proxyusers (client address): WARN- passes (HTTP $code)"; fi
code=$(curl -s --max-time 20 -o "$TMP/w2" -w '%{http_code}' -x "http://127.0.0.1:$SQ" "http://127.0.0.1:$OP/files/WARN.com?strict")
if [ "$code" = 403 ] && grep -q "<td>strict</td>" "$TMP/w2"; then ok "via Squid, group strict (URL): the same WARN- gets the block page"
else notok "via Squid, group strict (URL): the same WARN- gets the block page (HTTP $code)"; fi
check "bulwarkd (Squid groups) exits 0 on SIGTERM" bw_stop
