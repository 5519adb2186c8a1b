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
