#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Evasions found by an attack run against bulwarkd with the shipped defaults
# (conf/bulwark.conf): each case once delivered EICAR (ICAP 204).  Raw ICAP
# requests over a socket; each must now be blocked (an ICAP 200 carrying the
# HTTP 403 page), and the controls show that what should pass still passes.
# docs/icap-bodies.md and docs/policy.md describe the behaviour checked.
. "$(dirname "$0")/icap-lib.sh"

if [ ! -x "$BULWARKD" ]; then
    notok "bulwarkd is built ($BULWARKD missing)"
    exit 1
fi

cat >"$TMP/ev.py" <<'PYEOF'
import base64, gzip, os, socket, sys, urllib.parse, zlib

EICAR = bytes.fromhex(os.environ["EICAR_HEX"])
PORT = int(sys.argv[1])
REPORT = sys.argv[2]
MODE = sys.argv[3]
failed = 0


def ok(cond, name, detail=""):
    global failed
    print(("ok - " if cond else "not ok - ") + name)
    if not cond:
        failed += 1
        for l in str(detail).splitlines()[:20]:
            print("    " + l)
    sys.stdout.flush()


def chunked(body):
    out = b""
    for i in range(0, len(body), 3000):
        piece = body[i:i + 3000]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def icap(method, url, http_head, body, preview=None):
    """Sends one request (Allow: 204, Connection: close) and returns the
    whole answer.  http_head: the encapsulated response head (RESPMOD) or
    request head (REQMOD), without the request line for RESPMOD."""
    svc = "av/respmod" if method == "RESPMOD" else "av/reqmod"
    if method == "RESPMOD":
        req = b"GET " + url.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        res = http_head
        encap = b"req-hdr=0, res-hdr=%d, res-body=%d" % (len(req), len(req) + len(res))
        hdrs = req + res
    else:
        hdrs = http_head
        encap = b"req-hdr=0, req-body=%d" % len(hdrs)
    msg = (b"%s icap://127.0.0.1:%d/%s ICAP/1.0\r\nHost: 127.0.0.1\r\nAllow: 204\r\n"
           b"Connection: close\r\nEncapsulated: %s\r\n\r\n" % (method.encode(), PORT,
                                                               svc.encode(), encap))
    s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    s.sendall(msg + hdrs + chunked(body))
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    return data


def blocked(ans):
    return ans.startswith(b"ICAP/1.0 200") and b"HTTP/1.1 403" in ans


def passed(ans):
    return ans.startswith(b"ICAP/1.0 204")


def resp(url, headers, body):
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n"
    return icap("RESPMOD", url, head, body)


def resp_status(url, status_line, headers, body):
    head = status_line + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n"
    return icap("RESPMOD", url, head, body)


def post(url, headers, body):
    head = (b"POST " + url.encode() + b" HTTP/1.1\r\nHost: upload.test\r\n" +
            b"".join(h + b"\r\n" for h in headers) + b"Content-Length: %d\r\n\r\n" % len(body))
    return icap("REQMOD", url, head, body)


def report_tail():
    """The last report line with its fields' percent-encoding undone
    (docs/policy.md, "Report log"), so checks read the names as written."""
    try:
        return urllib.parse.unquote(open(REPORT).read().splitlines()[-1])
    except (OSError, IndexError):
        return ""


def form(bnd, part_headers=b'Content-Disposition: form-data; name="f"; filename="e.com"\r\n',
         data=EICAR, pad=b"", close_pad=b""):
    return (b"--" + bnd + pad + b"\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\nhello\r\n"
            b"--" + bnd + pad + b"\r\n" + part_headers + b"\r\n" + data + b"\r\n"
            b"--" + bnd + b"--" + close_pad + b"\r\n")


