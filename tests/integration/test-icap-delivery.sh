#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What the ICAP client is given to deliver, for every status x action x way
# of asking: the bytes delivered never contain what was detected, unless the
# status's action is skip and the status is not CURED.  A CURED object is
# delivered cured (actions skip and cure, as in the proxy product whose keys
# Bulwark reads) or blocked, never as its original.
#
# A raw ICAP client (python3) sends each object as a RESPMOD and works out
# what the proxy or the storage system would deliver from the answer:
#   204                         the original body (the client's own copy)
#   200 + res-body              the encapsulated body (an echo, a cure, a
#                               block page)
#   206 + use-original-body=N   the chunks sent, then the original from N
#   an answer that never ends   nothing: the transfer is cut
# Ways of asking: Allow (none, 204, 206, "204, 206") x Preview (none; 10
# bytes, so 100 Continue comes first; 4096, the whole object with ieof),
# and the NAS profile (the avscan service, no HTTP headers).  Objects past
# EARLY_BYTES + HoldBackSize (200 KB) cover the early answer (the head goes
# out before the verdict and the echo streams: a curable zip member found
# at the end cuts it) and Allow: 204 with a body the daemon does not keep.
#
# One bulwarkd: groups chosen by URL (?act=skip, ...) set every action key
# to one value; ?act=nocure adds Cure = no with every action skip, and
# ?act=size MaxReqLength = 8K with every action skip (a curable object
# found in the scanned part of a TOO_LARGE body).
. "$(dirname "$0")/icap-lib.sh"

ACTION_KEYS="InfectedAction SuspiciousAction WarningAction ProtectedAction CorruptedAction
ErrorAction CuredAction MaxReqLengthAction TimeoutAction"
P=$(free_port)
mkdir -p "$TMP/q"
bw_write_conf "$TMP/d.conf" "$P" "quarantine.QuarantineDir=$TMP/q/store"
{
    group() { # NAME URLREGEX ACTION [extra section lines...]
        local name=$1 url=$2 act=$3 k; shift 3
        printf '[icapserver.groups:%s]\nPriority = 1\nURL = %s\n[icapserver.actions:%s]\n' \
            "$name" "$url" "$name"
        for k in $ACTION_KEYS; do printf '%s = %s\n' "$k" "$act"; done
        printf '%s\n' "$@"
    }
    for a in skip deny cure quarantine; do group "$a" "[?&]act=$a\$" "$a"; done
    # The NAS profile without HTTP headers has no URL: a group per address.
    n=0
    for a in skip deny cure quarantine; do
        n=$((n + 1))
        printf '[icapserver.groups:ip-%s]\nPriority = 1\nClientIP = 192.0.2.%s\n' "$a" "$n"
        printf '[icapserver.actions:ip-%s]\n' "$a"
        for k in $ACTION_KEYS; do printf '%s = %s\n' "$k" "$a"; done
    done
    group nocure '[?&]act=nocure$' skip '[icapserver.engine.options:nocure]' 'Cure = no'
    group size '[?&]act=size$' skip '[icapserver.filter:size]' 'MaxReqLength = 8K'
} >>"$TMP/d.conf"
bw_start "$TMP/d.conf" "$TMP/d.log" "$P" || { notok "bulwarkd starts with the action groups"; exit 1; }

export EICAR_HEX
timeout 600 python3 - "$P" "$TMP/report-$P.log" <<'PY'
import os, random, socket, sys, threading, time

PORT = int(sys.argv[1])
REPORT = sys.argv[2]
EICAR = bytes.fromhex(os.environ["EICAR_HEX"])
MARK = b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE"   # what every detection here contains
failed = 0


def tap(cond, name, detail=()):
    global failed
    print(("ok - " if cond else "not ok - ") + name)
    if not cond:
        failed += 1
        for d in list(detail)[:12]:
            print("    " + d)
    sys.stdout.flush()


def read_line(s, buf):
    while b"\r\n" not in buf[0]:
        d = s.recv(65536)
        if not d:
            raise EOFError
        buf[0] += d
    line, buf[0] = buf[0].split(b"\r\n", 1)
    return line


def read_n(s, buf, n):
    while len(buf[0]) < n:
        d = s.recv(65536)
        if not d:
            raise EOFError
        buf[0] += d
    out, buf[0] = buf[0][:n], buf[0][n:]
    return out


