#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# bulwarkd answers the daemon issue asks for beyond the protocol basics:
# MaxReqLength as a status with its action, HTML-escaped block pages, the
# user name decoded from base64 in the report, deflate bodies decoded before
# scanning, and AnswerMode=complete through real Squid.
. "$(dirname "$0")/icap-lib.sh"

# icap_respmod PORT BODYFILE [extra ICAP header lines] -> the whole answer on stdout
icap_respmod() {
    python3 - "$@" <<'PY'
import socket, sys
port, path = int(sys.argv[1]), sys.argv[2]
extra = "".join(h + "\r\n" for h in sys.argv[3:] if not h.startswith("ENC:") and not h.startswith("URL:"))
enc = [h[4:] for h in sys.argv[3:] if h.startswith("ENC:")]
url = ([h[4:] for h in sys.argv[3:] if h.startswith("URL:")] or ["http://origin.test/file.bin"])[0]
body = open(path, "rb").read()
req = ("GET %s HTTP/1.1\r\nHost: origin.test\r\n\r\n" % url).encode()
res = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
if enc:
    res += ("Content-Encoding: %s\r\n" % enc[0]).encode()
res += b"Content-Length: %d\r\n\r\n" % len(body)
head = ("RESPMOD icap://127.0.0.1:%d/av/respmod ICAP/1.0\r\nHost: x\r\n%s"
        "Encapsulated: req-hdr=0, res-hdr=%d, res-body=%d\r\n\r\n"
        % (port, extra, len(req), len(req) + len(res))).encode()
msg = head + req + res
for i in range(0, len(body), 65536):
    c = body[i:i + 65536]
    msg += b"%x\r\n" % len(c) + c + b"\r\n"
msg += b"0\r\n\r\n"
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(msg)
out = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
        if out.endswith(b"0\r\n\r\n") or (b"\r\n\r\n" in out and b"null-body" in out.split(b"\r\n\r\n")[0]):
            break
except socket.timeout:
    pass
sys.stdout.buffer.write(out)
PY
}

make_eicar() { printf '%sX5O!P%%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' "${2:-}" > "$1"; }

P1=$(free_port)
bw_write_conf "$TMP/a.conf" "$P1" "icapserver.filter.MaxReqLength=100K" \
    "icapserver.actions.MaxReqLengthAction=deny"
bw_start "$TMP/a.conf" "$TMP/a.log" "$P1" || { notok "bulwarkd starts"; exit 1; }

head -c 300000 /dev/urandom > "$TMP/big.bin"
out=$(icap_respmod "$P1" "$TMP/big.bin" "Allow: 204" | tr -d '\r')
expect_match "MaxReqLength: an object over the limit is TOO_LARGE" "$out" "X-Response-Desc: TOO_LARGE limits exceeded: MaxReqLength"
expect_match "MaxReqLengthAction=deny: it gets the block page" "$out" "HTTP/1.1 403 Forbidden"
head -c 1000 /dev/urandom > "$TMP/small.bin"
out=$(icap_respmod "$P1" "$TMP/small.bin" "Allow: 204" | tr -d '\r')
expect_match "MaxReqLength: a small object passes with 204" "$out" "^ICAP/1.0 204"

make_eicar "$TMP/eicar.com"
out=$(icap_respmod "$P1" "$TMP/eicar.com" "Allow: 204" 'URL:http://origin.test/<script>alert(1)</script>?a="b"&c' \
      "X-Client-IP: 192.0.2.9" "X-Client-Username: $(printf 'bob' | base64)" | tr -d '\r')
expect_match "block page: the URL is in the page" "$out" "http://origin.test/&lt;script&gt;alert\(1\)&lt;/script&gt;\?a=&quot;b&quot;&amp;c"
if printf '%s' "$out" | grep -q "<script>"; then notok "block page: no raw <script> from the URL"; else ok "block page: no raw <script> from the URL"; fi
expect_match "block page: the client address is shown" "$out" "192.0.2.9"
wait_until 10 grep -q " 192.0.2.9 .*EICAR-Test-File" "$TMP/report-$P1.log"
line=$(grep "EICAR-Test-File" "$TMP/report-$P1.log" | tail -1)
expect_match "report log: a base64 X-Client-Username is decoded" "$line" " 192.0.2.9 bob RESPMOD "

