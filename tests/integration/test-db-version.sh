#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The version of a set that `bulwark update` installed is what every reader
# reports: `bulwark db info`, the scan summary, `bulwark ctl status`, the
# ICAP ISTag and clamd's VERSION.  (Before, the version lived only in the
# set's manifest and all of them said 0.)  The set is signed and installed
# from a directory source, as a second server installs from PublishDir.
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
BULWARK=${BULWARK:-$ROOT_DIR/${BUILD:-build}/bulwark}
. "$(dirname "$0")/icap-lib.sh"
B=$BULWARK

openssl genpkey -algorithm ed25519 -out "$TMP/key.pem" 2>/dev/null
openssl pkey -in "$TMP/key.pem" -pubout -out "$TMP/key.pub"
mkdir -p "$TMP/pub" "$TMP/var" "$TMP/cache"
cp "$TESTDB"/* "$TMP/pub/"
"$B" update --sign "$TMP/key.pem" --set-version 5 "$TMP/pub" > /dev/null
{ printf '[path]\nBasesPath = %s\nCacheDir = %s\n[updater.options]\n' "$TMP/var/db" "$TMP/cache"
  printf 'Retries = 0\nUpdateSource = dir\nUpdateSourceDir = %s\nUpdatePublicKey = %s\n' \
      "$TMP/pub" "$TMP/key.pub"; } > "$TMP/u.conf"
out=$("$B" update -c "$TMP/u.conf" 2>&1); rc=$?
expect_eq "bulwark update installs version 5" "$rc:$out" "0:installed version 5 (there was no set at BasesPath)"

out=$("$B" db info -d "$TMP/var/db" 2>&1)
expect_match "db info says version 5" "$out" "Database version: 5$"
printf 'nothing to see\n' > "$TMP/clean.txt"
out=$("$B" scan --no-cache -d "$TMP/var/db" "$TMP/clean.txt" 2>&1)
expect_match "the scan summary says version 5" "$out" "Database version: 5"

# A manifest that is not one stops the load with file:line, as any database.
mkdir -p "$TMP/bad"; cp "$TESTDB"/* "$TMP/bad/"
printf 'bulwark-manifest 1\nversion twelve\n' > "$TMP/bad/bulwark.manifest"
out=$("$B" db info -d "$TMP/bad" 2>&1); rc=$?
expect_match "a malformed version line is refused with file:line (rc $rc)" "$out" \
    "bulwark.manifest:2: version must be a decimal"

# The packaged updater runs as the workers' user, and bulwarkd trusts only a
# cache its own user wrote: into a CacheDir of another user's the updater
# puts nothing and says so (the daemon compiles on reload).
"$B" update --sign "$TMP/key.pem" --set-version 6 "$TMP/pub" > /dev/null
mkdir -p "$TMP/othercache"; chown nobody "$TMP/othercache"
sed "s|^CacheDir = .*|CacheDir = $TMP/othercache|" "$TMP/u.conf" > "$TMP/u2.conf"
out=$("$B" update -v -c "$TMP/u2.conf" 2>&1); rc=$?
expect_match "an update with another user's CacheDir succeeds (rc $rc)" "$rc:$out" "^0:"
expect_match "... and says the daemon compiles the set" "$out" "CacheDir $TMP/othercache is not this user's"
expect_eq "... leaving nothing in it" "$(ls -A "$TMP/othercache" | wc -l)" 0
out=$("$B" db info -d "$TMP/var/db" 2>&1)
expect_match "db info now says version 6" "$out" "Database version: 6$"

port=$(free_port); cport=$(free_port)
conf="$TMP/d.conf"
bw_write_conf "$conf" "$port" "path.BasesPath=$TMP/var/db" "path.CacheDir=$TMP/cache" \
    "clamd.TCPSocket=$cport" "clamd.TCPAddr=127.0.0.1"
bw_start "$conf" "$TMP/d.log" "$port" || exit 1
st=$("$B" ctl -c "$conf" status 2>&1)
expect_match "ctl status says database version 6" "$st" "database version: 6$"
tag=$(python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"OPTIONS icap://127.0.0.1/av/respmod ICAP/1.0\r\nHost: x\r\n\r\n")
data = b""
while b"\r\n\r\n" not in data:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
for line in data.decode("latin-1").split("\r\n"):
    if line.lower().startswith("istag:"):
        print(line.split(":", 1)[1].strip())
PY
)
expect_match "the ISTag carries version 6 ($tag)" "$tag" '^"BW-6-[0-9a-f]{16}"$'
out=$(python3 "$ROOT/tests/integration/clamd-client.py" "127.0.0.1:$cport" version 2>&1)
expect_match "clamd VERSION says /6/ ($out)" "$out" '^ClamAV [^/]+/6/'
bw_stop