def read_head(s, buf):
    """ICAP status and headers; raises EOFError on a cut."""
    status = read_line(s, buf)
    hdrs = {}
    while True:
        l = read_line(s, buf)
        if not l:
            break
        if l[:1] in (b" ", b"\t"):
            continue
        k, _, v = l.partition(b":")
        hdrs[k.strip().lower().decode()] = v.strip().decode("latin-1")
    return int(status.split()[1]), hdrs


def chunks(body, size=65536):
    return b"".join(b"%x\r\n" % len(body[i:i + size]) + body[i:i + size] + b"\r\n"
                    for i in range(0, len(body), size))


def respmod(url, body, allow=None, preview=None, nas=False, clen=True, client=None, chunk=65536):
    """-> (kind, delivered, icap status, icap headers, HTTP head).  kind:
    'answer' or 'cut'.  nas: the avscan service; with client (an address
    that picks the group) and no url, no HTTP headers at all."""
    service = "avscan" if nas else "av/respmod"
    if url is None:
        enc_hdrs, enc = b"", "res-body=0"
    else:
        req = ("GET %s HTTP/1.1\r\nHost: origin.test\r\n\r\n" % url).encode()
        res = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        if clen:
            res += b"Content-Length: %d\r\n" % len(body)
        res += b"\r\n"
        enc_hdrs = req + res
        enc = "req-hdr=0, res-hdr=%d, res-body=%d" % (len(req), len(req) + len(res))
    head = "RESPMOD icap://127.0.0.1:%d/%s ICAP/1.0\r\nHost: 127.0.0.1\r\n" % (PORT, service)
    if client:
        head += "X-Client-IP: %s\r\n" % client
    if allow:
        head += "Allow: %s\r\n" % allow
    if preview is not None:
        head += "Preview: %d\r\n" % preview
    head += "Connection: close\r\nEncapsulated: %s\r\n\r\n" % enc
    s = socket.create_connection(("127.0.0.1", PORT), timeout=20)
    buf = [b""]
    sender = None
    try:
        if preview is not None:
            first = body[:preview]
            whole = len(first) == len(body)
            s.sendall(head.encode() + enc_hdrs + chunks(first, chunk) +
                      (b"0; ieof\r\n\r\n" if whole else b"0\r\n\r\n"))
            st, h = read_head(s, buf)
            if st == 100:
                rest = body[preview:]
                sender = threading.Thread(target=lambda: s.sendall(chunks(rest, chunk) + b"0\r\n\r\n"))
                sender.start()
                st, h = read_head(s, buf)
        else:
            msg = head.encode() + enc_hdrs + chunks(body, chunk) + b"0\r\n\r\n"
            sender = threading.Thread(target=lambda: s.sendall(msg))
            sender.start()
            st, h = read_head(s, buf)
        if st == 204:
            return "answer", body, st, h, b""
        encap = h.get("encapsulated", "")
        parts = dict(p.strip().split("=") for p in encap.split(","))
        body_at = [int(v) for k, v in parts.items() if k.endswith("-body")]
        if not body_at:
            return "answer", b"", st, h, read_n(s, buf, int(parts.get("null-body", 0)))
        http = read_n(s, buf, body_at[0])   # the encapsulated HTTP head
        out = b""
        while True:
            size_line = read_line(s, buf)
            size, _, ext = size_line.partition(b";")
            n = int(size, 16)
            if n == 0:
                read_line(s, buf)
                ext = ext.strip()
                if ext.startswith(b"use-original-body="):
                    out += body[int(ext.split(b"=")[1]):]
                return "answer", out, st, h, http
            out += read_n(s, buf, n)
            read_line(s, buf)
    except (EOFError, ConnectionResetError, socket.timeout):
        return "cut", b"", 0, {}, b""
    finally:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()
        if sender:
            sender.join(5)


def eicar(prefix, pad=0):
    random.seed(pad)
    return prefix.encode() + EICAR + (random.randbytes(pad) if pad else b"")


