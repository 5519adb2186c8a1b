#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `bulwark update` against real servers started here: an HTTP server that can
# cut, shorten, slow down or refuse any file (update-server.py), the same over
# HTTPS with a CA file, pyftpdlib for FTP, and shared directories.  Sets are
# signed with keys made by `openssl genpkey -algorithm ed25519`.
#
# Every failure case checks the exit code, the message, that BasesPath is
# byte for byte what it was (link text, file names and SHA-256 of every
# file), and that no staging directory was left behind.  Which set is in use
# is checked by scanning: every version carries a marker signature of its own.
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
BULWARK=${BULWARK:-$ROOT_DIR/${BUILD:-build}/bulwark}
. "$(dirname "$0")/icap-lib.sh"
SERVER_PY="$ROOT/tests/integration/update-server.py"
# every server here is local: a proxy from the environment must not get in between
unset http_proxy https_proxy ftp_proxy all_proxy HTTP_PROXY HTTPS_PROXY FTP_PROXY ALL_PROXY
B=$BULWARK

# ---- fixtures -----------------------------------------------------------------

openssl genpkey -algorithm ed25519 -out "$TMP/key.pem" 2>/dev/null
openssl pkey -in "$TMP/key.pem" -pubout -out "$TMP/key.pub"
openssl genpkey -algorithm ed25519 -out "$TMP/key2.pem" 2>/dev/null
mkdir -p "$TMP/srv/set" "$TMP/var/db" "$TMP/cache"
cp "$TESTDB"/* "$TMP/var/db/"      # the "package" set, a plain directory

hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
# sample-vN holds the marker of version N; the set of version N detects it
sample() { printf 'padding bulwark-update-marker-v%s padding\n' "$1" > "$TMP/sample-v$1"; }

# A ClamAV .cvd: 512-byte header (with the MD5 of what follows), then a
# gzipped tar.  $1 out, $2 version, $3 "bad" to damage a byte after the
# header while keeping the header's MD5 (a corrupted .cvd).
make_cvd() {
    python3 - "$1" "$2" "${3:-}" "$(hex bulwark-update-cvd-signature)" <<'PY'
import gzip, hashlib, io, sys, tarfile
out, version, bad, sig = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
member = ("Bulwark.Update.Cvd:0:*:%s\n" % sig).encode()
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
    info = tarfile.TarInfo("main.ndb"); info.size = len(member); info.mtime = 0
    t.addfile(info, io.BytesIO(member))
body = gzip.compress(raw.getvalue(), mtime=0)
head = "ClamAV-VDB:23 Nov 2025 10-00 +0000:%s:1:90:%s:X:bulwark-test:1763892000" % (
    version, hashlib.md5(body).hexdigest())
if bad:
    body = body[:-12] + bytes([body[-12] ^ 0xff]) + body[-11:]
open(out, "wb").write(head.encode().ljust(512, b" ") + body)
PY
}

# publish N [KEY [sign options]]: the server's set becomes version N, signed
# with KEY (default key.pem; "none" writes an unsigned manifest).
publish() {
    local v=$1 key=${2:-$TMP/key.pem}; shift; [ $# -gt 0 ] && shift
    rm -rf "$TMP/srv/set"; mkdir -p "$TMP/srv/set"
    cp "$TESTDB"/* "$TMP/srv/set/"
    make_cvd "$TMP/srv/set/main.cvd" 1
    printf 'Bulwark.Update.V%s:0:*:%s\n' "$v" "$(hex "bulwark-update-marker-v$v")" > "$TMP/srv/set/marker.ndb"
    sample "$v"
    if [ "$key" = none ]; then
        "$B" update --manifest --set-version "$v" "$@" "$TMP/srv/set" > /dev/null
    else
        "$B" update --sign "$key" --set-version "$v" "$@" "$TMP/srv/set" > /dev/null
    fi
}
resign() { "$B" update --sign "$TMP/key.pem" --set-version "$1" --force "$TMP/srv/set" > /dev/null; }

# snap DIR: what BasesPath is, to the byte
snap() {
    { readlink "$1" || echo "(plain directory)"
      (cd "$1/" && find . -type f | LC_ALL=C sort | xargs -r sha256sum); } 2>&1
}
leftovers() { find "$1.d" -maxdepth 1 -name '.stage.*' -o -maxdepth 1 -name '.cache.*' | wc -l; }
# scans FILE with the set at BASES: prints FOUND or CLEAN
detects() { if "$B" scan --no-cache -q -d "$1" "$2" > /dev/null 2>&1; then echo CLEAN; else echo FOUND; fi; }

# mkconf FILE BASES [Key=Value...]: a bulwark.conf for one updater
mkconf() {
    local f=$1 bases=$2; shift 2
    { printf '[path]\nBasesPath = %s\nCacheDir = %s\n[updater.options]\n' "$bases" "$TMP/cache"
      printf 'Retries = 0\nConnectTimeout = 5s\nTimeout = 20s\n'
      for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done; } > "$f"
}

# upd CONF [options]: runs an update; $out (stdout+stderr) and $rc
upd() { local c=$1; shift; out=$("$B" update -c "$c" "$@" 2>&1); rc=$?; }

# refused NAME CODE REGEX: the run failed as expected and changed nothing
refused() {
    expect_eq "$1: exit code $2" "$rc" "$2"
    expect_match "$1: says why" "$out" "$3"
    expect_eq "$1: working set unchanged" "$(snap "$TMP/var/db")" "$before"
    expect_eq "$1: no staging left" "$(leftovers "$TMP/var/db")" 0
}

port=$(free_port)
python3 "$SERVER_PY" --port "$port" --root "$TMP/srv" --control "$TMP/ctl" --log "$TMP/srv.log" 2> "$TMP/srv.err" &
BG_PIDS="$BG_PIDS $!"
wait_port "$port" 10 || { notok "update server starts"; cat "$TMP/srv.err"; exit 1; }
URL="http://127.0.0.1:$port/set"
A=$TMP/a.conf
mkconf "$A" "$TMP/var/db" "UpdateServerUrl=$URL" "UpdatePublicKey=$TMP/key.pub" \
    "PostUpdateCmd=echo \"\$BULWARK_UPDATE_FROM>\$BULWARK_UPDATE_TO\" >> $TMP/post.log"

# ---- first update: a plain directory becomes a managed set -----------------------

publish 1
BULWARK_UPDATE_FROM=inherited upd "$A"
expect_eq "first update exits 0" "$rc" 0
expect_match "first update reports it" "$out" "^updated from an unversioned set to version 1$"
expect_eq "BasesPath is now a link to the new set" "$(readlink "$TMP/var/db")" "db.d/1"
expect_eq "the package's directory is kept as the previous set" \
    "$(readlink "$TMP/var/db.d/previous"):$(ls "$TMP/var/db.d/initial" | tr '\n' ' ')" \
    "initial:bulwark-test.hdb bulwark-test.ndb "
expect_eq "the new set is what scans use" "$(detects "$TMP/var/db" "$TMP/sample-v1")" FOUND
expect_eq "the .cvd member is loaded" "$(printf 'x bulwark-update-cvd-signature x' > "$TMP/cvdsample"; detects "$TMP/var/db" "$TMP/cvdsample")" FOUND
expect_eq "PostUpdateCmd ran with the versions" "$(cat "$TMP/post.log")" ">1"
expect_match "CacheDir was warmed with the compiled set" \
    "$("$B" db info -d "$TMP/var/db" --cache-dir "$TMP/cache" 2>&1)" "Loaded from cache: yes"

# ---- up to date: two small requests, nothing else -----------------------------------

: > "$TMP/srv.log"
upd "$A"
expect_eq "second run exits 0" "$rc" 0
expect_eq "second run is up to date" "$out" "up to date (version 1)"
expect_eq "up to date costs the manifest and its signature only" \
    "$(awk '{print $2}' "$TMP/srv.log" | tr '\n' ' ')" "/set/bulwark.manifest /set/bulwark.manifest.sig "
expect_eq "PostUpdateCmd does not run when nothing changed" "$(wc -l < "$TMP/post.log")" 1

# ---- a new version: only what changed is fetched -------------------------------------

publish 2
: > "$TMP/srv.log"
upd "$A" -v
expect_eq "new version exits 0" "$rc" 0
expect_match "new version is reported" "$out" "updated from version 1 to 2"
expect_eq "only the changed file was fetched" \
    "$(awk '$2 !~ /manifest/ {print $2}' "$TMP/srv.log" | tr '\n' ' ')" "/set/marker.ndb "
expect_eq "version 2's marker is detected" "$(detects "$TMP/var/db" "$TMP/sample-v2")" FOUND
expect_eq "version 1's marker is gone" "$(detects "$TMP/var/db" "$TMP/sample-v1")" CLEAN
expect_eq "previous is version 1, older sets removed" \
    "$(readlink "$TMP/var/db.d/previous") $(ls "$TMP/var/db.d" | tr '\n' ' ')" "1 1 2 previous "
expect_eq "PostUpdateCmd saw 1>2" "$(tail -1 "$TMP/post.log")" "1>2"

before=$(snap "$TMP/var/db")

# ---- dry run ----------------------------------------------------------------------------

publish 3
upd "$A" --dry-run
expect_eq "dry run exits 0" "$rc" 0
expect_match "dry run says what it would fetch" "$out" \
    "^would update from version 2 to version 3: 1 of 4 files to fetch \([0-9]+ bytes\)$"
expect_eq "dry run changes nothing" "$(snap "$TMP/var/db")" "$before"

# ---- refusals: each leaves the working set as it was -------------------------------------

publish 3
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[5]^=1; open(p,"wb").write(b)' "$TMP/srv/set/marker.ndb"
upd "$A"
refused "tampered file" 4 "verification failed: .*marker.ndb: SHA-256 [0-9a-f]{64}, the manifest says [0-9a-f]{64} \(tampered"

publish 3
sed -i 's/^version 3$/version 30/' "$TMP/srv/set/bulwark.manifest"
upd "$A"
refused "manifest edited after signing" 4 "bulwark.manifest.sig: the signature does not match"

publish 3 "$TMP/key2.pem"
upd "$A"
refused "signed with another key" 4 "the signature does not match the manifest and the configured UpdatePublicKey"

publish 3
rm "$TMP/srv/set/bulwark.manifest.sig"
upd "$A"
refused "missing signature" 4 "bulwark.manifest.sig: no signature, and UpdatePublicKey requires one"

publish 3
echo "truncate marker.ndb" > "$TMP/ctl"
upd "$A"
refused "download cut short" 3 "download failed: .*marker.ndb: the transfer was cut short after [0-9]+ bytes"
echo "close marker.ndb" > "$TMP/ctl"
upd "$A"
refused "short body without a length" 4 "marker.ndb: [0-9]+ bytes arrived, the manifest says [0-9]+"
echo "status marker.ndb 503" > "$TMP/ctl"
upd "$A"
refused "a server error" 3 "download failed: .*marker.ndb: HTTP 503"
# A server that drips one byte a second: the low-speed cutoff (here 2 s)
# ends the transfer long before Timeout (20 s in these configurations).
echo "drip marker.ndb" > "$TMP/ctl"
sed 's/^Timeout = 20s$/Timeout = 20s\nLowSpeedTime = 2s/' "$A" > "$TMP/drip.conf"
t0=$(date +%s)
upd "$TMP/drip.conf"
t1=$(date +%s)
refused "a server dripping 1 byte/s" 3 \
    "download failed: .*marker.ndb: too slow: under 1024 bytes/s for 2 s \(LowSpeedLimit, LowSpeedTime\) after [0-9]+ bytes"
check "... ends at LowSpeedTime, well before Timeout ($((t1 - t0)) s)" test $((t1 - t0)) -lt 15
: > "$TMP/ctl"

publish 3
printf 'Broken.Sig:0:*:zz\n' >> "$TMP/srv/set/marker.ndb"
resign 3
upd "$A"
refused "uncompilable set (signed, but a bad line)" 5 "trial compile failed: the new set does not load: marker.ndb:2: "

publish 3
make_cvd "$TMP/srv/set/main.cvd" 1 bad
resign 3
upd "$A"
refused "corrupted .cvd (header MD5)" 5 "trial compile failed: .*main.cvd: MD5 mismatch"

publish 3
mv "$TMP/srv/set" "$TMP/srv/elsewhere"
upd "$A"
refused "no manifest at the URL" 3 "download failed: .*/set/bulwark.manifest: HTTP 404"
rm -rf "$TMP/srv/elsewhere"