python3 -c 'import zlib,sys; sys.stdout.buffer.write(zlib.compress(open(sys.argv[1],"rb").read()))' "$TMP/eicar.com" > "$TMP/eicar.deflate"
out=$(icap_respmod "$P1" "$TMP/eicar.deflate" "Allow: 204" "ENC:deflate" | tr -d '\r')
expect_match "Content-Encoding: deflate is decoded before scanning" "$out" "Threat=EICAR-Test-File;"
printf 'not really gzip at all' > "$TMP/fake.gz"
out=$(icap_respmod "$P1" "$TMP/fake.gz" "Allow: 204" "ENC:gzip" | tr -d '\r')
expect_match "a body that is not the gzip it claims is CORRUPTED, not CLEAN" "$out" "X-Response-Desc: CORRUPTED Broken.ContentEncoding"
check "bulwarkd exits 0 on SIGTERM" bw_stop

# AnswerMode=complete through Squid: a clean large download arrives whole; an
# object infected at its end is never delivered complete.
P2=$(free_port); SQ=$(free_port); OP=$(free_port)
mkdir -p "$TMP/www"
head -c 3000000 /dev/urandom > "$TMP/www/clean.bin"
{ head -c 1000000 /dev/urandom; printf 'Tail.Marker.XYZZY'; } > "$TMP/www/tail.bin"
printf 'Tail.Marker:0:*:%s\n' "$(printf 'Tail.Marker.XYZZY' | xxd -p)" > "$TMP/tail.ndb"
bw_write_conf "$TMP/c.conf" "$P2" "icapserver.protocol.AnswerMode=complete" "path.BasesPath=$TMP/tail.ndb"
bw_start "$TMP/c.conf" "$TMP/c.log" "$P2" || { notok "bulwarkd (complete) starts"; exit 1; }
origin_start "$TMP/www" "$OP" || exit 1
squid_start "$TMP/squid" "$SQ" "$P2" || exit 1
: > "$TMP/got.bin"
code=$(curl -s --max-time 20 -o "$TMP/got.bin" -w '%{http_code}' -x "http://127.0.0.1:$SQ" "http://127.0.0.1:$OP/files/clean.bin")
if ! cmp -s "$TMP/got.bin" "$TMP/www/clean.bin"; then
    echo "# HTTP $code, $(stat -c %s "$TMP/got.bin") bytes"; sed 's/^/#   /' "$TMP/c.log"
    tail -3 "$TMP/squid/access.log" | sed 's/^/#   /'
    grep -i "icap\|error\|warn" "$TMP/squid/cache.log" | tail -5 | sed 's/^/#   /'
fi
expect_eq "complete mode via Squid (streamed, Squid cannot wait): a 3 MB clean download arrives byte-identical" \
    "$(sha256sum < "$TMP/got.bin")" "$(sha256sum < "$TMP/www/clean.bin")"
: > "$TMP/got2.bin"
curl -s --max-time 20 -o "$TMP/got2.bin" -x "http://127.0.0.1:$SQ" "http://127.0.0.1:$OP/files/tail.bin"
if cmp -s "$TMP/got2.bin" "$TMP/www/tail.bin"; then
    notok "complete mode via Squid: an object infected at its end is not delivered complete"
else
    ok "complete mode via Squid: an object infected at its end is not delivered complete ($(stat -c %s "$TMP/got2.bin") bytes)"
