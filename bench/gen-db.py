#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Synthetic signature database and planted markers for bench/run.sh.

Why synthetic: the official ClamAV databases are large, licensed for their own
use and change daily, so numbers measured against them cannot be reproduced.
A generated database with a fixed seed gives the same signatures on every
machine, and its shape (many MD5 entries, tens of thousands of wildcard body
signatures) loads both engines the way a real database does.

Every body signature is written so that both engines must accept it: each
`*`-separated part starts with a static run of >= 4 bytes and ends on a static
byte, wildcards never touch each other, ranges are small ({n-m} with m <= 8) and followed by a static run of
>= 4 bytes (ClamAV splits patterns at ranges as it does at `*`),
alternatives are fixed-length ((aa|bb) or (aabb|ccdd)), and nibble wildcards
are `a?` / `?a`.  A generated signature could match a real file only by
chance, and with >= 12 random bytes per signature that chance is negligible;
run.sh still fails loudly if anything unexpected is reported.

Markers: a few extra body signatures and MD5 entries whose content is planted
into the corpus copy, so that each run proves both engines really scanned the
files (start, middle and end of files, the biggest file included) instead of
skipping them.

  gen-db.py db --out DIR --markers FILE [--hdb N] [--ndb N] [--seed S]
  gen-db.py corpus --src DIR --dest DIR [--limit N]
  gen-db.py plant --markers FILE --corpus DIR --expected FILE

