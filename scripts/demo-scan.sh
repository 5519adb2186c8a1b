#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The `make run` demonstration: builds a folder holding the EICAR test file,
# each of its test modifications (CURE- DELE- WARN- SUSP- CORR- ERRO- followed
# directly by the 68-byte EICAR string), a zip with EICAR inside and a few
# clean files, then scans it recursively with the bundled test database and
# prints the output.  Usage: scripts/demo-scan.sh BUILD_DIR
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case $BUILD in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
BULWARK="$BUILD/bulwark"
if [ ! -x "$BULWARK" ]; then
    echo "demo-scan: $BULWARK not built (run 'make build')" >&2
    exit 2
fi

DIR=$(mktemp -d /tmp/bulwark-demo.XXXXXX)
CACHE=$(mktemp -d /tmp/bulwark-demo-cache.XXXXXX)
trap 'rm -rf "$DIR" "$CACHE"' EXIT

# The EICAR string, written without a trailing newline (68 bytes).
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
printf '%s' "$EICAR" > "$DIR/eicar.com"
for p in CURE DELE WARN SUSP CORR ERRO; do
    printf '%s-%s' "$p" "$EICAR" > "$DIR/eicar-$p.com"
done
mkdir -p "$DIR/archive" "$DIR/docs/notes"
if command -v zip >/dev/null 2>&1; then
    (cd "$DIR/archive" && cp ../eicar.com inner-eicar.com && zip -q eicar.zip inner-eicar.com &&
        rm inner-eicar.com)
else
    python3 -c 'import sys,zipfile; z=zipfile.ZipFile(sys.argv[1],"w"); z.writestr("inner-eicar.com", sys.argv[2]); z.close()' \
        "$DIR/archive/eicar.zip" "$EICAR"
fi
printf 'Nothing to see here.\n' > "$DIR/docs/readme.txt"
printf 'Meeting at 10:00.\n' > "$DIR/docs/notes/monday.txt"
head -c 65536 /dev/zero > "$DIR/zeros.bin"
printf '#!/bin/sh\necho hello\n' > "$DIR/hello.sh"

echo "\$ bulwark scan -r -d db/test $DIR"
# A fresh cache directory so the demo never depends on (or pollutes) ~/.cache.
"$BULWARK" scan -r -d "$ROOT/db/test" --cache-dir "$CACHE" "$DIR"
rc=$?
echo "(exit status $rc: 0 nothing found, 1 something found, 2 error)"
# Finding the test files is the expected outcome of the demonstration.
[ $rc = 1 ] && exit 0
exit $rc
