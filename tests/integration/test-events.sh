#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Events end to end (docs/events.md): EICAR through ICAP (c-icap-client) and
# through clamd (clamdscan) become `detection` events in the spool and, once
# pumped, in the JSON-lines and CEF files; Clean = yes gives `scan` events;
# the spool's bound drops the oldest events, counts them and says so; a real
# rsyslogd receives the events over UDP, TCP (octet counting) and TLS; a
# bulwarkd killed with SIGKILL loses no event already emitted.
#
# The pump is build/tests/test-events-out in its `pump CONF SECONDS` mode:
# the same bw_evout_* calls the shipper process makes, without the console.
. "$(dirname "$0")/icap-lib.sh"

PUMP="$ROOT/${BUILD:-build}/tests/test-events-out"
for t in c-icap-client clamdscan rsyslogd openssl; do
    command -v $t >/dev/null || { notok "events: $t is installed (scripts/install-deps.sh)"; exit 1; }
done
[ -x "$BULWARKD" ] && [ -x "$PUMP" ] || { notok "events: bulwarkd and test-events-out are built"; exit 1; }

P=$(free_port)
CP=$(free_port)
SPOOL="$TMP/spool"
mkdir -p "$TMP/allowed"
make_eicar "$TMP/allowed/eicar.com"
make_random "$TMP/clean" 20000
conf() { # conf OUT SPOOL JSONFILE CEFFILE EXTRA...: this test's bulwark.conf
    local out=$1 spool=$2 json=$3 cef=$4; shift 4
    bw_write_conf "$out" "$P" clamd.TCPSocket="$CP" clamd.TCPAddr=127.0.0.1 \
        clamd.LocalSocket="$TMP/clamd.sock" clamd.ScanPathAllow="$TMP/allowed" \
        events.SpoolDirectory="$spool" events.NodeName=node-a \
        events.JsonFile="$json" events.CefFile="$cef" "$@"
}
FILES=("$TMP/events.json" "$TMP/events.cef")
# jq-free checks over JSON lines: count FILE PYTHON-EXPR (e: each event)
count() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    if eval(sys.argv[2]):
        n += 1
print(n)
EOF
}
# cic ARGS...: one RESPMOD with c-icap-client (it will not overwrite its -o file)
cic() { rm -f "$TMP/o"; timeout 20 c-icap-client -i 127.0.0.1 -p "$P" -s av/respmod "$@"; }
spool_lines() { cat "$SPOOL"/seg-*.jsonl 2>/dev/null; }
spool_has() { spool_lines | grep -q -- "$1"; }

conf "$TMP/bw.conf" "$SPOOL" "${FILES[@]}"
bw_start "$TMP/bw.conf" "$TMP/bw.log" "$P" || { notok "events: bulwarkd starts"; exit 1; }
check "events: the spool directory was made by the supervisor" test -d "$SPOOL"
wait_until 10 spool_has '"type":"daemon.started"'
check "events: daemon.started in the spool" spool_has '"type":"daemon.started"'

# --- ICAP: EICAR and a clean object (Clean = no: no scan event) ----------------------
cic -f "$TMP/allowed/eicar.com" \
    -resp http://www.example.com/eicar.com -o "$TMP/o" >/dev/null 2>&1
cic -f "$TMP/clean" -o "$TMP/o" >/dev/null 2>&1
# a URL with the characters each output must escape: " ] \ = |
HOSTILE='http://www.example.com/a"b]c\d=e|f'
cic -f "$TMP/allowed/eicar.com" -resp "$HOSTILE" -o "$TMP/o" >/dev/null 2>&1
wait_until 10 spool_has '"component":"icap","type":"detection"'
check "events: ICAP EICAR -> a detection event in the spool" spool_has '"component":"icap","type":"detection"'
# --- clamd: clamdscan over TCP ------------------------------------------------------
printf 'TCPSocket %s\nTCPAddr 127.0.0.1\n' "$CP" >"$TMP/cds.conf"
timeout 30 clamdscan --config-file="$TMP/cds.conf" --no-summary --stream "$TMP/allowed/eicar.com" >/dev/null 2>&1
timeout 30 clamdscan --config-file="$TMP/cds.conf" --no-summary "$TMP/allowed/eicar.com" >/dev/null 2>&1
wait_until 10 spool_has '"component":"clamd"'
check "events: clamdscan EICAR -> a clamd detection event in the spool" spool_has '"component":"clamd","type":"detection"'

