#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A minimal clamd client, for the integration tests and the benchmark.

Usage: clamd-client.py ADDR COMMAND [ARGS...]
  ADDR is a unix socket path or 127.0.0.1:PORT.
  ping | version                        the z-form command; prints the reply
  instream FILE [CHUNK]                 INSTREAM of a file; prints the reply
  session FILE...                       IDSESSION: PING, VERSION, INSTREAM of each
                                        file, END; prints every reply, one a line
  fildes FILE                           FILDES (unix socket); prints the reply
  fildes-reuse FILE OFFSET              opens FILE, moves its offset to OFFSET and
                                        sends that one descriptor with FILDES twice
                                        (two connections); prints both replies and
                                        then "offset N", the descriptor's offset after
  raw HEX [HALFCLOSE]                   sends bytes, prints what comes back as
                                        repr() and then <EOF> or <TIMEOUT>
  script FILE                           each line of FILE is a Python bytes
                                        expression (literals, +, *, int.to_bytes,
                                        bytes(n)) sent on a new connection; prints
                                        one repr() line of the reply each
Exit status 0 when the exchange completed (whatever the verdict).
CLAMD_CLIENT_TIMEOUT (seconds, default 10) bounds each wait for a reply.
"""
import array
import os
import socket
import struct
import sys
import time


DEFAULT_TIMEOUT = float(os.environ.get("CLAMD_CLIENT_TIMEOUT", "10"))


def connect(addr, timeout=None):
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    if addr.startswith("/"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(addr)
    else:
        host, port = addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=timeout)
    return s


def read_all(s):
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return out, "<EOF>"
            out += d
    except socket.timeout:
        return out, "<TIMEOUT>"
    except ConnectionResetError:
        return out, "<EOF>"


def instream_bytes(data, chunk=8192):
    out = bytearray()
    for i in range(0, len(data), chunk):
        piece = data[i:i + chunk]
        out += struct.pack(">I", len(piece)) + piece
    out += struct.pack(">I", 0)
    return bytes(out)


def exchange(addr, payload, halfclose=False, timeout=None):
    s = connect(addr, timeout)
    try:
        s.sendall(payload)
    except OSError:
        pass  # the server may close first (a size limit, a long line)
    if halfclose:
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    out, end = read_all(s)
    s.close()
    return out, end


def main(argv):
    addr, cmd, args = argv[1], argv[2], argv[3:]
    if cmd in ("ping", "version"):
        out, _ = exchange(addr, b"z" + cmd.upper().encode() + b"\0")
        print(out.rstrip(b"\0").decode(errors="replace"))
    elif cmd == "instream":
        data = open(args[0], "rb").read()
        chunk = int(args[1]) if len(args) > 1 else 8192
        out, _ = exchange(addr, b"zINSTREAM\0" + instream_bytes(data, chunk))
        print(out.rstrip(b"\0").decode(errors="replace"))
    elif cmd == "session":
        payload = b"zIDSESSION\0zPING\0zVERSION\0"
        for f in args:
            payload += b"zINSTREAM\0" + instream_bytes(open(f, "rb").read())
        payload += b"zEND\0"
        out, _ = exchange(addr, payload)
        for line in out.split(b"\0"):
            if line:
                print(line.decode(errors="replace"))
    elif cmd == "fildes":
        s = connect(addr)
        s.sendall(b"zFILDES\0")
        with open(args[0], "rb") as f:
            s.sendmsg([b"\0"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [f.fileno()]))])
        out, _ = read_all(s)
        s.close()
        print(out.rstrip(b"\0").decode(errors="replace"))
    elif cmd == "fildes-reuse":
        with open(args[0], "rb") as f:
            os.lseek(f.fileno(), int(args[1]), os.SEEK_SET)
            for _ in range(2):
                s = connect(addr)
                s.sendall(b"zFILDES\0")
                s.sendmsg([b"\0"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                     array.array("i", [f.fileno()]))])
                out, _ = read_all(s)
                s.close()
                print(out.rstrip(b"\0").decode(errors="replace"))
            print("offset %d" % os.lseek(f.fileno(), 0, os.SEEK_CUR))
    elif cmd == "raw":
        out, end = exchange(addr, bytes.fromhex(args[0]), halfclose=len(args) > 1 and args[1] == "1")
        print(repr(out) + " " + end)
    elif cmd == "script":
        for line in open(args[0]):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            payload = eval(line, {"__builtins__": {"bytes": bytes}})  # test scripts only
            out, end = exchange(addr, payload, timeout=5.0)
            print(repr(out) + " " + end)
            time.sleep(0.02)
    else:
        print("unknown command", cmd, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
