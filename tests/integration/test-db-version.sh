#!/bin/bash
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

port=$(free_port); cport=$(free_port)
conf="$TMP/d.conf"
bw_write_conf "$conf" "$port" "path.BasesPath=$TMP/var/db" "path.CacheDir=$TMP/cache" \
    "clamd.TCPSocket=$cport" "clamd.TCPAddr=127.0.0.1"
bw_start "$conf" "$TMP/d.log" "$port" || exit 1
st=$("$B" ctl -c "$conf" status 2>&1)
expect_match "ctl status says database version 5" "$st" "database version: 5$"
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
expect_match "the ISTag carries version 5 ($tag)" "$tag" '^"BW-5-[0-9a-f]{16}"$'
out=$(python3 "$ROOT/tests/integration/clamd-client.py" "127.0.0.1:$cport" version 2>&1)
expect_match "clamd VERSION says /5/ ($out)" "$out" '^ClamAV [^/]+/5/'
bw_stop