# ---- a transfer cut once is retried ---------------------------------------------------------

publish 3
echo "truncate marker.ndb 1" > "$TMP/ctl"
R=$TMP/retry.conf
sed 's/^Retries = 0$/Retries = 1\nRetryDelay = 100ms/' "$A" > "$R"
upd "$R"
expect_eq "a retried transfer succeeds" "$rc:$(printf '%s' "$out" | tail -1)" "0:updated from version 2 to 3"
expect_match "the retry is logged" "$out" "cut short .*retry 1 of 1"
: > "$TMP/ctl"

# ---- rollback, and a rolled-back version stays out --------------------------------------------

upd "$A" --rollback
expect_eq "rollback exits 0" "$rc" 0
expect_eq "rollback reports it" "$out" "rolled back from version 3 to version 2"
expect_eq "BasesPath points at version 2 again" "$(readlink "$TMP/var/db")" "db.d/2"
expect_eq "version 2's marker is detected after rollback" "$(detects "$TMP/var/db" "$TMP/sample-v2")" FOUND
expect_eq "PostUpdateCmd ran for the rollback" "$(tail -1 "$TMP/post.log")" "3>2"
before=$(snap "$TMP/var/db")
upd "$A"
expect_eq "the rolled-back version is not reinstalled" "$rc:$out" \
    "0:up to date (version 2; version 3 was rolled back; waiting for a newer one (--force installs it))"
