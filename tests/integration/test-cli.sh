#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Integration tests of the `bulwark` command: output lines and exit codes of
# `scan` for EICAR and each test modification, clean files, errors, walking
# (-r, symlinks, special files), JSON output, parallel scans, filters, the
# summary, and `db info` / `db compile` with the compiled-database cache.
# The databases are written here, so the test does not depend on db/test.
source "$(dirname "$0")/lib.sh"

EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
EHEX=$(hex "$EICAR")

# ---- fixtures ------------------------------------------------------------------
DB="$TMP/db"; mkdir -p "$DB"
{
    echo "# CLI test database"
    echo "Test.EICAR:0:0:$EHEX"
    echo "Test.EICAR-CURE@CURED=$(hex CURED):0:0:$(hex CURE-)$EHEX"
    echo "Test.EICAR-DELE:0:0:$(hex DELE-)$EHEX"
    echo "Test.EICAR-WARN@WARNING:0:0:$(hex WARN-)$EHEX"
    echo "Test.EICAR-SUSP@SUSPICIOUS:0:0:$(hex SUSP-)$EHEX"
    echo "Test.EICAR-CORR@CORRUPTED:0:0:$(hex CORR-)$EHEX"
    echo "Test.EICAR-ERRO@ERROR:0:0:$(hex ERRO-)$EHEX"
} > "$DB/cli.ndb"
HASHFILE="$TMP/hashed.bin"
printf 'a file known by its hash\n' > "$HASHFILE"
echo "$(md5sum "$HASHFILE" | cut -d' ' -f1):$(stat -c %s "$HASHFILE"):Test.HashedFile" > "$DB/cli.hdb"

S="$TMP/samples"; mkdir -p "$S"
printf '%s' "$EICAR" > "$S/eicar.com"
for p in CURE DELE WARN SUSP CORR ERRO; do printf '%s-%s' "$p" "$EICAR" > "$S/$p.com"; done
printf 'hello, world\n' > "$S/clean.txt"
cp "$HASHFILE" "$S/hashed.bin"

CACHE="$TMP/cache"
# scan ARGS...: sets OUT (stdout), ERR (stderr), RC
scan() {
    OUT=$("$BULWARK" scan --cache-dir "$CACHE" "$@" 2>"$TMP/stderr"); RC=$?
    ERR=$(cat "$TMP/stderr")
}