# --- the file outputs -----------------------------------------------------------------
# bulwarkd's shipper process delivers to JsonFile and CefFile (both outputs
# are configured); a second reader of the same cursor is refused, so that two
# processes never deliver the same batch (they did: duplicates in JsonFile).
J="$TMP/events.json"
jcount() { [ -s "$J" ] && count "$J" "$1" || echo 0; }
delivered() { [ "$(jcount 'e["type"]=="detection"')" -ge 4 ] && grep -q 'a"b]' "$TMP/events.cef" 2>/dev/null; }
check "events: the shipper delivers everything to JsonFile and CefFile" wait_until 30 delivered
out=$(timeout 20 "$PUMP" pump "$TMP/bw.conf" 3 2>&1)
expect_match "events: a second reader of the shipper's cursor is refused, not a duplicate" \
    "$out" "cursor (json|cef): in use by another reader"
expect_eq "events: JsonFile: one ICAP detection with url, size, threat, verdict, action, client, method" \
    "$(count "$J" 'e["type"]=="detection" and e["component"]=="icap" and e["object"]["url"]=="http://www.example.com/eicar.com" and e["object"]["size"]==68 and "eicar" in e["threats"][0].lower() and e["verdict"]=="INFECTED" and e["action"]=="deny" and e["client"]["group"]=="default" and e["method"]=="RESPMOD" and e["severity"]=="high" and e["node"]=="node-a"')" 1
expect_eq "events: JsonFile: clamd detections for the stream and the path" \
    "$(count "$J" 'e["component"]=="clamd" and e["type"]=="detection" and e["object"]["path"] in ("stream", sys.argv[1].rsplit("/",1)[0]+"/allowed/eicar.com") and "eicar" in e["threats"][0].lower() and e["client"]["ip"].startswith("127.0.0.1")')" 2
expect_eq "events: JsonFile: no scan event with Clean = no" "$(count "$J" 'e["type"]=="scan"')" 0
expect_eq "events: JsonFile: every id is 32 hex and unique" \
    "$(python3 -c 'import json,re,sys; ids=[json.loads(l)["id"] for l in open(sys.argv[1])]; print(len(ids)==len(set(ids)) and all(re.fullmatch("[0-9a-f]{32}",i) for i in ids))' "$J")" True
expect_match "events: CefFile: the ICAP detection as a CEF line" "$(grep 'request=' "$TMP/events.cef")" \
    '^CEF:0\|Bulwark\|bulwarkd\|[0-9.]+\|detection\|EICAR[^|]*\|8\|rt=[0-9]+ dvchost=node-a cat=icap .*act=deny outcome=INFECTED request=http://www.example.com/eicar.com fsize=68 '

expect_eq "events: JsonFile: the hostile URL arrives intact" \
    "$(count "$J" 'e.get("object",{}).get("url")=="http://www.example.com/a\"b]c\\d=e|f"')" 1
expect_match "events: CefFile: the hostile URL escaped (\\ and = escaped, | \" ] not)" \
    "$(grep -F 'a"b]' "$TMP/events.cef")" ' request=http://www\.example\.com/a"b\]c\\\\d\\=e\|f fsize=68 '