expect_eq "... and the set is untouched" "$(snap "$TMP/var/db")" "$before"
publish 4
upd "$A"
expect_eq "a newer version installs after a rollback" "$rc:$out" "0:updated from version 2 to 4"

before=$(snap "$TMP/var/db")
publish 3
upd "$A"
refused "an older signed set (replay)" 4 "offers version 3, older than the installed 4"

# ---- signing with the openssl command line, as docs/update.md shows -----------------------------

publish 5 none
openssl pkeyutl -sign -rawin -inkey "$TMP/key.pem" -in "$TMP/srv/set/bulwark.manifest" \
    -out "$TMP/srv/set/bulwark.manifest.sig"
upd "$A"
expect_eq "a manifest signed with openssl pkeyutl is accepted" "$rc:$out" "0:updated from version 4 to 5"

# ---- PostUpdateCmd failing -----------------------------------------------------------------------

publish 6
P=$TMP/post-fails.conf
sed 's/^PostUpdateCmd = .*/PostUpdateCmd = exit 3/' "$A" > "$P"
upd "$P"
expect_eq "a failing PostUpdateCmd exits 6" "$rc" 6
expect_match "... says the set is in place" "$out" "^updated from version 5 to 6$"
expect_match "... and what failed after" "$out" \
    "^bulwark update: after the update: PostUpdateCmd 'exit 3' exited with status 3$"
