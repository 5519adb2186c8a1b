#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""An update server for tests/integration/test-update.sh (python3 stdlib only).

Serves the files under --root over HTTP/1.1 with keep-alive (GET and HEAD;
404 for anything missing, any '..', or a dotfile), and misbehaves on demand
so the updater's failure paths meet a real peer.  The test steers it by
writing --control FILE, re-read on every request; each line is one rule:

    truncate NAME [N]   send NAME's full Content-Length, then half the body,
                        then close the connection (the first N requests for
                        NAME; all of them without N)
    close NAME          send half of NAME with no Content-Length and close:
                        the response looks complete to the client
    slow NAME SECONDS   wait SECONDS before answering for NAME
    drip NAME           send NAME's full Content-Length, then its body one
                        byte a second (until done or the client goes away)
    status NAME CODE    answer CODE (e.g. 503) for NAME

NAME is a file's last path component.  Counters restart whenever the
control file's content changes.  --log FILE gets one line per request:
"GET /path STATUS BYTES-SENT".  --tls CERT KEY serves HTTPS instead.
"""
import argparse
import http.server
import os
import socketserver
import ssl
import sys
import threading
import time

LOCK = threading.Lock()
STATE = {"text": None, "rules": [], "counts": {}}


def rules(control):
    try:
        with open(control) as f:
            text = f.read()
    except OSError:
        text = ""
    with LOCK:
        if text != STATE["text"]:
            STATE["text"] = text
            STATE["counts"] = {}
            STATE["rules"] = [line.split() for line in text.splitlines() if line.split()]
        return STATE["rules"]


def take(kind, name, limit):
    """Counts one use of rule (kind, name); True while under limit."""
    with LOCK:
        n = STATE["counts"].get((kind, name), 0)
        if limit is not None and n >= limit:
            return False
        STATE["counts"][(kind, name)] = n + 1
        return True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bulwark-test-update-server"

    def log_message(self, fmt, *args):
        pass

    def note(self, status, sent):
        if self.server.log:
            with LOCK, open(self.server.log, "a") as f:
                f.write("%s %s %d %d\n" % (self.command, self.path, status, sent))

    def answer(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.note(code, len(body))

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        parts = [p for p in path.split("/") if p]
        if not parts or any(p == ".." or p.startswith(".") for p in parts):
            return self.answer(404, b"not found\n")
        name = parts[-1]
        full = os.path.join(self.server.root, *parts)
        for r in rules(self.server.control):
            if len(r) >= 3 and r[0] == "slow" and r[1] == name:
                time.sleep(float(r[2]))
            if len(r) >= 3 and r[0] == "status" and r[1] == name:
                return self.answer(int(r[2]), b"as the test asked\n")
        if not os.path.isfile(full):
            return self.answer(404, b"not found\n")
        with open(full, "rb") as f:
            data = f.read()
        for r in rules(self.server.control):
            if len(r) >= 2 and r[0] == "truncate" and r[1] == name and \
                    take("truncate", name, int(r[2]) if len(r) > 2 else None):
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.note(200, len(data) // 2)
                self.close_connection = True
                return
            if len(r) >= 2 and r[0] == "drip" and r[1] == name:
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                sent = 0
                try:
                    for i in range(len(data)):
                        self.wfile.write(data[i:i + 1])
                        self.wfile.flush()
                        sent += 1
                        time.sleep(1)
                except OSError:
                    pass
                self.note(200, sent)
                self.close_connection = True
                return
            if len(r) >= 2 and r[0] == "close" and r[1] == name:
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.note(200, len(data) // 2)
                self.close_connection = True
                return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.note(200, len(data))


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--control", default="/nonexistent")
    ap.add_argument("--log")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.root, srv.control, srv.log = a.root, a.control, a.log
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    sys.stderr.write("update-server: http%s://127.0.0.1:%d/ serving %s\n"
                     % ("s" if a.tls else "", a.port, a.root))
    srv.serve_forever()


if __name__ == "__main__":
    main()