def main_cases():
    # 1. duplicate Content-Type
    a = resp("http://evil.test/a.bin", [b"Content-Type: video/mp2t",
                                        b"Content-Type: application/octet-stream"], EICAR)
    ok(blocked(a), "dup-ctype: two differing Content-Type headers are not excluded (EICAR blocked)", a[:300])
    a = resp("http://evil.test/a.bin", [b"Content-Type: application/octet-stream",
                                        b"Content-Type: video/mp2t"], EICAR)
    ok(blocked(a), "dup-ctype: the streaming type last is not excluded either", a[:300])
    a = resp("http://media.test/seg1.ts", [b"Content-Type: video/mp2t"], EICAR)
    ok(passed(a) and "excluded" in report_tail(),
       "dup-ctype control: one streaming Content-Type is still excluded", report_tail())

    # 2. mislabelled Content-Encoding: plain bytes, decoding fails, raw scanned
    for ce in (b"gzip", b"x-gzip", b"deflate", b"zstd", b"br"):
        a = resp("http://evil.test/e.txt", [b"Content-Type: text/plain", b"Content-Encoding: " + ce], EICAR)
        ok(blocked(a), "ce-mislabel: RESPMOD plain EICAR as Content-Encoding: %s is blocked" % ce.decode(), a[:300])
        a = post("http://upload.test/up", [b"Content-Type: application/octet-stream",
                                           b"Content-Encoding: " + ce], EICAR)
        ok(blocked(a), "ce-mislabel: REQMOD plain EICAR as Content-Encoding: %s is blocked" % ce.decode(), a[:300])
    a = resp("http://evil.test/e.txt", [b"Content-Encoding: gzip"], EICAR + b"x" * 100)
    tail = report_tail()
    ok(blocked(a) and "INFECTED" in tail, "ce-mislabel: the report line says INFECTED", tail)
    a = resp("http://ok.test/c.txt", [b"Content-Encoding: gzip"], b"plain text, not gzip")
    tail = report_tail()
    ok(passed(a) and "raw bytes scanned" in tail and "CORRUPTED" in tail,
       "ce-mislabel: a clean mislabelled body passes, CORRUPTED with 'raw bytes scanned'", tail)
    a = resp("http://evil.test/e.txt", [b"Content-Encoding: gzip"], gzip.compress(EICAR))
    ok(blocked(a), "ce control: gzip-encoded EICAR is still blocked (decoded)", a[:300])
    a = resp("http://ok.test/c.txt", [b"Content-Encoding: gzip"], gzip.compress(b"hello " * 100))
    ok(passed(a) and "CLEAN" in report_tail(), "ce control: clean gzip passes CLEAN", report_tail())
    # REQMOD: the origin stores the raw upload: a gzip whose raw bytes hold EICAR
    # after a valid stream (decoding ignores trailing bytes as a new member? no:
    # they are not gzip), and a valid gzip of clean text followed by EICAR raw.
    up = EICAR + gzip.compress(b"clean")
    a = post("http://upload.test/up", [b"Content-Encoding: gzip"], up)
    ok(blocked(a), "ce-reqmod: an upload's raw bytes are scanned whatever the decoding gives", a[:300])

    # 3. multipart
    def mp(name, ctype_headers, body, extra=()):
        a = post("http://upload.test/form", list(ctype_headers) + list(extra), body)
        ok(blocked(a), "multipart: " + name, a[:400])
    mp("repeated boundary= (body uses the second)",
       [b"Content-Type: multipart/form-data; boundary=AAAA; boundary=BBBB"], form(b"BBBB"))
    mp("repeated boundary= (body uses the first)",
       [b"Content-Type: multipart/form-data; boundary=AAAA; boundary=BBBB"], form(b"AAAA"))
    mp("transport padding: 17 spaces after the delimiters",
       [b"Content-Type: multipart/form-data; boundary=XyZ"], form(b"XyZ", pad=b" " * 17, close_pad=b" " * 17))
    mp("transport padding: 20 tabs after the delimiters",
       [b"Content-Type: multipart/form-data; boundary=XyZ"], form(b"XyZ", pad=b"\t" * 20))
    long_b = b"L" * 250
    mp("a 250-byte boundary", [b"Content-Type: multipart/form-data; boundary=" + long_b], form(long_b))
    big_head = b'Content-Disposition: form-data; name="f"; filename="e.com"\r\nX-Pad: ' + b"p" * 17500 + b"\r\n"
    mp("a part header block over 17 KB", [b"Content-Type: multipart/form-data; boundary=QQ"],
       form(b"QQ", part_headers=big_head))
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 200) for i in range(100))
    mp("a part header block of 100 lines (20 KB) before the disposition",
       [b"Content-Type: multipart/form-data; boundary=QQ"],
       form(b"QQ", part_headers=many + b'Content-Disposition: form-data; name="f"\r\n'))
    mp("boundary*= (RFC 2231, with charset)",
       [b"Content-Type: multipart/form-data; boundary*=utf-8''St%41r"], form(b"StAr"))
    mp("boundary*= (bare)", [b"Content-Type: multipart/form-data; boundary*=StAr"], form(b"StAr"))
    mp("two Content-Type headers (multipart first)",
       [b"Content-Type: multipart/form-data; boundary=TT", b"Content-Type: text/plain"], form(b"TT"))
    mp("two Content-Type headers (multipart last)",
       [b"Content-Type: text/plain", b"Content-Type: multipart/form-data; boundary=TT"], form(b"TT"))
    mp("two Content-Type headers with different boundaries",
       [b"Content-Type: multipart/form-data; boundary=T1", b"Content-Type: multipart/form-data; boundary=T2"],
       form(b"T2"))
    b64 = base64.encodebytes(EICAR)
    mp("a base64 Content-Transfer-Encoding part", [b"Content-Type: multipart/form-data; boundary=BB"],
       form(b"BB", part_headers=b'Content-Disposition: form-data; name="f"; filename="e.com"\r\n'
                                b"Content-Transfer-Encoding: base64\r\n", data=b64))
    qp = EICAR.replace(b"=", b"=3D")[:40] + b"=\r\n" + EICAR.replace(b"=", b"=3D")[40:]
    mp("a quoted-printable Content-Transfer-Encoding part",
       [b"Content-Type: multipart/form-data; boundary=BB"],
       form(b"BB", part_headers=b'Content-Disposition: form-data; name="f"\r\n'
                                b"Content-Transfer-Encoding: quoted-printable\r\n", data=qp))
    inner = (b"--inner\r\nContent-Disposition: file; filename=\"e.com\"\r\n\r\n" + EICAR +
             b"\r\n--inner--\r\n")
    mp("a nested multipart/mixed part", [b"Content-Type: multipart/form-data; boundary=outer"],
       form(b"outer", part_headers=b'Content-Disposition: form-data; name="files"\r\n'
                                   b"Content-Type: multipart/mixed; boundary=inner\r\n", data=inner))
    nested2 = (b"--i2\r\nContent-Type: multipart/mixed; boundary=i3\r\n\r\n--i3\r\n\r\n" + EICAR +
               b"\r\n--i3--\r\n\r\n--i2--\r\n")
    mp("multipart nested two levels deep", [b"Content-Type: multipart/form-data; boundary=outer"],
       form(b"outer", part_headers=b'Content-Disposition: form-data; name="files"\r\n'
                                   b"Content-Type: multipart/mixed; boundary=i2\r\n", data=nested2))
    # the boundary taken from the body's first line when the headers hide it
    mp("a boundary whose quote is never closed (taken from the body)",
       [b'Content-Type: multipart/form-data; boundary="UQ'], form(b"UQ"))
    mp("a multipart body labelled text/plain (boundary taken from the body)",
       [b"Content-Type: text/plain"], form(b"----WebKitFormBoundary7MA4YWxkTrZu0gW"))
    mp("a header naming one boundary, the body using another",
       [b"Content-Type: multipart/form-data; boundary=HDR"], form(b"BODY"))
    a = post("http://upload.test/up", [b"Content-Type: application/sql"],
             b"-- a SQL script\r\nselect 1;\r\n")
    ok(passed(a) and " CLEAN " in report_tail(),
       "multipart control: an upload that merely starts with '--' passes CLEAN", report_tail())
    a = post("http://upload.test/form", [b"Content-Type: multipart/form-data; boundary=ok"],
             form(b"ok", data=b"just a clean file"))
    ok(passed(a) and "CLEAN" in report_tail(), "multipart control: a clean form passes CLEAN", report_tail())
    a = post("http://upload.test/form", [b"Content-Type: multipart/form-data; boundary=A; boundary=B"],
             form(b"B", data=b"clean"))
    tail = report_tail()
    ok(passed(a) and "ambiguous boundary" in tail,
       "multipart: an ambiguous boundary is said in the report (CORRUPTED, passes when clean)", tail)

    # 4. range splitting: each fragment scanned and flagged
    a = resp_status("http://evil.test/eicar.com", b"HTTP/1.1 206 Partial Content",
                    [b"Content-Range: bytes 0-33/68", b"Content-Type: application/octet-stream"], EICAR[:34])
    tail = report_tail()
    ok(passed(a) and "Partial.Content: bytes 0-33/68" in tail,
       "range: a 206 fragment without the signature passes, flagged Partial.Content in the report", tail)
    a = resp_status("http://evil.test/eicar.com", b"HTTP/1.1 206 Partial Content",
                    [b"Content-Range: bytes 0-99/200"], EICAR + b"x" * 32)
    ok(blocked(a), "range: a 206 fragment holding the signature is scanned and blocked", a[:300])
    a = resp_status("http://evil.test/eicar.exe", b"HTTP/1.1 206 Partial Content",
                    [b"Content-Range: bytes 34-67/68"], EICAR[34:])
    ok(passed(a), "range: BlockPartialExecutables = no (default) lets an .exe fragment pass", a[:200])

    # 5. default exclusions
    a = resp("http://evil.test/eicar.exe?x=.m3u8", [b"Content-Type: application/octet-stream"], EICAR)
    ok(blocked(a), "exclusions: .m3u8 in the query does not exclude (EICAR blocked)", a[:300])
    a = resp("http://evil.test/eicar.exe#.m3u8", [], EICAR)
    ok(blocked(a), "exclusions: .m3u8 in the fragment does not exclude", a[:300])
    a = resp("http://radio.evil.test/x/eicar.exe?stream", [], EICAR)
    ok(blocked(a), "exclusions: 'stream' in the query of a radio host does not exclude", a[:300])
    a = resp("http://media.test/live/index.m3u8?token=1", [b"Content-Type: text/plain"], EICAR)
    ok(passed(a) and "excluded" in report_tail(), "exclusions control: a .m3u8 path is still excluded",
       report_tail())
    a = resp("http://evil.test/x.ts", [b"Content-Type: video/mp2t",
                                       b'Content-Disposition: attachment; filename="x.exe"'], EICAR)
    ok(blocked(a), "exclusions: a streaming type with Content-Disposition: attachment is scanned", a[:300])
    a = resp("http://evil.test/x.ts", [b"Content-Type: video/mp2t",
                                       b'Content-Disposition: inline; filename="x.exe"'], EICAR)
    ok(blocked(a), "exclusions: ... and with a filename= parameter", a[:300])

    # 6. more than 256 headers: scanned, not refused (no 400 for a bypass)
    many = [b"X-H%d: v" % i for i in range(300)]
    a = resp("http://evil.test/e.bin", many, EICAR)
    ok(blocked(a), "headers: 300 response headers are not refused: EICAR is scanned and blocked", a[:300])
    a = resp("http://evil.test/seg.ts", [b"Content-Type: video/mp2t"] + many, EICAR)
    ok(blocked(a), "headers: past 256 headers nothing is excluded (a later header may contradict)", a[:300])
    a = resp("http://ok.test/c.txt", many, b"clean")
    tail = report_tail()
    ok(a.startswith(b"ICAP/1.0 204") and "Broken.HTTP: 44 headers past the first 256" in tail,
       "headers: a clean object with 300 headers passes, the report says the headers past 256 were not read",
       tail)
    a = post("http://upload.test/up", many[:280], EICAR)
    ok(blocked(a), "headers: a REQMOD with 280 headers is scanned", a[:300])
    a = post("http://upload.test/form", many[:280] + [b"Content-Type: multipart/form-data; boundary=Far"],
             form(b"Far"))
    ok(blocked(a), "headers: a multipart boundary named only past header 256 is still followed", a[:300])