expect_eq "... and the new set is in place" "$(readlink "$TMP/var/db")" "db.d/6"

# ---- PublishDir, and a second server updating from it --------------------------------------------

PUBC=$TMP/publish.conf
cp "$A" "$PUBC"; echo "PublishDir = $TMP/pub" >> "$PUBC"
upd "$PUBC"
expect_match "an up-to-date run publishes" "$rc:$out" "^(0:)?up to date \(version 6\)$"
expect_match "... and says so" "$out" "published version 6 to $TMP/pub$"
same=yes
for f in $(cd "$TMP/var/db" && ls); do cmp -s "$TMP/var/db/$f" "$TMP/pub/$f" || same="no ($f)"; done
expect_eq "PublishDir holds the set, manifest and signature" "$same" yes
BC=$TMP/b.conf
mkconf "$BC" "$TMP/varB/db" "UpdateSource=dir" "UpdateSourceDir=$TMP/pub" "UpdatePublicKey=$TMP/key.pub"
mkdir -p "$TMP/varB"
upd "$BC"
expect_eq "a second server installs from PublishDir" "$rc:$out" "0:installed version 6 (there was no set at BasesPath)"
expect_eq "... and uses it" "$(detects "$TMP/varB/db" "$TMP/sample-v6")" FOUND

