#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Holds the layers: every #include "..." of a source file under src/ or
# include/ must name a header of its own module or of a lower layer.  The
# layers are not written here but read from docs/ARCHITECTURE.md (the block
# between "<!-- layers -->" and "<!-- /layers -->"), so the page that explains
# them is the one the build checks against.  Each line of that block reads
#     N name: path path ...
# where N is the layer (0 at the bottom) and each path is a directory or a
# header.  A header belongs to the longest path that holds it.  A path written
# "private:PATH" holds headers that only its own module may include (the
# engine's internals: the layers above see it through its public header).  Two modules of
# the same layer are siblings and may not include each other either: only what
# lies below is shared.
#
# Prints one line per violation as "file:line: includes X (layer a, module m)
# from layer b (module n)" and exits 1 if there is any; "layers: N files, N
# includes, ok" otherwise.  Usage: scripts/check-layers.sh [ROOT]
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2
doc=docs/ARCHITECTURE.md
[ -f "$doc" ] || { echo "check-layers: $doc is missing" >&2; exit 2; }

exec python3 - "$doc" <<'EOF'
import os, re, sys

doc = sys.argv[1]
paths = []  # (path, layer, module, private)
in_block = False
for lineno, line in enumerate(open(doc, encoding="utf-8"), 1):
    if "<!-- layers -->" in line:
        in_block = True
        continue
    if "<!-- /layers -->" in line:
        in_block = False
        continue
    if not in_block or not line.strip() or line.startswith("```"):
        continue
    m = re.match(r"\s*(\d+)\s+([\w-]+):\s*(.+)$", line)
    if not m:
        print(f"{doc}:{lineno}: layer line not understood: {line.rstrip()}", file=sys.stderr)
        sys.exit(2)
    layer, module = int(m.group(1)), m.group(2)
    for p in m.group(3).split():
        private = p.startswith("private:")
        paths.append((p[len("private:"):].rstrip("/") if private else p.rstrip("/"),
                      layer, module, private))
if not paths:
    print(f"{doc}: no <!-- layers --> block", file=sys.stderr)
    sys.exit(2)

def owner(path):
    """(layer, module) of the longest declared path holding `path`, or None."""
    best = None
    for p, layer, module, private in paths:
        if path == p or path.startswith(p + "/"):
            if best is None or len(p) > len(best[0]):
                best = (p, layer, module, private)
    return None if best is None else best[1:]

def resolve(src, inc):
    """Where #include "inc" in src points: the file's own directory first,
    then -Isrc and -Iinclude, as the compiler searches."""
    for base in (os.path.dirname(src), "src", "include"):
        cand = os.path.normpath(os.path.join(base, inc))
        if os.path.exists(cand):
            return cand
    return None

bad = nfiles = nincs = 0
for top in ("src", "include"):
    for dirpath, _, files in os.walk(top):
        for f in sorted(files):
            if not f.endswith((".c", ".h")):
                continue
            src = os.path.join(dirpath, f)
            me = owner(src)
            if me is None:
                print(f"{src}: in no layer of {doc}")
                bad += 1
                continue
            nfiles += 1
            for n, line in enumerate(open(src, encoding="utf-8", errors="replace"), 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                if not m:
                    continue
                nincs += 1
                target = resolve(src, m.group(1))
                if target is None:
                    print(f"{src}:{n}: includes \"{m.group(1)}\", which is not in the tree")
                    bad += 1
                    continue
                them = owner(target)
                if them is None:
                    print(f"{src}:{n}: includes {target}, which is in no layer of {doc}")
                    bad += 1
                elif them[1] != me[1] and them[0] >= me[0]:
                    print(f"{src}:{n}: includes {target} (layer {them[0]}, {them[1]}) "
                          f"from layer {me[0]} ({me[1]})")
                    bad += 1
                elif them[1] != me[1] and them[2]:
                    print(f"{src}:{n}: includes {target}, private to {them[1]}, "
                          f"from {me[1]}")
                    bad += 1
if bad:
    print(f"layers: {bad} violation(s)")
    sys.exit(1)
print(f"layers: {nfiles} files, {nincs} includes, ok")
EOF
