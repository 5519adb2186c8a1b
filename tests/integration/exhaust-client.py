#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Clients for test-exhaustion.sh: each sub-command creates one resource-
exhaustion condition against bulwarkd and prints TAP lines.

Every wait is bounded; the time bounds are generous upper limits for what
the daemon must do (close a dripping client at its deadline), never the
thing that makes a case pass on a fast machine."""
import os, select, signal, socket, sys, time

def ok(cond, name, detail=""):
    print("%s - %s" % ("ok" if cond else "not ok", name))
    if not cond and detail:
        for l in str(detail).splitlines()[:8]:
            print("#   " + l)
    sys.stdout.flush()
    return cond

def conn(port, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s

OPTIONS = (b"OPTIONS icap://127.0.0.1/av/respmod ICAP/1.0\r\nHost: 127.0.0.1\r\n"
           b"Encapsulated: null-body=0\r\n\r\n")

def icap_status(port, timeout=5):
    """Status of an OPTIONS on a fresh connection, or None if cut/no answer."""
    try:
        s = conn(port, timeout)
        s.sendall(OPTIONS)
        data = b""
        while b"\r\n\r\n" not in data:
            d = s.recv(4096)
            if not d:
                break
            data += d
        s.close()
        if data.startswith(b"ICAP/1.0 "):
            return int(data[9:12])
    except OSError:
        pass
    return None

def drip(socks, data_of, period, limit):
    """Sends one byte to each open socket every `period` seconds until each
    is closed by the server or `limit` seconds pass.  Returns {sock: (time
    it closed or None, bytes it answered)}."""
    t0 = time.time()
    pos = {s: 0 for s in socks}
    got = {s: b"" for s in socks}
    closed = {}
    while len(closed) < len(socks) and time.time() - t0 < limit:
        for s in socks:
            if s in closed:
                continue
            d = data_of(s)
            try:
                s.send(d[pos[s] % len(d):pos[s] % len(d) + 1])
                pos[s] += 1
            except OSError:
                closed[s] = time.time() - t0
        end = time.time() + period
        while time.time() < end:
            live = [s for s in socks if s not in closed]
            if not live:
                break
            r, _, _ = select.select(live, [], [], max(0, end - time.time()))
            for s in r:
                try:
                    d = s.recv(65536)
                except OSError:
                    d = b""
                if d:
                    got[s] += d
                else:
                    closed[s] = time.time() - t0
    return {s: (closed.get(s), got[s]) for s in socks}

# ---- ICAP: the header deadline and the body rate ----------------------------------

def icap_slowloris(port, maxconn, header_s):
    """`maxconn` clients drip an ICAP head slower than nothing but faster
    than Timeout: a normal request is refused only while they hold every
    slot, and each is answered 408 and closed at HeaderTimeout."""
    head = (b"RESPMOD icap://127.0.0.1/av/respmod ICAP/1.0\r\nHost: 127.0.0.1\r\n"
            + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 40) for i in range(200)))
    drippers = [conn(port) for _ in range(maxconn - 1)]
    for s in drippers:
        s.send(head[:1])
    time.sleep(0.2)
    st = icap_status(port)
    ok(st == 200, "icap slowloris: a normal request is served while %d drippers are connected (got %s)"
       % (len(drippers), st))
    # The last slot: the normal request's connection may not be freed yet
    # (its close reaches the worker a moment later), so a 503 means "again".
    for _ in range(50):
        last = conn(port)
        last.send(head[:1])
        r, _, _ = select.select([last], [], [], 0.3)
        if not r:
            break
        last.close()
        time.sleep(0.1)
    drippers.append(last)
    res = drip(drippers, lambda s: head[1:], 0.3, header_s + 15)
    times = [t for t, _ in res.values()]
    ok(all(t is not None for t in times),
       "icap slowloris: every dripper is closed although it never paused for Timeout (closed after %s s)"
       % [None if t is None else round(t, 1) for t in times])
    answered = [g for _, g in res.values()]
    ok(all(g.startswith(b"ICAP/1.0 408") for g in answered),
       "icap slowloris: the drippers are answered 408", answered[0][:60])
    ok(all(t is not None and t < header_s + 10 for t in times),
       "icap slowloris: closed at HeaderTimeout (%ss), not later" % header_s)
    st = icap_status(port)
    ok(st == 200, "icap slowloris: after the deadline a normal request is served (got %s)" % st)
    for s in drippers:
        s.close()

def icap_slow_body(port, period_s):
    """A body trickled at a byte per 0.3 s (never idle for Timeout) is cut
    by MinBodyRate after a MinBodyRatePeriod or two."""
    req_hdr = b"GET /x HTTP/1.1\r\nHost: origin.test\r\n\r\n"
    res_hdr = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n"
    head = (b"RESPMOD icap://127.0.0.1/av/respmod ICAP/1.0\r\nHost: 127.0.0.1\r\n"
            b"Allow: 204\r\nEncapsulated: req-hdr=0, res-hdr=%d, res-body=%d\r\n\r\n"
            % (len(req_hdr), len(req_hdr) + len(res_hdr)))
    s = conn(port)
    s.sendall(head + req_hdr + res_hdr + b"100000\r\n")
    res = drip([s], lambda _: b"x", 0.3, 3 * period_s + 15)
    t, got = res[s]
    ok(t is not None and got.startswith(b"ICAP/1.0 408"),
       "icap slow body: a body trickled below MinBodyRate gets 408 and is closed (after %s s)" % t,
       got[:80])
    s.close()

# ---- clamd ------------------------------------------------------------------------

def clamd_slowloris(port, timeout_s):
    """A command trickled a byte at a time is cut at CommandReadTimeout."""
    s = conn(port)
    cmd = b"zSCAN /" + b"a" * 4000
    res = drip([s], lambda _: cmd, 0.3, timeout_s + 15)
    t, got = res[s]
    ok(t is not None and b"COMMAND READ TIMED OUT" in got,
       "clamd slowloris: a trickled command gets COMMAND READ TIMED OUT and is closed (after %s s)" % t,
       got[:80])
    ok(t is not None and t < timeout_s + 10, "clamd slowloris: closed at CommandReadTimeout, not later")
    s.close()

def clamd_ping(port, timeout=5):
    try:
        s = conn(port, timeout)
        s.sendall(b"zPING\0")
        data = b""
        while True:
            d = s.recv(100)
            if not d:
                break
            data += d
        s.close()
        return data
    except OSError as e:
        return repr(e).encode()

def clamd_maxqueue(port, maxq):
    """MaxQueue connections held open: the next one waits (not refused,
    not served) until one of them closes."""
    held = []
    for _ in range(maxq):
        s = conn(port)
        s.sendall(b"zIDSESSION\0zPING\0")
        held.append(s)
    for s in held:  # each is accepted and served: its PONG comes back
        data = b""
        while b"PONG" not in data:
            d = s.recv(100)
            if not d:
                break
            data += d
    extra = conn(port)
    extra.sendall(b"zPING\0")
    r, _, _ = select.select([extra], [], [], 1.0)
    ok(not r, "clamd MaxQueue=%d: one more connection is not served while %d are open" % (maxq, maxq))
    held.pop().close()
    r, _, _ = select.select([extra], [], [], 10)
    got = extra.recv(100) if r else b""
    ok(got == b"PONG\0", "clamd MaxQueue: it is served once one closes", got)
    extra.close()
    for s in held:
        s.close()

def proc_kib(pid, field="Pss"):
    try:
        for line in open("/proc/%d/smaps_rollup" % pid):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0

def clamd_idsession_flood(port, workers, n):
    """IDSESSION then n zPING without reading a reply: the worker must stop
    reading instead of buffering the replies; then every reply is right."""
    before = sum(proc_kib(p) for p in workers)
    # Small buffers on our side: the kernel holds less of the flood, so the
    # worker meets its bound sooner and the case stays short.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    msg = b"zIDSESSION\0" + b"zPING\0" * n
    sent, t0 = 0, time.time()
    stalled_since = None
    while sent < len(msg) and time.time() - t0 < 20:
        _, w, _ = select.select([], [s], [], 0.2)
        if not w:
            # the server stopped reading: the kernel buffers are full
            stalled_since = stalled_since or time.time()
            if time.time() - stalled_since > 1.0:
                break
            continue
        stalled_since = None
        try:
            sent += s.send(msg[sent:sent + 65536])
        except BlockingIOError:
            pass
    peak = sum(proc_kib(p) for p in workers)
    grew = (peak - before) // 1024
    ok(sent < len(msg), "clamd IDSESSION flood: the worker stops reading when replies back up "
       "(%d of %d bytes taken)" % (sent, len(msg)))
    ok(grew < 24, "clamd IDSESSION flood: worker memory stays bounded (grew %d MiB)" % grew)
    # Finish the command in flight, end the session, read every reply.
    pings = (sent - len(b"zIDSESSION\0") + 5) // 6 if sent > 11 else 0
    rest = msg[sent:11 + 6 * pings] + b"zEND\0"
    s.setblocking(True)
    s.settimeout(20)
    data = bytearray()
    import threading
    th = threading.Thread(target=lambda: s.sendall(rest))
    th.start()
    err = None
    while True:
        try:
            d = s.recv(1 << 20)
        except OSError as e:
            err = e
            break
        if not d:
            break
        data += d
    th.join()
    if err:
        print("# reading the replies: %r" % err)
    replies = bytes(data).split(b"\0")[:-1]
    good = len(replies) == pings and all(r == b"%d: PONG" % (i + 1) for i, r in enumerate(replies))
    ok(good, "clamd IDSESSION flood: all %d replies arrive, numbered and in order (got %d)"
       % (pings, len(replies)), repr(replies[:2]) + " ... " + repr(bytes(data[-60:])))
    s.close()

# ---- out of descriptors ------------------------------------------------------------

def cpu_ticks(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])  # utime + stime

def emfile(icap_port, clamd_port, worker, n, logfile):
    held = []
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", clamd_port), timeout=2)
            held.append(s)
        except OSError:
            break
    # The worker runs out of descriptors: it must neither spin nor flood the log.
    t0 = cpu_ticks(worker)
    time.sleep(2.0)
    used = (cpu_ticks(worker) - t0) / os.sysconf("SC_CLK_TCK")
    ok(used < 0.5, "emfile: with descriptors exhausted the worker does not spin (%.2fs CPU in 2s)" % used)
    lines = sum(1 for _ in open(logfile, errors="replace"))
    ok(lines < 40, "emfile: the log stays small (%d lines)" % lines)
    for s in held:
        s.close()
    deadline = time.time() + 15
    st = None
    while time.time() < deadline:
        st = icap_status(icap_port, 2)
        if st == 200:
            break
        time.sleep(0.2)
    ok(st == 200, "emfile: once the idle connections close, an ICAP request is served (%s)" % st)
    got = b""
    while time.time() < deadline:
        got = clamd_ping(clamd_port, 2)
        if got == b"PONG\0":
            break
        time.sleep(0.2)
    ok(got == b"PONG\0", "emfile: and a clamd PING is answered", got)

# ---- TLS: balance across workers, handshake deadline -------------------------------

def sockets_of(pid):
    n = 0
    d = "/proc/%d/fd" % pid
    for f in os.listdir(d):
        try:
            if os.readlink(os.path.join(d, f)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n

def tls_balance(plain, tls, a, b, maxconn):
    """Worker b is stopped: silent TLS clients must fill only worker a's
    share; the rest wait for b; the plain port keeps serving; only a full
    server answers 503."""
    share = (maxconn + 1) // 2
    base = sockets_of(a)
    held = [conn(tls) for _ in range(share + 4)]
    end = time.time() + 10
    while time.time() < end and sockets_of(a) - base < share:
        time.sleep(0.05)
    time.sleep(0.5)  # room for more accepts, if it would take them
    took = sockets_of(a) - base
    ok(took == share, "balance: a worker takes its share of MaxConnections (%d) and no more (took %d)"
       % (share, took))
    os.kill(b, signal.SIGCONT)
    st = icap_status(plain)
    ok(st == 200, "balance: silent TLS connections under MaxConnections do not make the plain port 503 "
       "(got %s)" % st)
    more = [conn(tls) for _ in range(maxconn - len(held))]
    time.sleep(0.3)
    st = None
    end = time.time() + 10
    while time.time() < end:
        st = icap_status(plain)
        if st == 503:
            break
        time.sleep(0.1)
    ok(st == 503, "balance: with the whole server at MaxConnections a new connection gets 503 (got %s)" % st)
    for s in held + more:
        s.close()

def tls_drip(tls, limit_s):
    s = conn(tls)
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) * 2
    res = drip([s], lambda _: hello, 0.5, limit_s + 15)
    t, _ = res[s]
    ok(t is not None and t < limit_s + 10,
       "tls: a ClientHello dripped faster than Timeout is closed at TlsHandshakeTimeout (after %s s)" % t)
    s.close()

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "icap-slowloris":
        icap_slowloris(int(args[0]), int(args[1]), float(args[2]))
    elif cmd == "icap-slow-body":
        icap_slow_body(int(args[0]), float(args[1]))
    elif cmd == "clamd-slowloris":
        clamd_slowloris(int(args[0]), float(args[1]))
    elif cmd == "clamd-maxqueue":
        clamd_maxqueue(int(args[0]), int(args[1]))
    elif cmd == "clamd-flood":
        clamd_idsession_flood(int(args[0]), [int(p) for p in args[1].split(",")], int(args[2]))
    elif cmd == "emfile":
        emfile(int(args[0]), int(args[1]), int(args[2]), int(args[3]), args[4])
    elif cmd == "tls-balance":
        tls_balance(int(args[0]), int(args[1]), int(args[2]), int(args[3]), int(args[4]))
    elif cmd == "tls-drip":
        tls_drip(int(args[0]), float(args[1]))
    else:
        sys.exit("unknown " + cmd)