# --- Clean = yes, by a reload ------------------------------------------------------------
conf "$TMP/bw.conf" "$SPOOL" "${FILES[@]}" events.Clean=yes
kill -HUP "$BW_PID"
wait_until 20 spool_has '"type":"reload.done"'
check "events: reload.done in the spool" spool_has '"type":"reload.done"'
# the old workers may still take a connection until they are gone
wait_until 20 grep -q "generation 1 retired" "$TMP/bw.log"
cic -f "$TMP/clean" -o "$TMP/o" >/dev/null 2>&1
wait_until 10 spool_has '"type":"scan"'
wait_until 30 bash -c "grep -q '\"type\":\"scan\"' '$J'"
expect_eq "events: Clean = yes: a scan event (verdict CLEAN, action allow, info)" \
    "$(count "$J" 'e["type"]=="scan" and e["verdict"]=="CLEAN" and e["action"]=="allow" and e["severity"]=="info"')" 1
# a bad configuration: reload.failed with the error
printf '\n[events]\nMaxSpoolSize = lots\n' >>"$TMP/bw.conf"
kill -HUP "$BW_PID"
wait_until 20 spool_has '"type":"reload.failed"'
check "events: reload.failed with the error" spool_has '"type":"reload.failed".*MaxSpoolSize'
conf "$TMP/bw.conf" "$SPOOL" "${FILES[@]}" events.Clean=yes

# --- SIGKILL: what was emitted survives; the pump is at-least-once ---------------------
cic -f "$TMP/allowed/eicar.com" -o "$TMP/o" >/dev/null 2>&1
wait_until 10 bash -c "[ \$(cat '$SPOOL'/seg-*.jsonl | grep -c '\"component\":\"icap\",\"type\":\"detection\"') -ge 1 ]"
kill -KILL "$BW_PID"; wait "$BW_PID" 2>/dev/null
for _ in $(seq 1 50); do pgrep -f "bulwarkd -c $TMP/bw.conf" >/dev/null || break; sleep 0.1; done
bw_start "$TMP/bw.conf" "$TMP/bw2.log" "$P" || notok "events: bulwarkd restarts after SIGKILL"
cic -f "$TMP/allowed/eicar.com" -o "$TMP/o" >/dev/null 2>&1
wait_until 10 bash -c "[ \$(cat '$SPOOL'/seg-*.jsonl | grep -c '\"component\":\"icap\",\"type\":\"detection\"') -ge 1 ]"
# the shipper killed in the middle of its work; the supervisor starts another
SHIP=$(pgrep -P "$BW_PID" -x bulwarkd-ship)
[ -n "$SHIP" ] && kill -KILL "$SHIP"
icap_ids() { python3 -c 'import json,sys; print(len({e["id"] for e in map(json.loads, open(sys.argv[1])) if e["type"]=="detection" and e["component"]=="icap"}))' "$J"; }
new_shipper() { local p; p=$(pgrep -P "$BW_PID" -x bulwarkd-ship); [ -n "$p" ] && [ "$p" != "$SHIP" ]; }
four_icap() { [ "$(icap_ids)" -ge 4 ]; }
check "events: the shipper killed (SIGKILL) is replaced" wait_until 30 new_shipper
wait_until 30 four_icap
expect_eq "events: after SIGKILL of bulwarkd and of its shipper: 4 ICAP detections, none lost" \
    "$(icap_ids)" 4
bw_log_clean "events" "$TMP/bw.log"
bw_stop || notok "events: bulwarkd stops"
check "events: daemon.stopped in the spool" spool_has '"type":"daemon.stopped"'

# --- the bound: MaxSpoolSize drops the oldest, counts, reports ---------------------------
SPOOL="$TMP/spool-small"
conf "$TMP/bw-small.conf" "$SPOOL" "" "" events.Clean=yes events.MaxSpoolSize=64K \
    events.SegmentSize=4K