The corpus step copies SRC with symlinks followed, each distinct file once
(/usr/bin holds many links to the same binary, and /usr/bin/X11 links back
to /usr/bin itself), skipping what is not a readable regular file.
"""
import argparse
import hashlib
import json
import math
import os
import random
import shutil
import stat
import sys

MARKERS = 5


def hexb(b):
    return b.hex()


class Body:
    """A body signature as a list of elements, so it can be printed in ClamAV
    hex syntax and also instantiated as concrete bytes that match it."""

    def __init__(self, rng):
        self.rng = rng
        self.parts = []  # list of lists of elements

    def static(self, n):
        # Avoid 00 and ff runs so no signature looks like padding.
        return ("lit", bytes(self.rng.randrange(1, 255) for _ in range(n)))

    def gen_part(self, min_len):
        rng = self.rng
        els = [self.static(rng.randint(4, 8))]
        length = len(els[0][1])
        while length < min_len or rng.random() < 0.35:
            kind = rng.choice(("any", "range", "alt", "alt2", "hi", "lo", "any2"))
            if kind == "any":
                els.append(("any", 1))
                length += 1
            elif kind == "any2":
                els.append(("any", 2))
                length += 2
            elif kind == "range":
                lo = rng.randint(0, 4)
                hi = lo + rng.randint(1, 4)
                els.append(("range", lo, hi))
                length += lo
            elif kind == "alt":
                k = rng.randint(2, 4)
                opts = rng.sample(range(1, 255), k)
                els.append(("alt", [bytes([o]) for o in opts]))
                length += 1
            elif kind == "alt2":
                opts = set()
                while len(opts) < 2:
                    opts.add(bytes(rng.randrange(1, 255) for _ in range(2)))
                els.append(("alt", sorted(opts)))
                length += 2
            elif kind == "hi":
                els.append(("hi", rng.randrange(16)))
                length += 1
            else:
                els.append(("lo", rng.randrange(16)))
                length += 1
            # ClamAV cuts a pattern at {n-m} as it does at *, and each piece
            # needs its own static run: so a range is followed by >= 4 bytes.
            lit = self.static(rng.randint(4, 6) if kind == "range" else rng.randint(1, 6))
            els.append(lit)
            length += len(lit[1])
            if length >= 40:
                break
        return els, length

    def generate(self):
        rng = self.rng
        target = rng.randint(12, 40)
        nparts = 1 if rng.random() < 0.6 else rng.randint(2, 3)
        per = max(6, target // nparts)
        for _ in range(nparts):
            els, _ = self.gen_part(per)
            self.parts.append(els)
        return self

    def hex(self):
        out = []
        for els in self.parts:
            s = []
            for e in els:
                if e[0] == "lit":
                    s.append(hexb(e[1]))
                elif e[0] == "any":
                    s.append("??" * e[1])
                elif e[0] == "range":
                    s.append("{%d-%d}" % (e[1], e[2]))
                elif e[0] == "alt":
                    s.append("(" + "|".join(hexb(o) for o in e[1]) + ")")
                elif e[0] == "hi":
                    s.append("%x?" % e[1])
                else:
                    s.append("?%x" % e[1])
            out.append("".join(s))
        return "*".join(out)

    def instance(self, rng):
        """Concrete bytes that match the signature."""
        out = bytearray()
        for i, els in enumerate(self.parts):
            if i:
                out += bytes(rng.randrange(1, 255) for _ in range(rng.randint(0, 48)))
            for e in els:
                if e[0] == "lit":
                    out += e[1]
                elif e[0] == "any":
                    out += bytes(rng.randrange(256) for _ in range(e[1]))
                elif e[0] == "range":
                    out += bytes(rng.randrange(256) for _ in range(rng.randint(e[1], e[2])))
                elif e[0] == "alt":
                    out += rng.choice(e[1])
                elif e[0] == "hi":
                    out.append((e[1] << 4) | rng.randrange(16))
                else:
                    out.append((rng.randrange(16) << 4) | e[1])
        return bytes(out)


def rand_size(rng):
    # Log-uniform from 100 bytes to 50 MiB: real hash databases list mostly
    # small samples with a long tail of big ones.
    return int(math.exp(rng.uniform(math.log(100), math.log(50 << 20))))


def cmd_db(a):
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    markers = {"ndb": [], "hdb": []}

    # Markers first, from their own generator, so that changing --hdb/--ndb
    # does not change them.
    mrng = random.Random(a.seed * 7919 + 1)
    for i in range(1, MARKERS + 1):
        sig = Body(mrng).generate()
        markers["ndb"].append({"name": "Bench.Marker.Body-%d" % i, "hex": sig.hex(),
                               "bytes": sig.instance(mrng).hex()})
    for i in range(1, MARKERS + 1):
        data = ("bulwark bench hash marker %d\n" % i).encode() + \
            bytes(mrng.randrange(256) for _ in range(mrng.randint(100, 4000)))
        markers["hdb"].append({"name": "Bench.Marker.Hash-%d" % i, "file": "hash-marker-%d.bin" % i,
                               "md5": hashlib.md5(data).hexdigest(), "size": len(data),
                               "bytes": data.hex()})

    hdb_path = os.path.join(a.out, "bench.hdb")
    with open(hdb_path, "w") as f:
        for i in range(a.hdb):
            f.write("%032x:%d:Bench.Hash.%06d\n" % (rng.getrandbits(128), rand_size(rng), i))
        for m in markers["hdb"]:
            f.write("%s:%d:%s\n" % (m["md5"], m["size"], m["name"]))

    ndb_path = os.path.join(a.out, "bench.ndb")
    seen = set()
    with open(ndb_path, "w") as f:
        n = 0
        while n < a.ndb:
            h = Body(rng).generate().hex()
            if h in seen:
                continue
            seen.add(h)
            f.write("Bench.Body.%06d:0:*:%s\n" % (n, h))
            n += 1
        for m in markers["ndb"]:
            f.write("%s:0:*:%s\n" % (m["name"], m["hex"]))

    markers["signatures"] = a.hdb + a.ndb + 2 * MARKERS
    markers["seed"] = a.seed
    with open(a.markers, "w") as f:
        json.dump(markers, f, indent=1)
    print("gen-db: %d hash + %d body signatures (+%d markers each) in %s" %
          (a.hdb, a.ndb, MARKERS, a.out))


def cmd_corpus(a):
    names = []
    # os.walk does not follow directory symlinks, so the X11 -> . loop in
    # /usr/bin is not entered; file symlinks are resolved below.
    for d, dirs, fs in os.walk(a.src):
        dirs.sort()
        for n in fs:
            names.append(os.path.join(d, n))
    names.sort()
    seen = set()
    copied = total = 0
    for p in names:
        if a.limit and copied >= a.limit:
            break
        try:
            real = os.path.realpath(p)
            st = os.stat(real)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) in seen:
            continue
        if not os.access(real, os.R_OK):
            continue
        seen.add((st.st_dev, st.st_ino))
        dest = os.path.join(a.dest, os.path.relpath(p, a.src))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        try:
            shutil.copyfile(real, dest)
        except OSError as e:
            print("gen-db corpus: skipped %s: %s" % (p, e), file=sys.stderr)
            continue
        copied += 1
        total += st.st_size
    if not copied:
        sys.exit("gen-db corpus: nothing to copy from %s" % a.src)
    print("gen-db: corpus %d files, %.1f MiB from %s" % (copied, total / 1048576, a.src))


def cmd_plant(a):
    with open(a.markers) as f:
        markers = json.load(f)
    rng = random.Random(markers["seed"] * 31 + 5)
    files = []
    for d, dirs, fs in os.walk(a.corpus):
        for n in fs:
            p = os.path.join(d, n)
            if os.path.isfile(p) and not os.path.islink(p) and os.path.getsize(p) > 0:
                files.append((os.path.getsize(p), os.path.relpath(p, a.corpus)))
    files.sort(key=lambda x: x[1])
    if len(files) < MARKERS:
        sys.exit("gen-db plant: corpus %s has fewer than %d files" % (a.corpus, MARKERS))
    # Targets: the biggest file (marker near its end: proves big files are
    # scanned to the end), and four others spread over the size range.
    by_size = sorted(files)
    targets = [by_size[-1][1]]
    for q in (0.15, 0.4, 0.65, 0.9):
        name = by_size[int(q * (len(by_size) - 1))][1]
        if name not in targets:
            targets.append(name)
    pool = [n for _, n in files if n not in targets]
    while len(targets) < MARKERS:
        targets.append(pool.pop(rng.randrange(len(pool))))

    expected = []
    for i, (m, name) in enumerate(zip(markers["ndb"], targets)):
        p = os.path.join(a.corpus, name)
        with open(p, "rb") as f:
            data = f.read()
        mark = bytes.fromhex(m["bytes"])
        # Where: end-4K, middle, start, end, a random place.
        where = [max(0, len(data) - 4096), len(data) // 2, 0, len(data),
                 rng.randrange(len(data) + 1)][i % 5]
        data = data[:where] + mark + data[where:]
        with open(p, "wb") as f:
            f.write(data)
        expected.append((name, m["name"]))
    for m in markers["hdb"]:
        with open(os.path.join(a.corpus, m["file"]), "wb") as f:
            f.write(bytes.fromhex(m["bytes"]))
        expected.append((m["file"], m["name"]))
    with open(a.expected, "w") as f:
        for name, sig in sorted(expected):
            f.write("%s\t%s\n" % (name, sig))
    print("gen-db: planted %d body markers and %d hash-marker files in %s" %
          (len(markers["ndb"]), len(markers["hdb"]), a.corpus))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("db")
    d.add_argument("--out", required=True)
    d.add_argument("--markers", required=True)
    d.add_argument("--hdb", type=int, default=300000)
    d.add_argument("--ndb", type=int, default=20000)
    d.add_argument("--seed", type=int, default=20240601)
    c = sub.add_parser("corpus")
    c.add_argument("--src", required=True)
    c.add_argument("--dest", required=True)
    c.add_argument("--limit", type=int, default=0)
    p = sub.add_parser("plant")
    p.add_argument("--markers", required=True)
    p.add_argument("--corpus", required=True)
    p.add_argument("--expected", required=True)
    a = ap.parse_args()
    {"db": cmd_db, "corpus": cmd_corpus, "plant": cmd_plant}[a.cmd](a)


if __name__ == "__main__":
    main()
