#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Raw ICAP protocol tests for bulwarkd: byte-exact conversations replayed
# from tests/data/icap/*.txt over a plain socket, checking the exact status
# lines and the headers a client acts on.  A raw client, not a library, so
# the server is judged on the bytes RFC 3507 specifies and nothing kinder.
#
# Conversation files: leading "# " lines are comments; every other line is
# sent with CRLF after it; ${EICAR} (${EICAR_HEAD}: its first 4 bytes,
# ${EICAR_TAIL}: the other 64) expand to the EICAR test string; a line
# "#!pause" ends a segment: the client sends it, reads one answer head
# (100 Continue) and then sends the next segment.
. "$(dirname "$0")/icap-lib.sh"
DATA="$ROOT/tests/data/icap"

if [ ! -x "$BULWARKD" ]; then
    notok "bulwarkd is built ($BULWARKD missing)"
    exit 1
fi

cat >"$TMP/raw.py" <<'PYEOF'
import os, re, select, socket, sys, threading, time

EICAR = bytes.fromhex(os.environ["EICAR_HEX"])
PORT = int(sys.argv[1])
DATA = sys.argv[2]
GROUP = sys.argv[3]
REPORT = sys.argv[4] if len(sys.argv) > 4 else ""
failed = 0


def ok(cond, name, detail=""):
    global failed
    if cond:
        print("ok - raw: " + name)
    else:
        failed += 1
        print("not ok - raw: " + name)
        if detail:
            for l in str(detail).splitlines()[:30]:
                print("    " + l)
    sys.stdout.flush()
    return cond


def load(name):
    """A conversation file -> list of byte segments."""
    text = open(os.path.join(DATA, name), encoding="ascii").read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    while lines and lines[0].startswith("# "):
        lines.pop(0)
    segs, cur = [], b""
    for l in lines:
        if l == "#!pause":
            segs.append(cur)
            cur = b""
            continue
        b = l.encode("ascii")
        b = b.replace(b"${EICAR_HEAD}", EICAR[:4]).replace(b"${EICAR_TAIL}", EICAR[4:])
        b = b.replace(b"${EICAR}", EICAR)
        cur += b + b"\r\n"
    segs.append(cur)
    return segs


def conv(name):
    return b"".join(load(name))