publish 7
upd "$PUBC"
expect_match "a new version is published too" "$out" "updated from version 6 to 7"
expect_eq "PublishDir's manifest is version 7" "$(sed -n 2p "$TMP/pub/bulwark.manifest")" "version 7"
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[3]^=1; open(p,"wb").write(b)' "$TMP/pub/marker.ndb"
beforeB=$(snap "$TMP/varB/db")
upd "$BC"
expect_eq "a tampered file in a source directory is refused" "$rc" 4
expect_match "... with its digest" "$out" "pub/marker.ndb: SHA-256"
expect_eq "... and the second server keeps its set" "$(snap "$TMP/varB/db")" "$beforeB"

# --rollback republishes the set it returns to: PublishDir must not go on
# offering the version that was rolled back (downstream would install it).
upd "$PUBC" --rollback
expect_eq "rollback with PublishDir exits 0" "$rc:$(printf '%s' "$out" | tail -1)" \
    "0:rolled back from version 7 to version 6"
expect_match "... and says it republished" "$out" "published version 6 to $TMP/pub"
expect_eq "PublishDir's manifest is version 6 again" "$(sed -n 2p "$TMP/pub/bulwark.manifest")" "version 6"
same=yes
for f in $(cd "$TMP/var/db" && ls); do cmp -s "$TMP/var/db/$f" "$TMP/pub/$f" || same="no ($f)"; done
expect_eq "... holding version 6's files, manifest and signature" "$same" yes
check "... and no staging file left in PublishDir" test -z "$(ls -A "$TMP/pub" | grep -v -e '^bulwark' -e '\.ndb$' -e '\.hdb$' -e '\.cvd$' -e '^\.bulwark-publish\.lock$')"
upd "$BC"
expect_eq "a server updating from PublishDir stays at version 6" "$rc:$out" "0:up to date (version 6)"
upd "$PUBC" --rollback
expect_eq "rolling back the rollback republishes version 7" \
    "$rc:$(printf '%s' "$out" | tail -1):$(sed -n 2p "$TMP/pub/bulwark.manifest")" \
    "0:rolled back from version 6 to version 7:version 7"

# ---- two updaters at once --------------------------------------------------------------------------

publish 8
echo "slow marker.ndb 3" > "$TMP/ctl"
"$B" update -c "$A" > "$TMP/first.out" 2>&1 &
first=$!
for _ in $(seq 100); do [ -n "$(ls -A "$TMP/var/db.d" | grep '^\.stage\.')" ] && break; sleep 0.05; done
upd "$A"
expect_eq "a second updater is refused while one runs" "$rc" 7
expect_match "... naming the one that holds the lock" "$out" "another bulwark update \(pid $first\) is working on"
wait "$first"; frc=$?
expect_eq "the first updater finishes" "$frc:$(tail -1 "$TMP/first.out")" "0:updated from version 7 to 8"
: > "$TMP/ctl"

# ---- a set republished while it is being fetched ------------------------------------------------------

publish 10
echo "slow marker.ndb 2" > "$TMP/ctl"
"$B" update -c "$A" > "$TMP/race.out" 2>&1 &
racer=$!
for _ in $(seq 100); do [ -n "$(ls -A "$TMP/var/db.d" | grep '^\.stage\.')" ] && break; sleep 0.05; done
sleep 0.3
publish 11          # while the updater waits for marker.ndb of version 10
: > "$TMP/ctl"
wait "$racer"; rrc=$?
expect_eq "a set changed under the updater is fetched again, whole" \
    "$rrc:$(tail -1 "$TMP/race.out")" "0:updated from version 8 to 11"
expect_match "... after saying the source changed" "$(cat "$TMP/race.out")" "the source changed during the update; starting over"
expect_eq "... and version 11 is what scans use" "$(detects "$TMP/var/db" "$TMP/sample-v11")" FOUND

# ---- FTP --------------------------------------------------------------------------------------------