fi
if grep -q "Tail.Marker.XYZZY" "$TMP/got2.bin"; then notok "complete mode: the marker bytes never reach the client"; else ok "complete mode: the marker bytes never reach the client"; fi
# Streaming media: the default ExcludeMimeType lets an endless radio stream
# play through, answered 204 from the preview without being scanned.
: > "$TMP/radio.bin"
curl -s --max-time 3 -o "$TMP/radio.bin" -x "http://127.0.0.1:$SQ" "http://127.0.0.1:$OP/stream?type=audio/aacp"
got=$(stat -c %s "$TMP/radio.bin")
if [ "$got" -gt 1000000 ]; then ok "an endless audio/aacp stream plays through the proxy ($got bytes in 3 s)"
else notok "an endless audio/aacp stream plays through the proxy ($got bytes in 3 s)"; fi
check "the report log says the stream was excluded" wait_until 10 grep -q "stream?type=audio/aacp .* excluded" "$TMP/report-$P2.log"
# The 204 came from the preview: the report line's size (body bytes that
# reached bulwarkd) is at most the preview, not the megabytes that played.
size=$(grep "stream?type=audio/aacp" "$TMP/report-$P2.log" | head -1 | awk '{print $6}')
if [ -n "$size" ] && [ "$size" -le 4096 ]; then ok "the excluded stream's body never crossed to bulwarkd ($size bytes, the preview)"
else notok "the excluded stream's body never crossed to bulwarkd (${size:-no} bytes)"; fi
check "bulwarkd (complete) exits 0 on SIGTERM" bw_stop

# MaxSendDelayTime (partial mode): a body that pauses mid-way gets its held-back
# bytes released after the delay; a group with AnswerMode=complete holds them.
P4=$(free_port)
bw_write_conf "$TMP/d.conf" "$P4" "icapserver.protocol.MaxSendDelayTime=500ms"
cat >> "$TMP/d.conf" <<'EOF2'
[icapserver.groups:holders]
ClientIP = 192.0.2.66
[icapserver.protocol:holders]
AnswerMode = complete
EOF2
bw_start "$TMP/d.conf" "$TMP/d.log" "$P4" || { notok "bulwarkd starts (MaxSendDelayTime)"; exit 1; }
slow_client() { # PORT CLIENT_IP -> "bytes-before-the-rest total-bytes identical"
    python3 - "$@" <<'PY'
import socket, sys, time, os
port, ip = int(sys.argv[1]), sys.argv[2]
first, rest = os.urandom(100000), os.urandom(10000)
req = b"GET http://origin.test/slow.bin HTTP/1.1\r\nHost: origin.test\r\n\r\n"
res = b"HTTP/1.1 200 OK\r\nContent-Length: 110000\r\n\r\n"
head = (b"RESPMOD icap://x/av/respmod ICAP/1.0\r\nHost: x\r\nX-Client-IP: " + ip.encode() +
        b"\r\nEncapsulated: req-hdr=0, res-hdr=%d, res-body=%d\r\n\r\n" % (len(req), len(req) + len(res)))
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(head + req + res + b"%x\r\n" % len(first) + first + b"\r\n")
got = b""
s.settimeout(0.2)
end = time.time() + 1.5
while time.time() < end:
    try:
        d = s.recv(65536)
        if not d:
            break
        got += d
    except socket.timeout:
        pass
before = len(got)
s.sendall(b"%x\r\n" % len(rest) + rest + b"\r\n0\r\n\r\n")
s.settimeout(10)
while not got.endswith(b"\r\n0\r\n\r\n"):
    d = s.recv(65536)
    if not d:
        break
    got += d
# de-chunk the echoed body after the ICAP head and the HTTP head
i = got.index(b"\r\n\r\n") + 4
i = got.index(b"\r\n\r\n", i) + 4
body = b""
while True:
    j = got.index(b"\r\n", i)
    n = int(got[i:j].split(b";")[0], 16)
    if n == 0:
        break
    body += got[j + 2:j + 2 + n]
    i = j + 2 + n + 2
print(before, len(got), "identical" if body == first + rest else "different")
PY
}
read -r before total same <<< "$(slow_client "$P4" 198.51.100.3)"
if [ "${before:-0}" -gt 100000 ] && [ "$same" = identical ]; then ok "MaxSendDelayTime releases a paused body's held-back bytes ($before bytes before the rest was sent)"
else notok "MaxSendDelayTime releases a paused body's held-back bytes (${before:-?} bytes before the rest, $same)"; fi
read -r before total same <<< "$(slow_client "$P4" 192.0.2.66)"
if [ "${before:-1}" -lt 2000 ] && [ "$same" = identical ]; then ok "a group with AnswerMode=complete holds the body until the verdict ($before bytes before the rest)"
else notok "a group with AnswerMode=complete holds the body until the verdict (${before:-?} bytes before the rest, $same)"; fi
check "bulwarkd (MaxSendDelayTime) exits 0 on SIGTERM" bw_stop
