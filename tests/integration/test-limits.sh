#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Container limits through the CLI: each limit, set tiny, turns into its own
# status (never a silent OK), and bombs end quickly with a limit status.
source "$(dirname "$0")/lib.sh"

FX="$TMP/fx"
if ! "$ROOT/tests/data/mk-containers.sh" "$FX" > "$TMP/mk.log" 2>&1; then
    notok "mk-containers.sh builds the fixtures"
    sed 's/^/    /' "$TMP/mk.log"
    exit 1
fi

# scan FILE [OPTS...]: sets OUT, RC and SECS
scan() {
    local f=$1; shift
    local t0 t1
    t0=$(date +%s%N)
    OUT=$(cd "$FX" && timeout 120 "$BULWARK" scan --no-summary --no-cache -d "$TESTDB" "$@" "$f" 2>&1)
    RC=$?
    t1=$(date +%s%N)
    SECS=$(( (t1 - t0) / 1000000000 ))
}
not_ok_line() { test -z "$(printf '%s\n' "$OUT" | grep ': OK$')" && [ "$RC" != 0 ]; }

# recursion depth: eicar.com is 6 zips deep
scan deep6.zip
expect_match "depth 6 within the default limit is found" "$OUT" \
    '^deep6\.zip: EICAR-Test-File FOUND \[deep6\.zip/d6\.in/d5\.in/d4\.in/d3\.in/d2\.in/d1\.in\]$'
scan deep6.zip --max-recursion=3
expect_match "--max-recursion=3 stops at depth 3 with ERROR" "$OUT" \
    '^deep6\.zip: ERROR limits exceeded: max recursion depth \[deep6\.zip/d6\.in/d5\.in/d4\.in\]$'
check "--max-recursion=3: nothing found below the limit, not OK" not_ok_line
expect_eq "--max-recursion=3: EICAR not reached" "$(printf '%s' "$OUT" | grep -c FOUND)" 0

# 70 levels of zip with the depth limit disabled: the hard cap ends it
cp "$FX/eicar.com.gz" "$TMP/l0"
( cd "$TMP" && for i in $(seq 1 70); do cp "l$((i - 1))" "x" && zip -q "l$i.zip" x && mv "l$i.zip" "l$i"; done )
cp "$TMP/l70" "$FX/deep70.zip"
scan deep70.zip --max-recursion=0
expect_match "--max-recursion=0 (unlimited) still ends at the hard cap" "$OUT" \
    '^deep70\.zip: ERROR limits exceeded: max recursion depth'

# members per container
scan many.zip
expect_match "41 members within the default limit: found" "$OUT" 'EICAR-Test-File FOUND \[many\.zip/many/z-eicar\.com\]'
scan many.zip --max-files=10
expect_match "--max-files=10 gives ERROR max files" "$OUT" '^many\.zip: ERROR limits exceeded: max files$'
check "--max-files=10 is not OK" not_ok_line

# single file size: declared in the header, and only known while inflating
scan ratio.zip --max-filesize=1M
expect_match "--max-filesize: member declared larger is TOO_LARGE" "$OUT" \
    '^ratio\.zip: TOO_LARGE limits exceeded: max file size \[ratio\.zip/zeros\.bin\]$'
scan zeros4m.gz --max-filesize=1M --max-ratio=0
expect_match "--max-filesize: stream that grows past it is TOO_LARGE" "$OUT" \
    '^zeros4m\.gz: TOO_LARGE limits exceeded: max file size \[zeros4m\.gz/\(gzip\)\]$'
scan zeros4m.gz --max-ratio=0
expect_eq "the same stream under the limits is OK" "$OUT/$RC" "zeros4m.gz: OK/0"

# scanned bytes per object
scan ratio.zip --max-scansize=1M --max-ratio=0
expect_match "--max-scansize gives TOO_LARGE max scan size" "$OUT" '^ratio\.zip: TOO_LARGE limits exceeded: max scan size'

# scan time
scan bomb.zip --max-scantime=1 --max-filesize=2G --max-ratio=0 --max-scansize=2G
expect_match "--max-scantime=1 on 1 GiB of zeros gives TIMEOUT" "$OUT" '^bomb\.zip: TIMEOUT limits exceeded: max scan time'

# compression ratio: 16 MiB of zeros in a 16 KiB zip
scan ratio.zip
expect_match "ratio over the default 250 is ERROR" "$OUT" '^ratio\.zip: ERROR limits exceeded: compression ratio \(bomb\?\)$'
scan ratio.zip --max-ratio=0
expect_eq "--max-ratio=0 disables the bound" "$OUT/$RC" "ratio.zip: OK/0"
scan ratio.zip --max-ratio=2000
expect_eq "--max-ratio=2000 lets 1000:1 through" "$OUT/$RC" "ratio.zip: OK/0"
scan clean.tar.gz --max-ratio=1
expect_eq "tiny files are under the 1 MiB ratio floor" "$OUT/$RC" "clean.tar.gz: OK/0"

# bombs
scan bomb.zip
expect_match "1 GiB zip bomb: a limit status" "$OUT" '^bomb\.zip: (TOO_LARGE|ERROR) limits exceeded'
check "1 GiB zip bomb: ends within 10 s" test "$SECS" -lt 10
scan bomb.zip --max-filesize=2G
expect_match "1 GiB zip bomb, file size allowed: ratio ERROR" "$OUT" \
    '^bomb\.zip: ERROR limits exceeded: compression ratio'
check "1 GiB zip bomb, file size allowed: ends within 10 s" test "$SECS" -lt 10
scan nested42.zip
expect_match "42.zip-style nesting: a limit status" "$OUT" '^nested42\.zip: (TOO_LARGE|ERROR|TIMEOUT) limits exceeded'
check "42.zip-style nesting: not OK" not_ok_line
check "42.zip-style nesting: ends within 30 s" test "$SECS" -lt 30
