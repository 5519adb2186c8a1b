#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A NAS-style ICAP client for the integration tests (test-icap-nas.sh,
test-icap-tls.sh).

It sends one file as a RESPMOD body the way storage systems do: with the
encapsulated HTTP request and response headers, with the response headers
only, or with no HTTP header at all (Encapsulated: res-body=0), and with or
without Allow: 204 and a preview, over plain TCP or TLS.  The file is
streamed from disk in 64 KiB chunks and the answer's body is hashed as it
arrives, so a 200 MB object is never held in this process's memory.

One thread reads and writes, with select(): a server that echoes a body
while it scans it must never wait for a client that reads only once it has
sent everything, and an OpenSSL session must not be used by two threads at
once (Python releases the GIL inside SSL_read and SSL_write).

Output: one JSON object on stdout:
  {"status": 200, "head": "<ICAP head>", "http": "<encapsulated HTTP head>",
   "body_len": N, "body_sha256": "...", "body_head": "<first 512 bytes>",
   "last_chunk": "0", "closed": true|false (with --check-close), "error": "...",
   "send_error": "..."}
"""
import argparse
import hashlib
import json
import os
import select
import socket
import ssl
import sys
import time

CHUNK = 65536


class NeedMore(Exception):
    """The answer parser has consumed everything buffered."""


class Parser:
    """Parses ICAP answers from bytes fed to it.  parse() restarts from the
    last completed step each time: every step either completes or raises
    NeedMore without consuming anything."""

    def __init__(self):
        self.buf = b""
        self.step = "head"
        self.cur = {}
        self.answers = []  # completed answers, in order
        self.hash = None

    def take_until(self, sep):
        i = self.buf.find(sep)
        if i < 0:
            if len(self.buf) > (1 << 20):
                raise ValueError("no %r within 1 MiB" % sep)
            raise NeedMore
        out, self.buf = self.buf[: i + len(sep)], self.buf[i + len(sep):]
        return out

    def take(self, n):
        if len(self.buf) < n:
            raise NeedMore
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def parse(self):
        try:
            while True:
                self.one_step()
        except NeedMore:
            pass

    def one_step(self):
        c = self.cur
        if self.step == "head":
            head = self.take_until(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            c.update(status=int(lines[0].split(" ")[1]), head=head.decode("latin-1"),
                     http="", body_len=0, body_head="")
            enc = "null-body=0"
            for ln in lines[1:]:
                if ln.lower().startswith("encapsulated:"):
                    enc = ln.split(":", 1)[1].strip()
            if c["status"] == 100:
                self.finish()
                return
            offs = [p.strip().split("=") for p in enc.split(",")]
            c["_kind"], c["_off"] = offs[-1][0], int(offs[-1][1])
            self.hash = hashlib.sha256()
            self.step = "http"
        elif self.step == "http":
            c["http"] = self.take(c["_off"]).decode("latin-1")
            self.step = "chunk" if c["_kind"] in ("res-body", "req-body") else "done"
        elif self.step == "chunk":
            line = self.buf[: self.buf.find(b"\r\n")] if b"\r\n" in self.buf else None
            if line is None:
                self.take_until(b"\r\n")  # raises NeedMore (or the 1 MiB error)
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                self.take_until(b"\r\n")
                self.take_until(b"\r\n")  # the empty line after the last chunk
                c["last_chunk"] = line.decode("latin-1").strip()
                self.step = "done"
                return
            if len(self.buf) < len(line) + 2 + size + 2:
                raise NeedMore
            self.take(len(line) + 2)
            data = self.take(size)
            self.take(2)
            self.hash.update(data)
            if len(c["body_head"]) < 512:
                c["body_head"] += data[: 512 - len(c["body_head"])].decode("latin-1")
            c["body_len"] += size
        elif self.step == "done":
            c["body_sha256"] = self.hash.hexdigest()
            self.finish()

    def finish(self):
        for k in [k for k in self.cur if k.startswith("_")]:
            del self.cur[k]
        self.answers.append(self.cur)
        self.cur = {}
        self.step = "head"


def pieces(path, start, stop):
    """The chunks of path[start:stop], read from disk as they are needed."""
    with open(path, "rb") as f:
        f.seek(start)
        left = stop - start
        while left > 0:
            d = f.read(min(CHUNK, left))
            if not d:
                break
            yield b"%x\r\n" % len(d) + d + b"\r\n"
            left -= len(d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--service", default="avscan")
    ap.add_argument("--file", help="the file to send (omit for a null-body request)")
    ap.add_argument("--headers", choices=["none", "res", "reqres"], default="reqres",
                    help="encapsulated HTTP headers: none (res-body only), res-hdr, or req-hdr + res-hdr")
    ap.add_argument("--name", default="/ifs/data/share/file.bin", help="the file's path on the NAS")
    ap.add_argument("--no204", action="store_true")
    ap.add_argument("--preview", type=int, default=-1)
    ap.add_argument("--client-ip")
    ap.add_argument("--method", default="RESPMOD")
    ap.add_argument("--tls-ca", help="speak TLS, trusting this CA file")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--check-close", action="store_true",
                    help="after the answer, wait 0.3 s to see whether the server closes")
    a = ap.parse_args()

    out = {"status": 0, "head": "", "http": "", "body_len": 0, "closed": False, "error": ""}
    size = os.path.getsize(a.file) if a.file else 0
    reqhdr = ("GET %s HTTP/1.1\r\nHost: nas.test\r\n\r\n" % a.name).encode()
    reshdr = ("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
              "Content-Length: %d\r\n\r\n" % size).encode()
    hdrs = b""
    enc = []
    if a.headers == "reqres":
        enc.append("req-hdr=0")
        hdrs += reqhdr
    if a.headers in ("reqres", "res"):
        enc.append("res-hdr=%d" % len(hdrs))
        hdrs += reshdr
    enc.append(("res-body=%d" if a.file else "null-body=%d") % len(hdrs))
    head = "%s icap://127.0.0.1:%d/%s ICAP/1.0\r\nHost: 127.0.0.1\r\n" % (a.method, a.port, a.service)
    if not a.no204:
        head += "Allow: 204\r\n"
    if a.preview >= 0 and a.file:
        head += "Preview: %d\r\n" % a.preview
    if a.client_ip:
        head += "X-Client-IP: %s\r\n" % a.client_ip
    head += "Encapsulated: %s\r\n\r\n" % ", ".join(enc)

    def done():
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")

    try:
        s = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout)
        if a.tls_ca:
            ctx = ssl.create_default_context(cafile=a.tls_ca)
            ctx.check_hostname = False
            s = ctx.wrap_socket(s, server_hostname="localhost")  # the handshake, blocking
            out["tls"] = s.version()
    except (OSError, ssl.SSLError) as e:
        out["error"] = "connect: %s: %s" % (type(e).__name__, e)
        return done()

    # What to send: the head, then the body (in two phases with a preview).
    n_preview = size if a.preview < 0 else min(a.preview, size)
    phase1 = [head.encode() + hdrs]
    phase2 = []
    if a.file:
        phase1.append(pieces(a.file, 0, n_preview))
        if a.preview < 0:
            phase1.append(b"0\r\n\r\n")
        elif n_preview == size:
            phase1.append(b"0; ieof\r\n\r\n")
        else:
            phase1.append(b"0\r\n\r\n")
            phase2 = [pieces(a.file, n_preview, size), b"0\r\n\r\n"]

    def flatten(items):
        for it in items:
            if isinstance(it, bytes):
                yield it
            else:
                yield from it

    sending = flatten(phase1)
    waiting_100 = False
    pending = b""
    p = Parser()
    final = None
    s.setblocking(False)
    deadline = time.time() + a.timeout
    try:
        while final is None:
            if not pending and sending is not None and not waiting_100:
                pending = next(sending, b"")
                if not pending:
                    sending = None
                    waiting_100 = bool(phase2)
            if time.time() > deadline:
                raise TimeoutError("no answer within %gs" % a.timeout)
            want_w = [s] if pending else []
            r, w, _ = select.select([s], want_w, [], 1.0)
            if r or (a.tls_ca and s.pending()):
                try:
                    while True:
                        d = s.recv(CHUNK)
                        if not d:
                            raise EOFError("connection closed by the server")
                        p.buf += d
                        if not (a.tls_ca and s.pending()):
                            break
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                    pass
                p.parse()
                for ans in p.answers:
                    if ans["status"] == 100 and waiting_100:
                        waiting_100 = False
                        sending = flatten(phase2)
                        phase2 = []
                    elif ans["status"] != 100:
                        final = ans
                p.answers = []
            if w and pending:
                try:
                    n = s.send(pending)
                    pending = pending[n:]
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                    pass
                except OSError as e:
                    # The server may answer and close before the body is all
                    # sent: the answer is what counts, so keep reading.
                    out["send_error"] = "%s: %s" % (type(e).__name__, e)
                    pending, sending, waiting_100 = b"", None, False
        out.update(final)
        if a.check_close:
            # Did the server close after its answer?  (A short wait, not a long one.)
            s.setblocking(True)
            s.settimeout(0.3)
            try:
                out["closed"] = s.recv(1) == b""
            except (socket.timeout, ssl.SSLError, OSError):
                pass
    except (OSError, EOFError, ValueError, ssl.SSLError, TimeoutError) as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)
        if final:
            out.update(final)
    done()


if __name__ == "__main__":
    main()