def partial_policy_cases():
    a = resp_status("http://evil.test/eicar.exe", b"HTTP/1.1 206 Partial Content",
                    [b"Content-Range: bytes 34-67/68"], EICAR[34:])
    tail = report_tail()
    ok(blocked(a) and "Policy.PartialContent.Executable" in tail and "SUSPICIOUS" in tail,
       "range policy: BlockPartialExecutables = yes blocks an .exe fragment (SUSPICIOUS)", tail)
    a = resp_status("http://evil.test/f", b"HTTP/1.1 206 Partial Content",
                    [b"Content-Range: bytes 0-9/68", b"Content-Type: application/x-msdownload"], b"MZ" + b"\0" * 8)
    ok(blocked(a), "range policy: ... and by its Content-Type", a[:300])
    a = resp_status("http://evil.test/movie.mp4", b"HTTP/1.1 206 Partial Content",
                    [b"Content-Range: bytes 0-9/68", b"Content-Type: video/mp4"], b"0123456789")
    ok(passed(a), "range policy: a fragment of a video still passes", a[:300])
    a = resp("http://evil.test/eicar.exe", [], b"MZ clean whole file")
    ok(passed(a), "range policy: a whole (200) executable is not affected", a[:300])


{"main": main_cases, "partial": partial_policy_cases}[MODE]()
sys.exit(1 if failed else 0)
PYEOF

export EICAR_HEX
ev() { timeout 300 python3 "$TMP/ev.py" "$@"; }

P=$(free_port)
bw_write_conf "$TMP/main.conf" "$P"
if bw_start "$TMP/main.conf" "$TMP/main.log" "$P"; then
    ev "$P" "$TMP/report-$P.log" main
    check "bulwarkd stops cleanly after the evasion cases" bw_stop
    bw_log_clean evasion "$TMP/main.log"
else
    notok "bulwarkd starts with the shipped defaults"
fi

P=$(free_port)
bw_write_conf "$TMP/partial.conf" "$P" "icapserver.filter.BlockPartialExecutables=yes"
if bw_start "$TMP/partial.conf" "$TMP/partial.log" "$P"; then
    ev "$P" "$TMP/report-$P.log" partial
    check "bulwarkd (BlockPartialExecutables = yes) stops cleanly" bw_stop
    bw_log_clean "evasion (BlockPartialExecutables)" "$TMP/partial.log"
else
    notok "bulwarkd starts with BlockPartialExecutables = yes"
fi