CLEAN = b"a perfectly clean text file\n"
OBJECTS = [  # name, status, bytes (small)
    ("clean.txt", "CLEAN", None), ("eicar.com", "INFECTED", ""), ("DELE.com", "INFECTED", "DELE-"),
    ("CURE.com", "CURED", "CURE-"), ("WARN.com", "WARNING", "WARN-"),
    ("SUSP.com", "SUSPICIOUS", "SUSP-"), ("CORR.com", "CORRUPTED", "CORR-"),
    ("ERRO.com", "ERROR", "ERRO-"),
]
MODES = [(a, p, False) for a in (None, "204", "206", "204, 206") for p in (None, 10, 4096)]
MODES += [("204", 4096, True), ("204", None, True), (None, None, True)]
ACTIONS = ["skip", "deny", "cure", "quarantine"]
NAS_IP = {"skip": "192.0.2.1", "deny": "192.0.2.2", "cure": "192.0.2.3", "quarantine": "192.0.2.4"}


def mode_name(m):
    a, p, nas = m
    return "%sAllow %s, preview %s" % ("NAS, " if nas else "", a or "-", "-" if p is None else p)


def expected(status, action):
    """What must be delivered: orig, cured or blocked."""
    if status == "CLEAN":
        return "orig"
    if status == "CURED":
        return "cured" if action in ("skip", "cure") else "blocked"
    return "orig" if action == "skip" else "blocked"


def judge(exp, kind, got, orig, http, may_cut):
    """None when right, else what was wrong."""
    if kind == "cut":
        return None if may_cut and exp != "orig" else "the answer was cut"
    if exp == "orig":
        return None if got == orig else "not the original (%d bytes)" % len(got)
    if MARK in got:
        return "the detected bytes were delivered (%d bytes)" % len(got)
    if exp == "cured":
        return None if got == b"CURE" else "not the cured bytes: %r" % got[:60]
    if exp == "blocked":
        return None if http.startswith(b"HTTP/1.1 403 ") and b"<title>" in got else \
            "no block page: %r" % http[:60]
    return "unexpected " + exp


expect_actions = []   # (url, status, action) for the report log
for name, status, prefix in OBJECTS:
    orig = CLEAN if prefix is None else eicar(prefix)
    for action in ACTIONS:
        exp = expected(status, action)
        bad = []
        url = "http://origin.test/%s?act=%s" % (name, action)
        for m in MODES:
            kind, got, st, h, http = respmod(url, orig, allow=m[0], preview=m[1], nas=m[2])
            why = judge(exp, kind, got, orig, http, False)
            if why:
                bad.append("%s: ICAP %s: %s" % (mode_name(m), st, why))
        for allow, pv in (("204", 4096), ("204", None), (None, None)):
            # NAS with no HTTP headers: res-body=0; the group by address
            kind, got, st, h, http = respmod(None, orig, allow=allow, preview=pv, nas=True,
                                             client=NAS_IP[action])
            why = judge(exp, kind, got, orig, http, False)
            if exp == "blocked" and kind == "answer" and st == 200 and MARK not in got and \
                    h.get("x-response-info") == "Blocked":
                why = None   # a 403 page in res-hdr: judged by its headers
            if why:
                bad.append("NAS, no HTTP headers, Allow %s, preview %s: ICAP %s: %s"
                           % (allow or "-", pv, st, why))
        expect_actions.append((url, status, action))
        tap(not bad, "delivery: %s (%s) + %s -> %s, in all %d ways of asking"
            % (name, status, action, exp, len(MODES) + 3), bad)

# Cure = no: nothing can be cured, so a CURED object is blocked even though
# every action of its group is skip.
orig = eicar("CURE-")
bad = []
for m in MODES:
    kind, got, st, h, http = respmod("http://origin.test/CURE.com?act=nocure", orig, allow=m[0],
                               preview=m[1], nas=m[2])
    why = judge("blocked", kind, got, orig, http, False)
    if why:
        bad.append("%s: ICAP %s: %s" % (mode_name(m), st, why))
tap(not bad, "delivery: Cure = no, every action skip: CURE.com is blocked in all ways of asking", bad)
expect_actions.append(("http://origin.test/CURE.com?act=nocure", "CURED", "deny"))

# The issue's case, answer by answer: CuredAction = skip, Allow: 204.
kind, got, st, h, http = respmod("http://origin.test/CURE.com?act=skip", orig, allow="204", preview=4096)
tap(st == 200 and got == b"CURE" and h.get("x-response-desc", "").startswith("CURED")
    and "Resolution=1" in h.get("x-infection-found", ""),
    "delivery: CuredAction = skip with Allow: 204 in the preview: 200 with the cured body, not 204",
    ["ICAP %s, %r, %r" % (st, got[:40], h)])

