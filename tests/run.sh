#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs every test: unit binaries, integration scripts, and a short libFuzzer
# run per fuzz target.  Each test case prints one TAP line ("ok - name" or
# "not ok - name"); this script counts them and ends with
# "N passed, N failed".  A test program that crashes or exits non-zero without
# reporting a failure counts as one failed case of its own.
BUILD=${BUILD:-build}
export BUILD
export BULWARK="$PWD/$BUILD/bulwark"
FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-10}
pass=0; fail=0; skipped=0
log=$(mktemp -d /tmp/bw-test-log.XXXXXX)

count() { # $1 = label, $2 = exit code, $3 = output file
    local p f
    # "ok - ... # SKIP why" is TAP for a case that did not run: not a pass.
    p=$(grep '^ok - ' "$3" | grep -vc '# SKIP'); f=$(grep -c '^not ok - ' "$3")
    skipped=$((skipped + $(grep '^ok - ' "$3" | grep -c '# SKIP')))
    grep -E '^(not )?ok - ' "$3" | sed "s|^|[$1] |"
    if [ "$2" != 0 ] && [ "$f" = 0 ]; then
        echo "[$1] not ok - $1 exited with status $2"; f=1
        tail -20 "$3" | sed 's/^/    /'
    fi
    if [ "$f" != 0 ]; then grep -vE '^(not )?ok - ' "$3" | tail -40 | sed 's/^/    /'; fi
    pass=$((pass + p)); fail=$((fail + f))
}

for t in "$BUILD"/tests/test-*; do
    [ -x "$t" ] || continue
    n=$(basename "$t")
    (cd tests && timeout 300 "../$t") > "$log/$n" 2>&1
    count "$n" $? "$log/$n"
done

for t in tests/integration/test-*.sh; do
    [ -f "$t" ] || continue
    n=$(basename "$t" .sh)
    timeout 600 bash "$t" > "$log/$n" 2>&1
    count "$n" $? "$log/$n"
done

if [ "${SAN:-0}" != 1 ]; then
    for f in build-fuzz/fuzz/fuzz-*; do
        [ -x "$f" ] || continue
        n=$(basename "$f")
        tests/fuzz/run-one.sh "$f" "$FUZZ_SECONDS" > "$log/$n" 2>&1
        rc=$?
        if [ $rc = 0 ]; then echo "ok - $n runs ${FUZZ_SECONDS}s without a crash" >> "$log/$n"; fi
        count "$n" $rc "$log/$n"
    done
fi

rm -rf "$log"
echo "# $skipped skipped (not counted as passed)"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
