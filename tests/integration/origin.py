#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A tiny HTTP origin for the proxy tests (python3 stdlib only).

The tests need an origin whose every byte they know, so it serves files
from one directory and nothing else, in the framings a proxy must carry
unchanged:
  GET /files/NAME     the file, with Content-Length
  GET /gzip/NAME      the file gzip-compressed (mtime 0, so reproducible),
                      Content-Encoding: gzip, with Content-Length
  GET /chunked/NAME   the file with Transfer-Encoding: chunked (16 KiB chunks)
  GET /stream         a never-ending chunked stream (until the client goes);
                      ?type=T sets its Content-Type (default audio/mpeg)
  POST|PUT /upload    reads the body (Content-Length or chunked) and answers
                      200 "received N bytes sha256=HEX"
HTTP/1.1 with keep-alive; one thread per connection.
"""
import argparse
import gzip
import hashlib
import http.server
import os
import socketserver
import sys

CHUNK = 16 * 1024


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bulwark-test-origin"

    def log_message(self, fmt, *args):
        sys.stderr.write("origin: " + (fmt % args) + "\n")

    def _path(self, prefix):
        name = self.path[len(prefix):].split("?", 1)[0]
        if not name or "/" in name or name.startswith("."):
            return None
        p = os.path.join(self.server.root, name)
        return p if os.path.isfile(p) else None

    def _simple(self, code, body, ctype="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_file(self, path):
        size = os.path.getsize(path)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if self.command == "HEAD":
            return
        with open(path, "rb") as f:
            while True:
                b = f.read(256 * 1024)
                if not b:
                    break
                self.wfile.write(b)

    def _send_chunked(self, chunks, ctype="application/octet-stream"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if self.command == "HEAD":
            return
        for b in chunks:
            if b:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
        self.wfile.write(b"0\r\n\r\n")

    def do_GET(self):
        try:
            self._get()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_HEAD = do_GET

    def _get(self):
        if self.path.startswith("/files/"):
            p = self._path("/files/")
            return self._send_file(p) if p else self._simple(404, b"no such file\n")
        if self.path.startswith("/gzip/"):
            p = self._path("/gzip/")
            if not p:
                return self._simple(404, b"no such file\n")
            with open(p, "rb") as f:
                body = gzip.compress(f.read(), mtime=0)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        if self.path.startswith("/chunked/"):
            p = self._path("/chunked/")
            if not p:
                return self._simple(404, b"no such file\n")

            def pieces():
                with open(p, "rb") as f:
                    while True:
                        b = f.read(CHUNK)
                        if not b:
                            return
                        yield b
            return self._send_chunked(pieces())
        if self.path.split("?", 1)[0] == "/stream":
            def forever():
                block = b"streaming media, never ends\n" * 512
                while True:
                    yield block
            self.close_connection = True
            q = self.path.split("?", 1)[1] if "?" in self.path else ""
            args = dict(kv.split("=", 1) for kv in q.split("&") if "=" in kv)
            return self._send_chunked(forever(), args.get("type", "audio/mpeg"))
        self._simple(404, b"unknown path\n")

    def _read_body(self):
        h = hashlib.sha256()
        n = 0
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                left = size
                while left:
                    b = self.rfile.read(min(left, 256 * 1024))
                    if not b:
                        raise ConnectionResetError
                    h.update(b)
                    n += len(b)
                    left -= len(b)
                self.rfile.readline(16)
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                b = self.rfile.read(min(left, 256 * 1024))
                if not b:
                    raise ConnectionResetError
                h.update(b)
                n += len(b)
                left -= len(b)
        return n, h.hexdigest()

    def do_POST(self):
        try:
            n, digest = self._read_body()
            self.server.uploads += 1
            self._simple(200, b"received %d bytes sha256=%s\n" % (n, digest.encode()))
        except (BrokenPipeError, ConnectionResetError, ValueError):
            self.close_connection = True

    do_PUT = do_POST


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True, help="directory of the files to serve")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    a = ap.parse_args()
    srv = Server((a.bind, a.port), Handler)
    srv.root = a.dir
    srv.uploads = 0
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