# ---- EICAR and each modification --------------------------------------------------
scan --no-summary -d "$DB" "$S/eicar.com"
expect_eq "EICAR line" "$OUT" "$S/eicar.com: Test.EICAR FOUND"
expect_eq "EICAR exit 1" "$RC" 1
want_line() { # prefix status-word
    case $2 in
        INFECTED) echo "$S/$1.com: Test.EICAR-$1 FOUND" ;;
        *) echo "$S/$1.com: $2 Test.EICAR-$1" ;;
    esac
}
for pair in CURE:CURED DELE:INFECTED WARN:WARNING SUSP:SUSPICIOUS CORR:CORRUPTED ERRO:ERROR; do
    p=${pair%%:*}; st=${pair#*:}
    scan --no-summary -d "$DB" "$S/$p.com"
    expect_eq "$p- modification line" "$OUT" "$(want_line "$p" "$st")"
    expect_eq "$p- modification exit 1" "$RC" 1
done

scan --no-summary -d "$DB" "$S/clean.txt"
expect_eq "clean file OK" "$OUT" "$S/clean.txt: OK"
expect_eq "clean file exit 0" "$RC" 0

scan --no-summary -d "$DB" "$S/hashed.bin"
expect_eq "hdb signature line" "$OUT" "$S/hashed.bin: Test.HashedFile FOUND"

# ---- database errors ------------------------------------------------------------------
BAD="$TMP/baddb"; mkdir -p "$BAD"
printf 'Good:0:0:%s\nBroken:0:0:zz\n' "$EHEX" > "$BAD/bad.ndb"
scan -d "$BAD" "$S/clean.txt"
expect_eq "bad database exit 2" "$RC" 2
expect_match "bad database message names file:line" "$ERR" 'bad\.ndb:2: '
expect_eq "bad database: nothing scanned" "$OUT" ""
scan -d "$TMP/no-such-db" "$S/clean.txt"
expect_eq "missing database exit 2" "$RC" 2
expect_match "missing database message" "$ERR" 'no-such-db'

# ---- unreadable paths ---------------------------------------------------------------
scan --no-summary -d "$DB" "$TMP/missing-file" "$S/eicar.com"
expect_match "missing path ERROR line" "$OUT" "^$TMP/missing-file: ERROR: No such file or directory$"
expect_match "missing path: the rest is still scanned" "$OUT" "eicar\.com: Test\.EICAR FOUND"
expect_eq "missing path exit 2 wins over 1" "$RC" 2
if [ "$(id -u)" != 0 ]; then
    printf 'secret' > "$TMP/noperm"; chmod 000 "$TMP/noperm"
    scan --no-summary -d "$DB" "$TMP/noperm"
    expect_eq "unreadable file line" "$OUT" "$TMP/noperm: ERROR: Permission denied"
    expect_eq "unreadable file exit 2" "$RC" 2
else
    ok "unreadable file (skipped: running as root) # SKIP"
fi

# ---- walking ------------------------------------------------------------------------
W="$TMP/walk"; mkdir -p "$W/sub/deeper" "$W/other"
printf 'top\n' > "$W/top.txt"
printf '%s' "$EICAR" > "$W/sub/deeper/eicar.com"
printf '%s' "$EICAR" > "$W/other/eicar2.com"
ln -s ../other "$W/sub/link-to-dir"
ln -s ../other/eicar2.com "$W/sub/link-to-file"
mkfifo "$W/sub/fifo"
scan --no-summary -d "$DB" "$W"
expect_eq "no -r: only the directory's own files" "$OUT" "$W/top.txt: OK"
expect_eq "no -r: exit 0" "$RC" 0
scan --no-summary -r -d "$DB" "$W"
want=$(printf '%s\n' "$W/other/eicar2.com: Test.EICAR FOUND" "$W/sub/deeper/eicar.com: Test.EICAR FOUND" \
    "$W/sub/link-to-file: Test.EICAR FOUND" "$W/top.txt: OK")
expect_eq "-r: every file, file symlinks, not dir symlinks" "$(sort <<<"$OUT")" "$want"
expect_eq "-r: exit 1" "$RC" 1
expect_match "-r: fifo skipped with a note" "$ERR" 'fifo: skipped: fifo'
scan -r -d "$DB" "$W"
expect_match "summary: scanned directories" "$OUT" '^Scanned directories: 4$'
scan --no-summary -d "$DB" "$W/sub/fifo"
expect_eq "fifo named explicitly: skipped, exit 0" "$RC" 0

# ---- summary and filters --------------------------------------------------------------
scan -d "$DB" "$S"
expect_match "summary header" "$OUT" '^----------- SCAN SUMMARY -----------$'
expect_match "summary: scanned files" "$OUT" '^Scanned files: 9$'
expect_match "summary: infected files" "$OUT" '^Infected files: 8$'
expect_match "summary: known signatures" "$OUT" '^Known signatures: 8$'
expect_match "summary: engine version" "$OUT" '^Engine version: 0\.1\.0$'
for l in 'Infected: 3' 'Warning: 1' 'Suspicious: 1' 'Corrupted: 1' 'Error: 1' 'Cured: 1'; do
    expect_match "summary: $l" "$OUT" "^$l\$"
done
check "summary: no Clean line" bash -c "! grep -q '^Clean:' <<<\"\$1\"" _ "$OUT"
expect_match "summary: data scanned" "$OUT" '^Data scanned: [0-9]+\.[0-9]{2} MiB$'
expect_match "summary: time" "$OUT" '^Time: [0-9]+\.[0-9]{3} sec$'

scan --no-summary -i -d "$DB" "$S"
check "--infected: no OK lines" bash -c "! grep -q ': OK\$' <<<\"\$1\"" _ "$OUT"
expect_eq "--infected: 8 finding lines" "$(grep -c . <<<"$OUT")" 8
scan --quiet -d "$DB" "$S"
expect_eq "--quiet: findings only, no summary" "$(grep -c . <<<"$OUT")" 8

# ---- parallel scans ---------------------------------------------------------------------
P="$TMP/par"; mkdir -p "$P"
for i in $(seq 1 60); do
    case $((i % 4)) in
        0) printf '%s' "$EICAR" > "$P/f$i" ;;
        1) printf 'WARN-%s' "$EICAR" > "$P/f$i" ;;
        *) head -c $((i * 97)) /dev/urandom > "$P/f$i" ;;
    esac
done
scan --no-summary -r -j 1 -d "$DB" "$P"; o1=$(sort <<<"$OUT"); r1=$RC
scan --no-summary -r -j 4 -d "$DB" "$P"; o4=$(sort <<<"$OUT"); r4=$RC
expect_eq "-j 1 and -j 4: same results" "$o4" "$o1"
expect_eq "-j 1 and -j 4: same exit" "$r4" "$r1"
expect_eq "-j 4: one line per file" "$(grep -c . <<<"$OUT")" 60