bw_start "$TMP/bw-small.conf" "$TMP/bw-small.log" "$P" || notok "events: bulwarkd starts (small spool)"
python3 - "$P" "$TMP/clean" <<'EOF'
import socket, sys
port, body = int(sys.argv[1]), open(sys.argv[2], "rb").read()[:100]
res = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
for i in range(1500):
    msg = (b"RESPMOD icap://x/av/respmod ICAP/1.0\r\nHost: x\r\nAllow: 204\r\nEncapsulated: req-hdr=0, res-hdr=%d, res-body=%d\r\n\r\n"
           % (len(b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % i), len(b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % i) + len(res))
           + b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % i + res + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(msg)
    s.recv(4096)
    s.close()
EOF
bw_stop || notok "events: bulwarkd stops (small spool)"
DROPPED=$(sed 's/^0*//' "$SPOOL/dropped" 2>/dev/null)
check "events: over MaxSpoolSize events were dropped and counted ($DROPPED)" test "${DROPPED:-0}" -gt 0
LEFT=$(cat "$SPOOL"/seg-*.jsonl | grep -c '"type":"scan"')
check "events: kept + dropped scan events >= 1500 (kept $LEFT, dropped $DROPPED)" test $((LEFT + ${DROPPED:-0})) -ge 1500
check "events: an events.dropped event reports it" spool_has '"type":"events.dropped","severity":"high".*"dropped":[1-9]'
TOTAL=$(du -cb "$SPOOL"/seg-*.jsonl | tail -1 | cut -f1)
check "events: the spool stays near its bound ($TOTAL bytes)" test "$TOTAL" -le $((65536 + 3 * 8192))
check "events: the oldest went: no request /0..9 left" bash -c "! cat '$SPOOL'/seg-*.jsonl | grep -q '\"url\":\"http://h/[0-9]\"'"

# --- workers as User=: the supervisor prepares the spool for them --------------------------
if id bulwark >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    SPOOL="$TMP/var/events"
    conf "$TMP/bw-user.conf" "$SPOOL" "" "" icapserver.process.User=bulwark \
        icapserver.report.ReportFileName=
    bw_start "$TMP/bw-user.conf" "$TMP/bw-user.log" "$P" || notok "events: bulwarkd starts with User=bulwark"
    expect_eq "events: User=bulwark: EICAR blocked" "$(respmod_status "$P" "$TMP/allowed/eicar.com")" 200
    wait_until 10 spool_has '"component":"icap","type":"detection"'
    check "events: User=bulwark: the worker wrote the detection event" spool_has '"component":"icap","type":"detection"'
    expect_eq "events: User=bulwark: the spool and every file in it belong to bulwark (the supervisor's too)" \
        "$(stat -c %U "$SPOOL" "$SPOOL"/* | sort -u)" bulwark
    bw_stop || notok "events: bulwarkd stops (User=bulwark)"
else
    ok "events: User=bulwark part skipped (needs root and the bulwark user) # SKIP"
fi

# --- rsyslog: UDP, TCP (octet counting), TLS -----------------------------------------------
SPOOL="$TMP/spool"
R="$TMP/rsyslog"; mkdir -p "$R/work"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout "$R/ca.key" -out "$R/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$R/srv.key" -out "$R/srv.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$R/ext"
openssl x509 -req -in "$R/srv.csr" -CA "$R/ca.pem" -CAkey "$R/ca.key" -CAcreateserial -days 2 \
    -extfile "$R/ext" -out "$R/srv.pem" 2>/dev/null
UP=$(free_port); TP=$(free_port); SP=$(free_port)
python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",'"$UP"'))' || UP=$(free_port)
cat >"$R/rsyslog.conf" <<EOF
global(workDirectory="$R/work" DefaultNetstreamDriverCAFile="$R/ca.pem"
       DefaultNetstreamDriverCertFile="$R/srv.pem" DefaultNetstreamDriverKeyFile="$R/srv.key"
       maxMessageSize="64k")
module(load="imudp")
module(load="imtcp" MaxSessions="10")
template(name="fields" type="string"
         string="%hostname% %app-name% %msgid% %syslogfacility-text% %syslogseverity-text% %structured-data% %msg%\n")
ruleset(name="udp") { action(type="omfile" file="$R/udp.log" template="fields") }
ruleset(name="tcp") { action(type="omfile" file="$R/tcp.log" template="fields") }
ruleset(name="tls") { action(type="omfile" file="$R/tls.log" template="fields") }
input(type="imudp" address="127.0.0.1" port="$UP" ruleset="udp")
input(type="imtcp" address="127.0.0.1" port="$TP" ruleset="tcp")
input(type="imtcp" address="127.0.0.1" port="$SP" ruleset="tls" StreamDriver.Name="gtls"
      StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
EOF
rsyslogd -n -f "$R/rsyslog.conf" -i "$R/rsyslog.pid" 2>"$R/rsyslogd.err" &
BG_PIDS="$BG_PIDS $!"
wait_port "$TP" 10 && wait_port "$SP" 10 || { notok "events: rsyslogd starts"; sed 's/^/#   /' "$R/rsyslogd.err"; }
for proto in udp tcp tls; do
    port=$UP; [ $proto = tcp ] && port=$TP; [ $proto = tls ] && port=$SP
    # every event the JSON file got, as one finished (sealed) segment of a spool
    mkdir -p "$TMP/spool-$proto"; cp "$J" "$TMP/spool-$proto/seg-1-1.jsonl"
    chmod 0440 "$TMP/spool-$proto/seg-1-1.jsonl"
    conf "$TMP/bw-$proto.conf" "$TMP/spool-$proto" "" "" \
        events.SyslogTarget="$proto://127.0.0.1:$port" \
        events.SyslogCAFile="$R/ca.pem" events.SyslogFacility=local3
    timeout 60 "$PUMP" pump "$TMP/bw-$proto.conf" 30 2>"$TMP/pump-$proto.err"
    wait_until 10 grep -q "detection.*EICAR" "$R/$proto.log"
    # by its URL: the order between two workers' segments is only approximate
    L=$(grep ' detection ' "$R/$proto.log" | grep 'component="icap"' | grep -F 'url="http://www.example.com/eicar.com"' | head -1)
    expect_match "events: rsyslog over $proto: the ICAP detection with header and structured data" "$L" \
        '^node-a bulwarkd detection local3 err \[bulwark@32473 id="[0-9a-f]{32}" component="icap" severity="high" threat="EICAR[^"]*" verdict="INFECTED" action="deny" url="http://www.example.com/eicar.com"\] \{"id":'
    expect_eq "events: rsyslog over $proto: as many events as the JSON file has" \
        "$(grep -c ' bulwarkd ' "$R/$proto.log")" "$(wc -l <"$J")"
    L=$(grep -F 'a\"b' "$R/$proto.log")
    expect_match "events: rsyslog over $proto: SD-PARAM escaping of \" ] \\ in the URL" "$L" \
        ' url="http://www\.example\.com/a\\"b\\\]c\\\\d=e\|f"\] '
done
# TLS against a CA that did not sign the server: refused, and the events wait
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other -keyout "$R/o.key" -out "$R/other.pem" 2>/dev/null
mkdir -p "$TMP/spool-bad"; cp "$J" "$TMP/spool-bad/seg-1-1.jsonl"; chmod 0440 "$TMP/spool-bad/seg-1-1.jsonl"
conf "$TMP/bw-bad.conf" "$TMP/spool-bad" "" "" events.SyslogTarget="tls://127.0.0.1:$SP" events.SyslogCAFile="$R/other.pem"
timeout 20 "$PUMP" pump "$TMP/bw-bad.conf" 3 2>"$TMP/pump-bad.err"
expect_match "events: TLS with the wrong CA: refused and logged" "$(cat "$TMP/pump-bad.err")" \
    'output syslog: syslog tls://127.0.0.1:[0-9]+: handshake failed: .*(certificate|verify)'
check "events: TLS with the wrong CA: nothing acknowledged" bash -c "! ls '$TMP/spool-bad'/cursor-syslog 2>/dev/null"