def connect(timeout=5.0):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Reader:
    """Reads ICAP answers off a socket, each with its full framing."""

    def __init__(self, s, timeout=5.0):
        self.s, self.buf, self.eof, self.timeout = s, b"", False, timeout

    def _more(self):
        end = time.time() + self.timeout
        while True:
            left = end - time.time()
            if left <= 0:
                raise TimeoutError("no data within %.1fs" % self.timeout)
            r, _, _ = select.select([self.s], [], [], left)
            if r:
                break
        try:
            d = self.s.recv(65536)
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
            raise EOFError("connection closed")
        self.buf += d

    def until(self, sep):
        while sep not in self.buf:
            self._more()
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def take(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def closed(self, wait=2.0):
        """True when the peer closes the connection (EOF) with nothing more sent."""
        if self.buf:
            return False
        old, self.timeout = self.timeout, wait
        try:
            self._more()
            return False
        except EOFError:
            return True
        except TimeoutError:
            return False
        finally:
            self.timeout = old

    def answer(self):
        head = self.until(b"\r\n\r\n")
        r = {"head": head, "raw": head}
        lines = head[:-4].split(b"\r\n")
        r["status_line"] = lines[0].decode("latin-1")
        m = re.match(r"ICAP/1\.0 (\d{3}) ", r["status_line"])
        r["status"] = int(m.group(1)) if m else 0
        hdrs = []
        for l in lines[1:]:
            l = l.decode("latin-1")
            if l[:1] in (" ", "\t") and hdrs:
                hdrs[-1][1] += "\n" + l
            elif ":" in l:
                k, v = l.split(":", 1)
                hdrs.append([k.strip(), v.strip()])
        r["headers"] = hdrs
        r["hdr"] = {k.lower(): v for k, v in hdrs}
        r["http"], r["body"], r["last_ext"] = b"", b"", None
        if r["status"] == 100:
            return r
        enc = r["hdr"].get("encapsulated", "")
        parts = {}
        for p in enc.split(","):
            if "=" in p:
                k, v = p.split("=", 1)
                parts[k.strip()] = int(v.strip())
        r["encap"] = parts
        body_key = [k for k in parts if k.endswith("-body") and k != "null-body"]
        hlen = parts[body_key[0]] if body_key else parts.get("null-body", 0)
        r["http"] = self.take(hlen)
        r["raw"] += r["http"]
        if body_key:
            body = b""
            while True:
                line = self.until(b"\r\n")
                r["raw"] += line
                size_s, _, ext = line[:-2].decode("latin-1").partition(";")
                size = int(size_s.strip(), 16)
                if size == 0:
                    r["last_ext"] = ext.strip()
                    trailer = self.until(b"\r\n")
                    r["raw"] += trailer
                    while trailer != b"\r\n":
                        trailer = self.until(b"\r\n")
                        r["raw"] += trailer
                    break
                data = self.take(size + 2)
                r["raw"] += data
                body += data[:-2]
            r["body"] = body
        return r


def talk(segs, n=1, split=None, bytewise=False):
    """Sends a conversation and reads n final answers (and any 100s)."""
    s = connect()
    rd = Reader(s)
    answers = []
    try:
        for i, seg in enumerate(segs):
            if bytewise:
                for j in range(len(seg)):
                    s.sendall(seg[j:j + 1])
                    if j % 8 == 0:
                        time.sleep(0.0005)
            elif split is not None and i == 0:
                s.sendall(seg[:split])
                time.sleep(0.002)
                s.sendall(seg[split:])
            else:
                s.sendall(seg)
            if i < len(segs) - 1:
                answers.append(rd.answer())  # the 100 Continue
        while len([a for a in answers if a["status"] != 100]) < n:
            answers.append(rd.answer())
    finally:
        pass
    return s, rd, answers


def one(name, **kw):
    s, rd, a = talk(load(name), **kw)
    s.close()
    return a


def http_status(a):
    first = a["http"].split(b"\r\n", 1)[0].decode("latin-1")
    return first


def sig(a):
    """What must not change however the request bytes were split."""
    return (a["status_line"], http_status(a), a["hdr"].get("x-infection-found"),
            a["last_ext"], a["body"] if a["status"] != 200 or b"403" not in a["http"][:20] else b"page")


def safe(name, fn):
    try:
        fn()
    except Exception as e:  # a failure to talk is a failed case, never a hang
        ok(False, name, "%s: %s" % (type(e).__name__, e))


# ---------------------------------------------------------------- groups

def options_cases():
    for svc, methods in (("respmod", "RESPMOD"), ("reqmod", "REQMOD"), ("avscan", None)):
        def t(svc=svc, methods=methods):
            a = one("options-%s.txt" % svc)[0]
            h = a["hdr"]
            ok(a["status_line"] == "ICAP/1.0 200 OK", "OPTIONS %s: ICAP/1.0 200 OK" % svc, a["head"])
            if methods:
                ok(h.get("methods") == methods, "OPTIONS %s: Methods: %s" % (svc, methods), a["head"])
            else:
                ms = sorted(x.strip() for x in h.get("methods", "").split(","))
                ok(ms == ["REQMOD", "RESPMOD"], "OPTIONS avscan: Methods has REQMOD and RESPMOD", a["head"])
            if svc != "respmod":
                return
            tag = h.get("istag", "")
            ok(re.fullmatch(r'"[^"]{1,32}"', tag) is not None,
               "OPTIONS: ISTag is a quoted string of at most 32 bytes (%s)" % tag, a["head"])
            ok(h.get("encapsulated") == "null-body=0", "OPTIONS: Encapsulated: null-body=0", a["head"])
            allow = [x.strip() for x in h.get("allow", "").split(",")]
            ok("204" in allow and "206" in allow, "OPTIONS: Allow: 204, 206", a["head"])
            ok(h.get("preview") == "4096", "OPTIONS: Preview: 4096 (PreviewSize)", a["head"])
            ok(h.get("transfer-preview") == "*", "OPTIONS: Transfer-Preview: *", a["head"])
            ok(re.fullmatch(r"\d+", h.get("max-connections", "")) is not None,
               "OPTIONS: Max-Connections", a["head"])
            ok(h.get("options-ttl") == "3600", "OPTIONS: Options-TTL: 3600", a["head"])
            ok(bool(h.get("service")), "OPTIONS: Service", a["head"])
            ok(bool(h.get("serviceid")), "OPTIONS: ServiceId", a["head"])
            ok(a["http"] == b"" and rd_clean(a), "OPTIONS: no body after the head", a["raw"])
        safe("OPTIONS %s" % svc, t)


def rd_clean(a):
    return a["body"] == b""


def preview_cases():
    def ieof(name, label):
        a = one(name)
        ok(a[0]["status"] == 204 and len(a) == 1,
           "%s: answered at once with 204, no 100 Continue" % label,
           [x["status_line"] for x in a])
    safe("preview 0; ieof", lambda: ieof("preview-ieof.txt", "preview `0; ieof`"))
    safe("preview 0 ; ieof", lambda: ieof("preview-ieof-space.txt", "preview `0 ; ieof` (space before the extension)"))

    def cont():
        a = one("preview-continue.txt")
        ok([x["status_line"] for x in a] == ["ICAP/1.0 100 Continue", "ICAP/1.0 204 No Content"],
           "preview without ieof: 100 Continue, then 204 after the rest",
           [x["status_line"] for x in a])
    safe("preview 100", cont)

    def cont_eicar():
        a = one("preview-continue-eicar.txt")
        ok([x["status"] for x in a] == [100, 200] and http_status(a[-1]).startswith("HTTP/1.1 403"),
           "preview of EICAR: 100 Continue, then 200 carrying HTTP 403",
           [(x["status_line"], http_status(x)) for x in a])
    safe("preview eicar", cont_eicar)


def answer_cases():
    def a204():
        a = one("allow204.txt")[0]
        ok(a["status_line"] == "ICAP/1.0 204 No Content" and a["hdr"].get("encapsulated") == "null-body=0",
           "Allow: 204 outside preview: 204 for a clean body", a["raw"])
        ok(re.fullmatch(r'"[^"]{1,32}"', a["hdr"].get("istag", "")) is not None,
           "204 carries the ISTag", a["head"])
    safe("allow 204", a204)

    def echo():
        segs = load("echo200.txt")
        req = segs[0]
        enc_at = req.index(b"\r\n\r\n") + 4
        http_in = req[enc_at:]
        at = http_in.index(b"HTTP/1.1 200 OK")
        res_hdr = http_in[at:http_in.index(b"\r\n\r\n", at) + 4]
        a = one("echo200.txt")[0]
        ok(a["status_line"] == "ICAP/1.0 200 OK", "no Allow: 204: 200", a["head"])
        ok(a["body"] == b"This is a clean test file!!", "200 echo: body byte-identical", a["raw"])
        ok(a["http"] == res_hdr and a["encap"].get("res-hdr") == 0,
           "200 echo: HTTP response head byte-identical, at res-hdr=0", a["raw"])
    safe("echo", echo)

    def a206():
        a = one("allow206.txt")[0]
        ok(a["status_line"] == "ICAP/1.0 206 Partial Content", "Allow: 206: 206 Partial Content", a["raw"])
        ok(a["last_ext"] is not None and re.fullmatch(r"use-original-body\s*=\s*0", a["last_ext"]) is not None
           and a["body"] == b"", "206: last chunk `0; use-original-body=0`, no body prefix", a["raw"])
    safe("allow 206", a206)

    def rq():
        a = one("reqmod-get.txt")[0]
        ok(a["status_line"] == "ICAP/1.0 204 No Content", "REQMOD GET (null-body) with Allow: 204: 204", a["raw"])
        a = one("reqmod-get-echo.txt")[0]
        ok(a["status"] == 200 and a["http"].startswith(b"GET /clean.txt HTTP/1.1\r\n")
           and "null-body" in a["encap"] and a["encap"].get("req-hdr") == 0,
           "REQMOD GET without Allow: 204: 200 echoing the request head, null-body", a["raw"])
    safe("reqmod", rq)

    def eicar():
        a = one("respmod-eicar.txt")[0]
        h = a["hdr"]
        ok(a["status_line"] == "ICAP/1.0 200 OK" and http_status(a) == "HTTP/1.1 403 Forbidden",
           "EICAR: ICAP 200 carrying HTTP/1.1 403 Forbidden", a["raw"][:600])
        ok(h.get("x-infection-found") == "Type=0; Resolution=2; Threat=EICAR-Test-File;",
           "EICAR: X-Infection-Found: Type=0; Resolution=2; Threat=EICAR-Test-File;", a["head"])
        ok(h.get("x-virus-id") == "EICAR-Test-File", "EICAR: X-Virus-ID: EICAR-Test-File", a["head"])
        vf = h.get("x-violations-found", "")
        ok(vf.split("\n")[0].strip() == "1" and "EICAR-Test-File" in vf,
           "EICAR: X-Violations-Found: 1 with the threat on a folded line", a["head"])
        ok(h.get("x-response-info") == "Blocked", "EICAR: X-Response-Info: Blocked", a["head"])
        ok(b"cache-control: no-store" in a["http"].lower(), "EICAR: the HTTP 403 has Cache-Control: no-store", a["http"])
        ok(b"EICAR-Test-File" in a["body"] and b"http://origin.test/eicar.com" in a["body"],
           "EICAR: block page names the threat and the URL", a["body"][:400])
        m = re.search(rb"content-length:\s*(\d+)", a["http"].lower())
        ok(m is not None and int(m.group(1)) == len(a["body"]),
           "EICAR: the 403's Content-Length matches its body", a["http"])
    safe("eicar", eicar)

    def upload():
        a = one("reqmod-upload-eicar.txt")[0]
        ok(a["status"] == 200 and http_status(a).startswith("HTTP/1.1 403") and "res-hdr" in a["encap"],
           "REQMOD multipart upload of EICAR: 200 carrying an HTTP 403 response", a["raw"][:600])
        ok("EICAR-Test-File" in a["hdr"].get("x-infection-found", ""),
           "REQMOD multipart upload of EICAR: X-Infection-Found", a["head"])
    safe("upload", upload)


def big_respmod(body, allow=""):
    """A RESPMOD of a large body in 64 KiB chunks, no preview."""
    req = b"GET /big.bin HTTP/1.1\r\nHost: origin.test\r\n\r\n"
    res = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % len(body)
    head = (b"RESPMOD icap://icap.test/av/respmod ICAP/1.0\r\nHost: icap.test\r\n" + allow.encode() +
            b"Encapsulated: req-hdr=0, res-hdr=%d, res-body=%d\r\n\r\n" % (len(req), len(req) + len(res)))
    out = head + req + res
    for i in range(0, len(body), 65536):
        part = body[i:i + 65536]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


def big_cases():
    import io, random, zipfile
    rnd = random.Random(5)
    clean = rnd.randbytes(3 << 20)

    def echo():
        s = connect()
        rd = Reader(s, timeout=20)
        threading.Thread(target=lambda: _send_quiet(s, big_respmod(clean)), daemon=True).start()
        a = rd.answer()
        ok(a["status"] == 200 and a["body"] == clean,
           "3 MiB clean body without Allow: 204: 200 echo, byte-identical", a["head"])
        s.close()
    safe("big echo", echo)

    def late():
        z = io.BytesIO()
        with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("junk.bin", clean[:1 << 20])
            zf.writestr("eicar.com", EICAR)
        zb = z.getvalue()
        s = connect()
        rd = Reader(s, timeout=20)
        threading.Thread(target=lambda: _send_quiet(s, big_respmod(zb)), daemon=True).start()
        try:
            a = rd.answer()
            good = a["body"] != zb  # a block page, or anything but the object
            what = a["status_line"] + " " + http_status(a)
        except (EOFError, ConnectionError):
            good, what = True, "answer cut"
        ok(good, "EICAR at the end of a 1 MiB zip (no Allow: 204): the complete object is never echoed (%s)" % what)
        s.close()
        ok([x["status"] for x in one("allow204.txt")] == [204], "after a cut answer the daemon serves the next connection")
    safe("late verdict", late)


def error_cases():
    def err(name, status, label, must_close=False):
        s, rd, a = talk(load(name))
        ok(a[0]["status"] == status, "%s: %d" % (label, status), a[0]["raw"])
        if must_close:
            ok(rd.closed(), "%s: the connection is closed after the %d" % (label, status))
        s.close()
    safe("bad encap", lambda: err("bad-encap.txt", 400, "Encapsulated offset not a number", True))
    safe("bad encap order", lambda: err("bad-encap-order.txt", 400, "Encapsulated offsets backwards", True))
    safe("unknown method", lambda: err("unknown-method.txt", 501, "unknown method"))
    safe("unknown service", lambda: err("unknown-service.txt", 404, "unknown service"))
    safe("wrong method", lambda: err("wrong-method.txt", 405, "RESPMOD to av/reqmod"))

    def huge(terminated):
        big = b"X-Big: " + b"a" * 70000 + b"\r\n"
        req = b"OPTIONS icap://icap.test/av/respmod ICAP/1.0\r\nHost: icap.test\r\n" + big
        if terminated:
            req += b"Encapsulated: null-body=0\r\n\r\n"
        s = connect()
        rd = Reader(s)
        threading.Thread(target=lambda: _send_quiet(s, req), daemon=True).start()
        a = rd.answer()
        label = "huge header (70 KB%s)" % ("" if terminated else ", never terminated")
        ok(a["status"] == 400, label + ": 400", a["head"])
        ok(rd.closed(), label + ": the connection is closed")
        s.close()
    safe("huge header", lambda: huge(True))
    safe("huge header unterminated", lambda: huge(False))


def _send_quiet(s, data):
    try:
        s.sendall(data)
    except OSError:
        pass


def conn_cases():
    a204, eic = conv("allow204.txt"), conv("respmod-eicar.txt")

    def pipelined():
        s, rd, a = talk([a204 + eic], n=2)
        ok([x["status"] for x in a] == [204, 200] and http_status(a[1]).startswith("HTTP/1.1 403"),
           "two pipelined requests in one send: 204 then 200/403, in order",
           [x["status_line"] for x in a])
        # and the connection is still usable (keep-alive)
        s.sendall(a204)
        ok(rd.answer()["status"] == 204, "keep-alive: a third request on the same connection")
        s.close()
    safe("pipelined", pipelined)

    ref = None

    def bytewise():
        nonlocal ref
        s, rd, ref = talk([a204 + eic], n=2)
        s.close()
        s, rd, a = talk([a204 + eic], n=2, bytewise=True)
        s.close()
        ok([sig(x) for x in a] == [sig(x) for x in ref],
           "pipelined conversation sent one byte at a time: same answers",
           [x["status_line"] for x in a])
    safe("bytewise", bytewise)

    def every_split():
        data = a204 + eic
        bad = []
        for k in range(1, len(data)):
            try:
                s, rd, a = talk([data], n=2, split=k)
                s.close()
                if [sig(x) for x in a] != [sig(x) for x in ref]:
                    bad.append((k, [x["status_line"] for x in a]))
            except Exception as e:
                bad.append((k, repr(e)))
            if len(bad) > 5:
                break
        ok(not bad, "pipelined conversation split at every byte boundary (%d splits): same answers"
           % (len(data) - 1), bad)
    if ref is not None:
        safe("every split", every_split)

    def conn_close():
        s, rd, a = talk(load("conn-close.txt"))
        ok(a[0]["status"] == 204 and a[0]["hdr"].get("connection", "").lower() == "close",
           "Connection: close: the 204 says Connection: close", a[0]["head"])
        ok(rd.closed(), "Connection: close: the server closes after the answer")
        s.close()
    safe("conn close", conn_close)

    def midbody():
        for i in range(3):
            s = connect()
            s.sendall(conv("midbody.txt"))
            time.sleep(0.05)
            s.close()
        s = connect()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.sendall(conv("midbody.txt"))
        time.sleep(0.05)
        s.close()  # with linger 0: a reset
        time.sleep(0.2)
        ok([x["status"] for x in one("allow204.txt")] == [204],
           "clients that disconnect mid-body (FIN and RST): the next connection is served")
        ok([x["status"] for x in one("respmod-eicar.txt")] == [200],
           "after mid-body disconnects: an EICAR scan still answers")
    safe("midbody", midbody)


def timeout_cases():
    def idle():
        s = connect()
        rd = Reader(s, timeout=6)
        t0 = time.time()
        try:
            rd._more()
            closed = False
        except EOFError:
            closed = True
        except TimeoutError:
            closed = False
        took = time.time() - t0
        ok(closed and rd.buf == b"" and took < 5,
           "Timeout=1s: an idle client's connection is closed (after %.1fs)" % took, rd.buf[:200])
        s.close()
    safe("idle", idle)

    def stalled():
        s = connect()
        s.sendall(conv("midbody.txt"))
        rd = Reader(s, timeout=6)
        t0 = time.time()
        a = rd.answer()
        took = time.time() - t0
        ok(a["status"] == 408 and took < 5, "Timeout=1s: a client stalled mid-body gets 408 (after %.1fs)" % took,
           a["head"])
        ok(rd.closed(), "after the 408 the connection is closed")
        s.close()
    safe("stalled", stalled)

    def stalled_head():
        s = connect()
        s.sendall(b"RESPMOD icap://icap.test/av/respmod ICAP/1.0\r\nHost: icap.test\r\n")
        rd = Reader(s, timeout=6)
        a = rd.answer()
        ok(a["status"] == 408, "Timeout=1s: a client stalled inside the ICAP head gets 408", a["head"])
        s.close()
    safe("stalled head", stalled_head)


def maxconn_cases():
    def t():
        a = connect()
        b = connect()
        time.sleep(0.2)
        c = connect()
        rd = Reader(c)
        r = rd.answer()
        ok(r["status"] == 503, "MaxConnections=2: the third concurrent connection gets 503", r["head"])
        ok(rd.closed(), "the 503 connection is closed")
        c.close()
        # the two admitted connections still work
        a.sendall(conv("allow204.txt"))
        ok(Reader(a).answer()["status"] == 204, "MaxConnections=2: the admitted connections are served")
        a.close()
        b.close()
        time.sleep(0.3)
        ok(one("allow204.txt")[0]["status"] == 204, "MaxConnections=2: a slot frees when a client leaves")
    safe("maxconn", t)


def maxconn_global_cases():
    def t():
        socks = []
        for i in range(5):
            socks.append(connect())
            time.sleep(0.1)
        time.sleep(0.3)
        admitted = []
        for s in socks:
            r, _, _ = select.select([s], [], [], 0.3)
            if not r:
                admitted.append(s)
        ok(len(admitted) == 2,
           "MaxConnections=2 with 2 workers: of 5 concurrent connections exactly 2 are admitted (got %d)"
           % len(admitted))
        for s in socks:
            s.close()
    safe("maxconn global", t)


def istag():
    a = one("options-respmod.txt")[0]
    print(a["hdr"].get("istag", ""))


def report_cases():
    def t():
        lines = open(REPORT).read().splitlines() if os.path.exists(REPORT) else []
        hit = [l for l in lines if "http://origin.test/eicar.com" in l and "192.0.2.7" in l]
        ok(bool(hit) and re.search(r" 192\.0\.2\.7 alice RESPMOD http://origin\.test/eicar\.com 68 INFECTED "
                                   r"EICAR-Test-File deny \d+ms default$", hit[0]) is not None,
           "report log: the EICAR line has client IP, user, method, URL, status, threat", "\n".join(lines[-5:]))
        ok(any("http://origin.test/clean.txt" in l and "CLEAN" in l for l in lines),
           "report log: a clean object's line has its URL and CLEAN", "\n".join(lines[-5:]))
    safe("report", t)


groups = {"main": [options_cases, preview_cases, answer_cases, big_cases, error_cases, conn_cases,
                   report_cases],
          "timeout": [timeout_cases], "maxconn": [maxconn_cases], "maxconn2": [maxconn_global_cases],
          "istag": [istag]}
for g in groups[GROUP]:
    g()
sys.exit(1 if failed else 0)
PYEOF
export EICAR_HEX

raw() { timeout 120 python3 "$TMP/raw.py" "$@"; }

# --- the default configuration ------------------------------------------------
P=$(free_port)
bw_write_conf "$TMP/main.conf" "$P"
if bw_start "$TMP/main.conf" "$TMP/main.log" "$P"; then
    ok "raw: bulwarkd starts with the default configuration"
    raw "$P" "$DATA" main "$TMP/report-$P.log"
    check "raw: the daemon is still running after all cases" kill -0 "$BW_PID"
    bw_log_clean raw "$TMP/main.log"
    ISTAG1=$(raw "$P" "$DATA" istag)
    check "raw: bulwarkd exits 0 on SIGTERM" bw_stop
else
    notok "raw: bulwarkd starts with the default configuration"
fi

# --- Timeout=1s ------------------------------------------------------------------
P=$(free_port)
bw_write_conf "$TMP/timeout.conf" "$P" icapserver.network.Timeout=1s
if bw_start "$TMP/timeout.conf" "$TMP/timeout.log" "$P"; then
    raw "$P" "$DATA" timeout
    bw_stop || notok "raw: bulwarkd (Timeout=1s) exits 0 on SIGTERM"
else
    notok "raw: bulwarkd starts with Timeout=1s"
fi

# --- MaxConnections=2 (one worker, so the limit is the whole server's) -----------
P=$(free_port)
bw_write_conf "$TMP/maxconn.conf" "$P" icapserver.protocol.MaxConnections=2 icapserver.process.MaxChildren=1
if bw_start "$TMP/maxconn.conf" "$TMP/maxconn.log" "$P"; then
    raw "$P" "$DATA" maxconn
    bw_stop || notok "raw: bulwarkd (MaxConnections=2) exits 0 on SIGTERM"
else
    notok "raw: bulwarkd starts with MaxConnections=2"
fi

# --- MaxConnections is the whole server's limit, whatever MaxChildren -------------
P=$(free_port)
bw_write_conf "$TMP/maxconn2.conf" "$P" icapserver.protocol.MaxConnections=2
if bw_start "$TMP/maxconn2.conf" "$TMP/maxconn2.log" "$P"; then
    raw "$P" "$DATA" maxconn2
    bw_stop || notok "raw: bulwarkd (MaxConnections=2, 2 workers) exits 0 on SIGTERM"
else
    notok "raw: bulwarkd starts with MaxConnections=2 and 2 workers"
fi

# --- the ISTag follows the database ----------------------------------------------
mkdir -p "$TMP/db2"
cp "$ROOT"/db/test/* "$TMP/db2/"
printf 'Bulwark-Test-Extra:0:*:626f6775732d6d61726b65722d666f722d697374616721\n' >"$TMP/db2/extra.ndb"
P=$(free_port)
bw_write_conf "$TMP/istag.conf" "$P" "path.BasesPath=$TMP/db2"
if bw_start "$TMP/istag.conf" "$TMP/istag.log" "$P"; then
    ISTAG2=$(raw "$P" "$DATA" istag)
    if [ -n "${ISTAG1:-}" ] && [ -n "$ISTAG2" ] && [ "$ISTAG1" != "$ISTAG2" ]; then
        ok "raw: the ISTag changes when the database changes ($ISTAG1 -> $ISTAG2)"
    else
        notok "raw: the ISTag changes when the database changes (${ISTAG1:-none} -> ${ISTAG2:-none})"
    fi
    bw_stop || notok "raw: bulwarkd (extra .ndb) exits 0 on SIGTERM"
else
    notok "raw: bulwarkd starts with an extra .ndb"
fi

for l in timeout maxconn maxconn2 istag; do
    if [ -f "$TMP/$l.log" ]; then bw_log_clean "raw ($l)" "$TMP/$l.log"; fi
done
exit 0