# ---- JSON ---------------------------------------------------------------------------------
J="$TMP/json"; mkdir -p "$J"
printf '%s' "$EICAR" > "$J/quote\"back\\slash.com"
printf 'WARN-%s' "$EICAR" > "$J/$(printf 'ctl\001tab\tnl\nx')"
printf 'x' > "$J/$(printf 'bad\377utf8\303')"
printf 'x' > "$J/ünïcödé.txt"
scan --json -d "$DB" "$J" "$TMP/missing-file"
check "--json: every line parses" python3 -c 'import json,sys
lines=[l for l in sys.stdin.read().split("\n") if l]
assert len(lines)==5, len(lines)
for l in lines: json.loads(l)' <<<"$OUT"
check "--json: fields and values" python3 -c 'import json,sys
objs=[json.loads(l) for l in sys.stdin if l.strip()]
by={o["path"].rsplit("/",1)[-1]:o for o in objs}
e=by["quote\"back\\slash.com"]
assert e["status"]=="INFECTED" and e["threats"][0]["name"]=="Test.EICAR", e
assert e["threats"][0]["status"]=="INFECTED" and e["threats"][0]["path"]=="", e
assert e["size"]==68 and e["bytes_scanned"]>=68 and e["ms"]>=0, e
w=by["ctl\u0001tab\tnl\nx"]; assert w["status"]=="WARNING", w
assert by["ünïcödé.txt"]["status"]=="CLEAN" and by["ünïcödé.txt"]["threats"]==[]
assert by["bad\u00ffutf8\u00c3"]["status"]=="CLEAN"
m=by["missing-file"]; assert m["status"]=="ERROR" and "No such file" in m["error"], m' <<<"$OUT"
expect_eq "--json: exit 2 with an error path" "$RC" 2
check "--json: no summary in the stream" bash -c "! grep -q 'SCAN SUMMARY' <<<\"\$1\"" _ "$OUT"

# ---- containers -----------------------------------------------------------------------------
Z="$TMP/zip"; mkdir -p "$Z/in/dir"
printf '%s' "$EICAR" > "$Z/in/dir/x.com"
(cd "$Z/in" && zip -q -r ../a.zip dir)
scan --no-summary -d "$DB" "$Z/a.zip"
expect_match "zip: finding with inner path" "$OUT" "^$Z/a\.zip: Test\.EICAR FOUND \[.*a\.zip/dir/x\.com\]\$"
expect_eq "zip: exit 1" "$RC" 1
scan --no-summary --no-archive -d "$DB" "$Z/a.zip"
expect_eq "--no-archive: zip is OK" "$OUT" "$Z/a.zip: OK"
printf 'WARN-%s' "$EICAR" > "$Z/in/dir/y.com"
(cd "$Z/in" && zip -q ../two.zip dir/x.com dir/y.com) # INFECTED first: it decides
scan --no-summary -d "$DB" "$Z/two.zip"
expect_eq "zip with two findings: one line by default" "$(grep -c . <<<"$OUT")" 1
scan --no-summary --all-match -d "$DB" "$Z/two.zip"
want=$(printf '%s\n' "$Z/two.zip: Test.EICAR FOUND [two.zip/dir/x.com]" \
    "$Z/two.zip: WARNING Test.EICAR-WARN [two.zip/dir/y.com]")
expect_eq "--all-match: one line per finding" "$(sort <<<"$OUT")" "$want"

# ---- limits -----------------------------------------------------------------------------------
head -c 300000 /dev/urandom > "$TMP/big.bin"
scan --no-summary --max-scansize 100K --max-filesize 100K -d "$DB" "$TMP/big.bin"
expect_match "size limit: TOO_LARGE line" "$OUT" "^$TMP/big\\.bin: TOO_LARGE "
expect_eq "size limit: exit 1" "$RC" 1