# TOO_LARGE whose scanned part was found curable (no Content-Length, and 1 KB
# chunks, so the limit is met after the start was scanned): every action
# skip, yet not the original.
big = eicar("CURE-", 20000)
bad = []
for m in [("204", None, False), ("204", 4096, False), (None, None, False), (None, 4096, False)]:
    kind, got, st, h, http = respmod("http://origin.test/CURE-big.com?act=size", big, allow=m[0],
                                     preview=m[1], clen=False, chunk=1024)
    why = judge("cured", kind, got, big, http, m[0] is None)
    if why and not judge("blocked", kind, got, big, http, False):
        why = None   # blocked is as good: the original is not delivered
    if why:
        bad.append("%s: ICAP %s: %s" % (mode_name(m), st, why))
tap(not bad, "delivery: TOO_LARGE with a curable finding, MaxReqLengthAction = skip: "
    "cured or blocked, never the original", bad)

# Past EARLY_BYTES + HoldBackSize.  With Allow: 204 the daemon keeps no copy
# and answers at the end.  Without it the answer's head goes out early and
# the echo streams (partial mode); a finding at the start whose action will
# not pass the object makes the verdict due before any byte is echoed, so
# these get the block page or the cure too, never a cut.
LARGE_MODES = [("204", None, False), ("204", 4096, False), (None, None, False),
               (None, 4096, False), ("204, 206", 4096, False)]
for name, status, prefix in OBJECTS:
    if prefix is None:
        random.seed(7)
        orig = random.randbytes(200000)
    else:
        orig = eicar(prefix, 200000)
    for action in ACTIONS:
        exp = expected(status, action)
        bad = []
        for m in LARGE_MODES:
            kind, got, st, h, http = respmod("http://origin.test/big-%s?act=%s" % (name, action), orig,
                                             allow=m[0], preview=m[1])
            why = judge(exp, kind, got, orig, http, False)
            if why:
                bad.append("%s: ICAP %s: %s" % (mode_name(m), st, why))
        tap(not bad, "delivery: 200 KB %s (%s) + %s -> %s" % (name, status, action, exp), bad)

# The early answer with a CURED verdict: a stored zip of 200 KB whose member
# CURE.com is found when the archive is opened, at the end.  A member has no
# cure (the cure replaces a whole object), so it is blocked whatever the
# action; without Allow: 204 the head and most of the zip went out before
# the verdict, and the answer is cut: the echo of the original never ends.
import io, zipfile
zbuf = io.BytesIO()
with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_STORED) as z:
    random.seed(11)
    z.writestr("pad.bin", random.randbytes(200000))
    z.writestr("CURE.com", eicar("CURE-"))
zdata = zbuf.getvalue()
for action in ACTIONS:
    bad = []
    for m in LARGE_MODES:
        kind, got, st, h, http = respmod("http://origin.test/cure-member.zip?act=%s" % action, zdata,
                                         allow=m[0], preview=m[1])
        streamed = "204" not in (m[0] or "")
        if streamed:
            why = None if kind == "cut" else "not cut: ICAP %s, %d bytes" % (st, len(got))
        else:
            why = judge("blocked", kind, got, zdata, http, False)
        if why:
            bad.append("%s: ICAP %s: %s" % (mode_name(m), st, why))
    tap(not bad, "delivery: a curable member of a 200 KB zip + %s -> blocked, or cut after an "
        "early answer (never the whole original)" % action, bad)

# The report log names the action taken: cure for a CURED object whose
# action was skip, deny when nothing could be cured.
time.sleep(0.3)
lines = [l.rstrip("\n").split(" ") for l in open(REPORT, encoding="latin-1")]
bad = []
for url, status, action in expect_actions:
    want = {("CURED", "skip"): "cure", ("CURED", "cure"): "cure"}.get((status, action), action)
    if status == "CLEAN":
        want = "skip"
    elif action == "cure" and status != "CURED":
        want = "deny"
    got = [(f[6], f[8]) for f in lines if len(f) == 11 and f[4] == url]
    if not got or any(g != (status, want) for g in got):
        bad.append("%s: want %s %s, got %r" % (url, status, want, got[:3]))
tap(not bad, "report log: each object's STATUS and the ACTION taken (CURED + skip says cure)", bad)
sys.exit(1 if failed else 0)
PY
check "delivery: the daemon is still running" kill -0 "$BW_PID"
check "delivery: bulwarkd exits 0 on SIGTERM" bw_stop
bw_log_clean "delivery" "$TMP/d.log"
