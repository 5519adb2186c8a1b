#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The report log cannot be forged from a request: every line has exactly the
# eleven fields of docs/policy.md (TIME CLIENT USER METHOD URL SIZE STATUS
# THREAT ACTION MSms GROUP), and the fields taken from the request (client
# address, user, URL) or holding blanks (the threat name) are
# percent-encoded: a space, the other bytes up to 0x20, bytes from 0x7F up
# and '%' become %XX, and a value that is exactly "-" is %2D.
#
# Raw ICAP requests carry: an X-Client-IP that writes a whole fake line
# tail, a Host header with spaces, 0xFF bytes in the URL and the user name,
# folded headers (CR LF inside a value), a user named "-", a '%' in the
# URL, and an object past MaxReqLength (its threat name has spaces).
. "$(dirname "$0")/icap-lib.sh"

P=$(free_port)
bw_write_conf "$TMP/r.conf" "$P" "icapserver.filter.MaxReqLength=1K"
bw_start "$TMP/r.conf" "$TMP/r.log" "$P" || { notok "bulwarkd starts"; exit 1; }

export EICAR_HEX
timeout 120 python3 - "$P" "$TMP/report-$P.log" <<'PY'
import os, socket, sys, time, urllib.parse

PORT = int(sys.argv[1])
REPORT = sys.argv[2]
EICAR = bytes.fromhex(os.environ["EICAR_HEX"])
failed = 0


def tap(cond, name, detail=""):
    global failed
    print(("ok - " if cond else "not ok - ") + name)
    if not cond:
        failed += 1
        for l in str(detail).splitlines()[:10]:
            print("    " + l)
    sys.stdout.flush()


def respmod(icap_hdrs, host, target, body):
    req = b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\n\r\n"
    res = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
    msg = (b"RESPMOD icap://127.0.0.1:%d/av/respmod ICAP/1.0\r\nHost: 127.0.0.1\r\n" % PORT +
           icap_hdrs + b"Allow: 204\r\nConnection: close\r\n"
           b"Encapsulated: req-hdr=0, res-hdr=%d, res-body=%d\r\n\r\n" % (len(req), len(req) + len(res)) +
           req + res + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    s.sendall(msg)
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    return out.split(b"\r\n", 1)[0]


CASES = [  # name, ICAP headers, Host, target, body, {field index: decoded value}
    ("forged X-Client-IP", b"X-Client-IP: 9.9.9.9 - RESPMOD http://forged 0 CLEAN\r\n",
     b"origin.test", b"/forged.com", EICAR,
     {1: b"9.9.9.9 - RESPMOD http://forged 0 CLEAN", 4: b"http://origin.test/forged.com"}),
    ("Host with spaces", b"X-Client-IP: 192.0.2.10\r\n", b"origin.test evil 0 CLEAN x",
     b"/host.com", EICAR, {1: b"192.0.2.10", 4: b"http://origin.test evil 0 CLEAN x/host.com"}),
    ("0xFF bytes in URL and user", b"X-Client-IP: 192.0.2.11\r\nX-Client-Username: b\xffob \xfe\r\n",
     b"origin.test", b"/caf\xff\xfe.com", EICAR,
     {2: b"b\xffob \xfe", 4: b"http://origin.test/caf\xff\xfe.com"}),
    ("folded X-Client-IP (CR LF in the value)", b"X-Client-IP: 192.0.2.12\r\n 7 - x\r\n",
     b"origin.test", b"/fold1.com", EICAR, {4: b"http://origin.test/fold1.com"}),
    ("folded Host (CR LF in the value)", b"X-Client-IP: 192.0.2.13\r\n",
     b"origin.test\r\n x 0 CLEAN", b"/fold2.com", EICAR, {1: b"192.0.2.13"}),
    ("a user named '-' and a '%' in the URL", b"X-Client-IP: 192.0.2.14\r\nX-Client-Username: -\r\n",
     b"origin.test", b"/a%20b%zz.com", EICAR, {2: b"-", 4: b"http://origin.test/a%20b%zz.com"}),
    ("a threat name with spaces (MaxReqLength)", b"X-Client-IP: 192.0.2.15\r\n", b"origin.test",
     b"/big.bin", b"x" * 3000, {7: b"limits exceeded: MaxReqLength"}),
]

answered = 0
status = {}
for name, hdrs, host, target, body, _ in CASES:
    st = respmod(hdrs, host, target, body)
    status[name] = st
    if st.startswith(b"ICAP/1.0 200") or st.startswith(b"ICAP/1.0 204"):
        answered += 1

time.sleep(0.3)
raw = open(REPORT, "rb").read()
lines = raw.split(b"\n")
if lines and lines[-1] == b"":
    lines.pop()
tap(len(lines) == answered and answered >= len(CASES) - 2,
    "report: one line per answered object (%d answered of %d)" % (answered, len(CASES)),
    "\n".join(repr(l) for l in lines) + "\n" + repr(status))
bad = [l for l in lines if len(l.split(b" ")) != 11]
tap(not bad, "report: every line has exactly 11 space-separated fields", "\n".join(repr(l) for l in bad))
bad = [l for l in lines if any(c < 0x20 or c >= 0x7f for c in l)]
tap(not bad, "report: no control byte and no byte from 0x7F up is written raw",
    "\n".join(repr(l) for l in bad))
for name, hdrs, host, target, body, want in CASES:
    st = status[name]
    if not (st.startswith(b"ICAP/1.0 200") or st.startswith(b"ICAP/1.0 204")):
        tap(b"fold" in name.encode() and st.startswith(b"ICAP/1.0 400"),
            "report: %s: refused (%r), so no line" % (name, st), st)
        continue
    path = target.split(b"?")[0]
    mine = [l.split(b" ") for l in lines if path.replace(b"%", b"%25").replace(b"\xff", b"%FF")
            .replace(b"\xfe", b"%FE") in l]
    if len(mine) != 1:
        tap(False, "report: %s: its line" % name, "\n".join(repr(l) for l in lines))
        continue
    f = mine[0]
    got = {i: urllib.parse.unquote_to_bytes(f[i].decode("ascii")) for i in want}
    tap(got == want and f[3] == b"RESPMOD" and f[10] == b"default",
        "report: %s: the fields decode to what was sent (%s)" % (name, b" ".join(f[1:9]).decode()),
        "got %r\nwant %r" % (got, want))
# The documented spellings, literally.
text = raw.decode("ascii", "replace")
tap("9.9.9.9%20-%20RESPMOD%20http://forged%200%20CLEAN" in text,
    "report: the forged X-Client-IP is one field, 9.9.9.9%20-%20RESPMOD%20http://forged%200%20CLEAN")
tap(" %2D RESPMOD " in text, "report: a user named '-' is %2D ('-' alone means unknown)")
tap(" limits%20exceeded:%20MaxReqLength " in text,
    "report: the threat 'limits exceeded: MaxReqLength' is limits%20exceeded:%20MaxReqLength")
tap("http://origin.test/a%2520b%25zz.com" in text, "report: '%' in a URL is %25")
sys.exit(1 if failed else 0)
PY
check "report: bulwarkd exits 0 on SIGTERM" bw_stop
bw_log_clean "report" "$TMP/r.log"