# ---- stdin, defaults, usage errors -----------------------------------------------------------
OUT=$("$BULWARK" scan --no-summary --cache-dir "$CACHE" -d "$DB" - < "$S/WARN.com"); RC=$?
expect_eq "stdin: '-' is scanned" "$OUT" "stdin: WARNING Test.EICAR-WARN"
OUT=$(BULWARK_DB="$DB" "$BULWARK" scan --no-summary --cache-dir "$CACHE" "$S/eicar.com" 2>&1)
expect_eq "BULWARK_DB is the default database" "$OUT" "$S/eicar.com: Test.EICAR FOUND"
OUT=$("$BULWARK" scan --help); RC=$?
expect_match "scan --help names the default database" "$OUT" 'BULWARK_DB.*/var/lib/bulwark/db'
expect_eq "scan --help exit 0" "$RC" 0
OUT=$("$BULWARK" help scan); RC=$?
expect_match "help scan: the scan options" "$OUT" '^Usage: bulwark scan'
"$BULWARK" >/dev/null 2>"$TMP/stderr"; RC=$?
expect_eq "no command: exit 2" "$RC" 2
OUT=$("$BULWARK" --version); RC=$?
expect_eq "--version" "$OUT" "bulwark 0.1.0"
"$BULWARK" scan --no-such-option "$S" >/dev/null 2>"$TMP/stderr"; RC=$?
expect_eq "unknown option: exit 2" "$RC" 2
expect_match "unknown option: usage on stderr" "$(cat "$TMP/stderr")" "bulwark scan --help"
"$BULWARK" frobnicate >/dev/null 2>"$TMP/stderr"; RC=$?
expect_eq "unknown command: exit 2" "$RC" 2
expect_match "unknown command: usage on stderr" "$(cat "$TMP/stderr")" "Usage: bulwark"
"$BULWARK" scan --max-filesize 12Q -d "$DB" "$S" >/dev/null 2>&1; RC=$?
expect_eq "bad SIZE value: exit 2" "$RC" 2
"$BULWARK" scan -d "$DB" >/dev/null 2>&1; RC=$?
expect_eq "scan without a path: exit 2" "$RC" 2

# ---- db info and the cache --------------------------------------------------------------------
C2="$TMP/cache2"
dbinfo() { OUT=$("$BULWARK" db info --cache-dir "$C2" "$@" 2>"$TMP/stderr"); RC=$?; ERR=$(cat "$TMP/stderr"); }
dbinfo -d "$DB"
expect_eq "db info: exit 0" "$RC" 0
expect_match "db info: version" "$OUT" '^Database version: 0$'
expect_match "db info: signatures in use" "$OUT" '^Signatures in use: 8$'
expect_match "db info: ndb count" "$OUT" '^ndb: 7$'
expect_match "db info: hdb count" "$OUT" '^hdb: 1$'
expect_match "db info: source hash" "$OUT" '^Source hash: [0-9a-f]{64}$'
expect_match "db info: first load not from cache" "$OUT" '^Loaded from cache: no$'
expect_match "db info: load time" "$OUT" '^Load time: [0-9]+\.[0-9]{3} sec$'
h1=$(grep '^Source hash' <<<"$OUT")
dbinfo -d "$DB"
expect_match "db info: second load from cache" "$OUT" '^Loaded from cache: yes$'
echo "Test.Extra:0:0:$(hex 'EXTRA-PATTERN')" >> "$DB/cli.ndb"
dbinfo -d "$DB"
expect_match "db info: changed db invalidates the cache" "$OUT" '^Loaded from cache: no$'
expect_match "db info: changed db counted" "$OUT" '^Signatures in use: 9$'
check "db info: changed db changes the source hash" test "$h1" != "$(grep '^Source hash' <<<"$OUT")"
dbinfo "$DB" --no-cache
expect_match "db info: positional path, --no-cache" "$OUT" '^Loaded from cache: no$'
dbinfo -d "$BAD"
expect_eq "db info: bad database exit 2" "$RC" 2
expect_match "db info: bad database file:line" "$ERR" 'bad\.ndb:2: '
printf 'UnknownTarget:3:*:%s\n' "$EHEX" > "$TMP/html.ndb"
dbinfo -d "$TMP/html.ndb"
expect_match "db info: unsupported kinds are counted" "$OUT" '^unsupported: .*: 1$'

C3="$TMP/cache3"
OUT=$("$BULWARK" db compile -d "$DB" --cache-dir "$C3" 2>&1); RC=$?
expect_eq "db compile: exit 0" "$RC" 0
OUT=$("$BULWARK" db info -d "$DB" --cache-dir "$C3" 2>&1)
expect_match "db compile: warms the cache for db info" "$OUT" '^Loaded from cache: yes$'
scan --cache-dir "$C3" --no-summary -d "$DB" "$S/eicar.com"
expect_eq "scan from a warm cache: same result" "$OUT" "$S/eicar.com: Test.EICAR FOUND"
"$BULWARK" db frob >/dev/null 2>&1; RC=$?
expect_eq "db: unknown subcommand exit 2" "$RC" 2