if /usr/bin/python3 -c 'import pyftpdlib' 2>/dev/null; then
    fport=$(free_port)
    /usr/bin/python3 - "$fport" "$TMP/srv" <<'PY' > "$TMP/ftp.log" 2>&1 &
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
auth = DummyAuthorizer()
auth.add_anonymous(sys.argv[2])
FTPHandler.authorizer = auth
FTPHandler.passive_ports = None
FTPServer(("127.0.0.1", int(sys.argv[1])), FTPHandler).serve_forever()
PY
    BG_PIDS="$BG_PIDS $!"
    wait_port "$fport" 10
    FC=$TMP/ftp.conf
    mkconf "$FC" "$TMP/varF/db" "UpdateServerUrl=ftp://127.0.0.1:$fport/set" "UpdatePublicKey=$TMP/key.pub"
    mkdir -p "$TMP/varF"
    upd "$FC"
    expect_eq "an update over FTP installs the set" "$rc:$out" "0:installed version 11 (there was no set at BasesPath)"
    mkconf "$FC" "$TMP/varF/db" "UpdateServerUrl=ftp://127.0.0.1:$fport" "UpdatePublicKey=$TMP/key.pub"
    upd "$FC"
    expect_match "a missing FTP file is a download failure" "$rc:$out" "^3:.*$fport/bulwark.manifest: not found on the server"
else
    ok "# SKIP FTP: python3-pyftpdlib is not installed (scripts/install-deps.sh installs it)"
fi

# ---- HTTPS with a private CA ------------------------------------------------------------------------

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$TMP/tls.key" -out "$TMP/tls.crt" 2>/dev/null
sport=$(free_port)
python3 "$SERVER_PY" --port "$sport" --root "$TMP/srv" --tls "$TMP/tls.crt" "$TMP/tls.key" 2> "$TMP/tls.err" &
BG_PIDS="$BG_PIDS $!"
wait_port "$sport" 10
HC=$TMP/https.conf
mkconf "$HC" "$TMP/varH/db" "UpdateServerUrl=https://127.0.0.1:$sport/set" "UpdatePublicKey=$TMP/key.pub" "CaFile=$TMP/tls.crt"
mkdir -p "$TMP/varH"
upd "$HC"
expect_eq "https with CaFile installs the set" "$rc:$out" "0:installed version 11 (there was no set at BasesPath)"
mkconf "$HC" "$TMP/varH2/db" "UpdateServerUrl=https://127.0.0.1:$sport/set" "UpdatePublicKey=$TMP/key.pub"
mkdir -p "$TMP/varH2"
upd "$HC"
expect_match "https with an unknown CA is refused" "$rc:$out" "^3:.*download failed: .*(certificate|SSL)"
expect_eq "... and installs nothing" "$(ls -A "$TMP/varH2" | grep -v '^db.d$' | wc -l)" 0

# ---- --daemon -----------------------------------------------------------------------------------------

DC=$TMP/daemon.conf
mkconf "$DC" "$TMP/varD/db" "UpdateServerUrl=$URL" "UpdatePublicKey=$TMP/key.pub"
mkdir -p "$TMP/varD"
"$B" update -c "$DC" --daemon --interval 1s > "$TMP/daemon.out" 2>&1 &
dpid=$!
BG_PIDS="$BG_PIDS $dpid"
for _ in $(seq 100); do [ "$(readlink "$TMP/varD/db")" = db.d/11 ] && break; sleep 0.1; done
expect_eq "--daemon installs at once" "$(readlink "$TMP/varD/db")" "db.d/11"
publish 12
for _ in $(seq 100); do [ "$(readlink "$TMP/varD/db")" = db.d/12 ] && break; sleep 0.1; done
expect_eq "--daemon picks up a new version on its next round" "$(readlink "$TMP/varD/db")" "db.d/12"
kill -TERM "$dpid"
for _ in $(seq 50); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$dpid" 2>/dev/null; then notok "--daemon stops on SIGTERM"; else wait "$dpid"; expect_eq "--daemon stops on SIGTERM with 0" "$?" 0; fi
expect_match "--daemon logs each result with the time" "$(cat "$TMP/daemon.out")" \
    "^[0-9T:+-]{24} installed version 11 \(there was no set at BasesPath\)$"
expect_match "--daemon logged the update" "$(cat "$TMP/daemon.out")" "[0-9] updated from version 11 to 12"

# ---- a PostUpdateCmd that hangs is killed (here after a rollback, which runs it too) ----------------------

TC=$TMP/timeout.conf
mkconf "$TC" "$TMP/varD/db" "UpdateServerUrl=$URL" "PostUpdateCmd=sleep 30" "PostUpdateTimeout=1s"
t0=$(date +%s)
upd "$TC" --rollback
t1=$(date +%s)
expect_eq "a hanging PostUpdateCmd exits 6 after the rollback" "$rc:$(printf '%s' "$out" | head -1)" \
    "6:rolled back from version 12 to version 11"
