#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Speaks BWSCAN/1 by hand to send what a well-behaved client never would.
# Usage: rscan-raw.py PORT CASE; prints the server's reply lines, one per
# line, then "ALIVE" if a PING after the case still gets PONG.
import hashlib, socket, sys

port, case = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
f = s.makefile("rb")

def line():
    return f.readline().decode(errors="replace").rstrip("\n")

def scan_hdr(data, size=None, sha=None):
    sha = sha or hashlib.sha256(data).hexdigest()
    size = len(data) if size is None else size
    s.sendall(b"SCAN %s %d x\n" % (sha.encode(), size))

out = []
data = b"rscan hostile test %s\n" % case.encode()
if case == "short":          # announces more than it sends
    scan_hdr(data, size=len(data) + 10)
    out.append(line())
    s.sendall(b"%x\n" % len(data) + data + b"0\n")
    out.append(line())
elif case == "long":         # sends more than it announced
    scan_hdr(data, size=5)
    out.append(line())
    s.sendall(b"%x\n" % len(data) + data + b"0\n")
    out.append(line())
elif case == "hash":         # content that does not hash to the offer
    scan_hdr(data, sha="ab" * 32)
    out.append(line())
    s.sendall(b"%x\n" % len(data) + data + b"0\n")
    out.append(line())
elif case == "oversized":    # over MaxFileSize: refused before any content
    scan_hdr(b"", size=1 << 40, sha="cd" * 32)
    out.append(line())
elif case == "malformed":
    for l in [b"HELLO\n", b"SCAN xyz 12 n\n", b"SCAN " + b"a" * 64 + b" -5 n\n",
              b"SCAN " + b"a" * 64 + b" 5\n", b"PING extra\n", b"SCAN " + b"a" * 64 + b" 5 %zz\n"]:
        s.sendall(l)
        out.append(line())
elif case == "flood":        # 100000 PINGs sent before reading any reply
    import threading
    t = threading.Thread(target=lambda: s.sendall(b"PING\n" * 100000))
    t.start()
    n = sum(1 for _ in range(100000) if line().startswith("PONG "))
    t.join()
    out.append("PONGS %d" % n)
elif case == "badchunk":     # a broken chunk header: ERROR, then the server closes
    scan_hdr(data)
    out.append(line())
    s.sendall(b"zz\n")
    out.append(line())
    print("\n".join(out))
    print("CLOSED" if f.readline() == b"" else "OPEN")
    sys.exit(0)
elif case == "longline":     # a line over 4096 bytes: ERROR and close
    s.sendall(b"SCAN " + b"a" * 5000)
    out.append(line())
    print("\n".join(out))
    print("CLOSED" if f.readline() == b"" else "OPEN")
    sys.exit(0)
print("\n".join(out))
s.sendall(b"PING\n")
print("ALIVE" if line().startswith("PONG ") else "DEAD")
