# SPDX-License-Identifier: Apache-2.0
# Shared helpers for integration tests (bash).  Each check prints one TAP line.
set -u
BULWARK=${BULWARK:-$PWD/build/bulwark}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TESTDB="$ROOT/db/test"
TMP=$(mktemp -d /tmp/bw-it.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

ok()   { echo "ok - $*"; }
notok() { echo "not ok - $*"; }
# check NAME CMD...: passes when CMD exits 0
check() { local n=$1; shift; if "$@"; then ok "$n"; else notok "$n"; fi; }
# expect_eq NAME GOT WANT
expect_eq() { if [ "$2" = "$3" ]; then ok "$1"; else notok "$1"; echo "    got:  $2"; echo "    want: $3"; fi; }
# expect_match NAME TEXT REGEX
expect_match() { if printf '%s' "$2" | grep -qE -- "$3"; then ok "$1"; else notok "$1"; echo "    text: $2"; echo "    regex: $3"; fi; }
# wait_until SECONDS CMD...: runs CMD every 0.05 s until it succeeds (0) or
# SECONDS pass (1).  Tests wait for the condition they check this way, never
# for a fixed time: a loaded machine only makes them slower.
wait_until() {
    local end=$((SECONDS + $1)); shift
    while ! "$@"; do
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.05
    done
}
# bw_own_paths CONF: appends the [path] lines that keep a hand-written test
# configuration off the machine's defaults (ControlSocket and PidFile under
# /run/bulwark), so a test passes beside a running bulwarkd and beside
# another run of itself.  (bw_write_conf in icap-lib.sh sets them already.)
bw_own_paths() { printf '\n[path]\nControlSocket = %s\nPidFile = %s\n' "$1.ctl" "$1.pid" >>"$1"; }