expect_match "... and is killed at PostUpdateTimeout" "$out" \
    "PostUpdateCmd 'sleep 30' did not finish within 1000 ms and was killed"
check "... within a few seconds, not 30" test $((t1 - t0)) -lt 10

# ---- rollback to an unversioned set with PublishDir: nothing to publish, said so ----------------

mkdir -p "$TMP/varP/db"; cp "$TESTDB"/* "$TMP/varP/db/"
PC=$TMP/pub-initial.conf
mkconf "$PC" "$TMP/varP/db" "UpdateServerUrl=$URL" "UpdatePublicKey=$TMP/key.pub" "PublishDir=$TMP/pubP"
upd "$PC"
expect_eq "an unversioned set updated with PublishDir" "$rc:$(sed -n 2p "$TMP/pubP/bulwark.manifest")" "0:version 12"
upd "$PC" --rollback
expect_eq "rollback to the unversioned set exits 6 (nothing to publish)" \
    "$rc:$(printf '%s' "$out" | head -1)" "6:rolled back from version 12 to an unversioned set"
expect_match "... and says PublishDir still offers the old version" "$out" \
    "PublishDir $TMP/pubP: the set in use is unversioned \(no bulwark.manifest\), so nothing is published; PublishDir still offers what it held"

# ---- the service user updating a package's root-owned directory -------------------------------------------
# Moving a directory to another parent needs write permission on it (its ".."
# changes), so the old set cannot go into db.d/ and is kept beside it instead.

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$TMP/varU/db"; cp "$TESTDB"/* "$TMP/varU/db/"
    chown nobody:nogroup "$TMP/varU"          # the parent is the service's, db is root's
    UC=$TMP/user.conf
    mkconf "$UC" "$TMP/varU/db" "UpdateServerUrl=$URL" "UpdatePublicKey=$TMP/key.pub"
    sed -i '/^CacheDir/d' "$UC"
    out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$B" update -c "$UC" 2>&1); rc=$?
    expect_eq "an unprivileged updater converts a root-owned directory" "$rc:$out" \
        "0:updated from an unversioned set to version 12"
    expect_eq "... keeping it beside BasesPath as the previous set" \
        "$(readlink "$TMP/varU/db") $(readlink "$TMP/varU/db.d/previous") $(ls "$TMP/varU/.db.initial" | tr '\n' ' ')" \
        "db.d/12 ../.db.initial bulwark-test.hdb bulwark-test.ndb "
    out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$B" update -c "$UC" --rollback 2>&1); rc=$?
    expect_eq "... which --rollback returns to" "$rc:$out:$(readlink "$TMP/varU/db")" \
        "0:rolled back from version 12 to an unversioned set:.db.initial"
    expect_eq "... and scans use it again" "$(detects "$TMP/varU/db" "$TMP/sample-v12")" CLEAN
else
    ok "# SKIP unprivileged updater: the test does not run as root"
fi

# ---- configuration mistakes ------------------------------------------------------------------------------

X=$TMP/x.conf
mkconf "$X" "$TMP/var/db" "UpdateServerUrl=file:///etc/passwd"
upd "$X"
expect_match "a file:// URL is refused with its line" "$rc:$out" "^2:.*x.conf.*UpdateServerUrl: 'file:///etc/passwd' is not an http, https, ftp or ftps URL"
mkconf "$X" "$TMP/var/db" "UpdateServerUrl=$URL" "UpdatePublicKey=$TMP/key.pem"
upd "$X"
expect_match "a private key as UpdatePublicKey is refused" "$rc:$out" "^2:.*holds a PRIVATE key"
mkconf "$X" "$TMP/var/db"
upd "$X"
expect_match "no source configured" "$rc:$out" "^2:.*no update source: set \[updater.options\] UpdateServerUrl"
mkconf "$X" "$TMP/var/db" "UpdateSource=dir"
upd "$X"
expect_match "UpdateSource = dir without a directory" "$rc:$out" "^2:.*UpdateSource = dir needs UpdateSourceDir"
out=$("$B" update --rollback --force -c "$A" 2>&1); rc=$?
expect_match "conflicting options are a usage error" "$rc:$out" "^2:.*do not go together"
