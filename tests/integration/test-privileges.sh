#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What the root supervisor trusts and prepares for its unprivileged workers
# (User = bulwark), and how it stays responsive:
#   - directories the workers write (QuarantineDir) are created for them, and
#     a configuration whose directory cannot be made is refused, at start and
#     on reload (the running generation goes on);
#   - the compiled-database cache is believed only when nobody but root can
#     have written it: a database planted by the workers' user is refused
#     (EICAR stays blocked), so is an image renamed to another key, one a
#     planted .key points at, and a world-writable cache directory;
#   - a FIFO at ReportFileName neither hangs the start nor the supervisor;
#   - 30 idle control clients do not keep `bulwark ctl status` waiting;
#   - a relative -c keeps reloads working;
#   - `bulwark ctl` by a user who may not use the socket says so (exit 4).
. "$(dirname "$0")/icap-lib.sh"

B=$ROOT/${BUILD:-build}/bulwark
if ! getent passwd bulwark >/dev/null || [ "$(id -u)" != 0 ]; then
    ok "privileges # SKIP needs root and the bulwark user (scripts/install-deps.sh)"
    exit 0
fi

# sigs LOG: the signature count the last "engine:" line of a bulwarkd log gives.
sigs() { sed -n 's/.*engine: \([0-9]*\) signatures.*/\1/p' "$1" | tail -1; }
# refused NAME CONF REGEX: bulwarkd -f with CONF exits 2 within 20 s, saying REGEX.
refused() {
    local out rc
    out=$(timeout 20 "$BULWARKD" -c "$2" -f 2>&1); rc=$?
    expect_eq "$1: the start is refused (exit 2)" "$rc" 2
    expect_match "$1: with the reason" "$out" "$3"
}
make_eicar "$TMP/eicar"

# ---- 1. the quarantine directory, made by the supervisor for the workers ------
P=$(free_port)
Q=$TMP/srv/bulwark/quarantine         # neither it nor its root-owned parents exist
bw_write_conf "$TMP/q.conf" "$P" "icapserver.process.User=bulwark" \
    "icapserver.actions.InfectedAction=quarantine" "quarantine.QuarantineDir=$Q"
# Started with a relative -c from the test directory (a reload must still
# find it), and with bulwarkd.service's umask (parents made 0750 would shut
# the workers out).
(cd "$TMP" && umask 0027 && exec "$BULWARKD" -c q.conf -f 2>"$TMP/q.log") &
BW_PID=$!
BG_PIDS="$BG_PIDS $BW_PID"
for _ in $(seq 1 100); do icap_ping "$P" && break; kill -0 "$BW_PID" 2>/dev/null || break; sleep 0.1; done
if ! icap_ping "$P"; then
    notok "quarantine under a missing root-owned parent: bulwarkd starts"; sed 's/^/#   /' "$TMP/q.log" | tail
    exit 1
fi
expect_eq "quarantine: created for the workers' user, mode 0700" \
    "$(stat -c '%U %a' "$Q" 2>&1)" "bulwark 700"
expect_eq "quarantine: its missing parents created root's, 0755 (umask 0027)" \
    "$(stat -c '%U %a' "$TMP/srv" "$TMP/srv/bulwark" 2>&1 | paste -sd' ')" "root 755 root 755"
expect_eq "quarantine: EICAR is blocked" "$(respmod_status "$P" "$TMP/eicar")" 200
listed() { "$B" quarantine list -c "$TMP/q.conf" 2>/dev/null | grep -q "^1 object"; }
for _ in $(seq 1 100); do listed && break; sleep 0.1; done
check "quarantine: the object is stored (bulwark quarantine list shows it)" listed
if grep -q "cannot create the quarantine directory\|not stored" "$TMP/q.log"; then
    notok "quarantine: no store failed"; grep "not stored" "$TMP/q.log" | head -3
else ok "quarantine: no store failed"; fi

CTL=$TMP/ctl-$P.sock
# 5. relative -c: a reload finds the file.
out=$("$B" ctl -s "$CTL" -t 30 reload 2>&1); rc=$?
expect_eq "relative -c: ctl reload succeeds ($out)" "$rc" 0
expect_match "relative -c: the status names the absolute path" \
    "$("$B" ctl -s "$CTL" status 2>&1)" "configuration: $TMP/q.conf \(generation 2\)"

# 6. bulwark ctl as a user who may not use the socket.
out=$(runuser -u bulwark -- "$B" ctl -c "$TMP/q.conf" status 2>&1); rc=$?
expect_eq "ctl status as the bulwark user: exit 4 (insufficient privilege)" "$rc" 4
expect_match "ctl status as the bulwark user: says permission denied" "$out" "[Pp]ermission denied"
if printf '%s' "$out" | grep -q "not running"; then notok "ctl as bulwark: does not claim 'not running'"
else ok "ctl as bulwark: does not claim 'not running'"; fi

# 1. a reload whose QuarantineDir cannot be made is refused; generation 2 serves on.
: > "$TMP/afile"
sed "s|^QuarantineDir = .*|QuarantineDir = $TMP/afile/quarantine|" "$TMP/q.conf" > "$TMP/q-bad.conf"
cp "$TMP/q.conf" "$TMP/q-good.conf"
cp "$TMP/q-bad.conf" "$TMP/q.conf"
out=$("$B" ctl -s "$CTL" -t 30 reload 2>&1); rc=$?
expect_eq "reload with a QuarantineDir under a regular file: refused (exit 1)" "$rc" 1
expect_match "reload refused: file:line: QuarantineDir: why" "$out" \
    "q.conf:[0-9]+: QuarantineDir $TMP/afile/quarantine: cannot create it: Not a directory"
expect_match "reload refused: the running generation goes on" \
    "$("$B" ctl -s "$CTL" status 2>&1)" "generation 2\)"
expect_eq "reload refused: EICAR still blocked" "$(respmod_status "$P" "$TMP/eicar")" 200
cp "$TMP/q-good.conf" "$TMP/q.conf"

# 4. thirty idle control clients: status answers at once; the idle ones are closed.
python3 - "$CTL" "$TMP/idle.ready" > "$TMP/idle.out" 2>&1 <<'EOF' &
import socket, sys, time, select
socks = []
for i in range(30):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    if i % 2:
        s.send(b"sta")      # half a command line, never finished
    socks.append(s)
open(sys.argv[2], "w").close()
t0, closed = time.time(), 0
open_ = list(socks)
while open_ and time.time() - t0 < 20:
    r, _, _ = select.select(open_, [], [], 1)
    for s in r:
        try:
            d = s.recv(4096)
        except OSError:
            d = b""
        if not d or d.endswith(b"\n"):  # an ERROR line then EOF, or EOF
            while d:
                try:
                    d = s.recv(4096)
                except OSError:
                    break
            open_.remove(s)
            closed += 1
print("closed %d of 30 in %.1f s" % (closed, time.time() - t0))
EOF
IDLE=$!
for _ in $(seq 1 100); do [ -e "$TMP/idle.ready" ] && break; sleep 0.1; done
out=$("$B" ctl -s "$CTL" -t 3 status 2>&1); rc=$?
expect_eq "30 idle control clients: ctl status still answers within 3 s" "$rc" 0
expect_match "30 idle control clients: the answer is the status" "$out" "^version: bulwarkd"
wait "$IDLE"
expect_match "30 idle control clients: all closed by the daemon after the deadline" \
    "$(cat "$TMP/idle.out")" "^closed 30 of 30"

# 3. a FIFO planted at ReportFileName, then SIGHUP: refused, the supervisor answers.
R=$TMP/report-$P.log
rm -f "$R"; mkfifo "$R"
kill -HUP "$BW_PID"
for _ in $(seq 1 100); do grep -q "reload: ReportFileName" "$TMP/q.log" && break; sleep 0.1; done
expect_match "FIFO at ReportFileName on SIGHUP: the reload is refused with the reason" \
    "$(grep "reload:" "$TMP/q.log" | tail -1)" "ReportFileName $R: .*(FIFO|not a regular file).*refused"
out=$("$B" ctl -s "$CTL" -t 3 status 2>&1); rc=$?
expect_eq "FIFO at ReportFileName on SIGHUP: ctl status still answers" "$rc" 0
expect_match "FIFO at ReportFileName on SIGHUP: status shows the failed reload" "$out" \
    "last reload: .*FAILED: ReportFileName"
# With a reader holding the FIFO open (open(2) then succeeds), too.
sleep 30 > "$R" < /dev/null &   # a writer makes the reader's open return
exec 7<"$R"
kill -HUP "$BW_PID"
for _ in $(seq 1 100); do [ "$(grep -c "reload: ReportFileName" "$TMP/q.log")" -ge 2 ] && break; sleep 0.1; done
expect_match "FIFO with a reader on SIGHUP: refused as not a regular file" \
    "$(grep "reload:" "$TMP/q.log" | tail -1)" "ReportFileName $R: not a regular file \(a FIFO\)"
exec 7<&-
check "FIFO with a reader: ctl status still answers" bash -c "\"$B\" ctl -s \"$CTL\" -t 3 status >/dev/null"
rm -f "$R"
bw_stop; check "bulwarkd (quarantine, relative -c) stops cleanly" test $? = 0
bw_log_clean "privileges" "$TMP/q.log"

# ---- starts that are refused, quickly and with their reason ---------------------
P2=$(free_port)
bw_write_conf "$TMP/r1.conf" "$P2" "icapserver.process.User=bulwark" \
    "icapserver.actions.InfectedAction=quarantine" "quarantine.QuarantineDir=$TMP/afile/q"
refused "QuarantineDir under a regular file" "$TMP/r1.conf" \
    "r1.conf:[0-9]+: QuarantineDir $TMP/afile/q: cannot create it: Not a directory"
mkdir -m 0700 "$TMP/private"
bw_write_conf "$TMP/r2.conf" "$P2" "icapserver.process.User=bulwark" \
    "icapserver.actions.InfectedAction=quarantine" "quarantine.QuarantineDir=$TMP/private/q"
refused "QuarantineDir under a parent the workers cannot enter" "$TMP/r2.conf" \
    "r2.conf:[0-9]+: QuarantineDir $TMP/private/q: the workers' user bulwark \(uid [0-9]+\) cannot write it: Permission denied"
mkfifo "$TMP/fifo.log"
bw_write_conf "$TMP/r3.conf" "$P2" "icapserver.report.ReportFileName=$TMP/fifo.log"
refused "FIFO at ReportFileName" "$TMP/r3.conf" "ReportFileName $TMP/fifo.log: .*FIFO"

# ---- 2. the compiled-database cache: only root's is believed ----------------------
mkdir -p "$TMP/evil"
printf 'Evil.Only:0:*:6576696c2d6f6e6c79\n' > "$TMP/evil/one.ndb"
chmod -R a+rX "$TMP/evil"
P3=$(free_port)
C=$TMP/cache
bw_write_conf "$TMP/c.conf" "$P3" "icapserver.process.User=bulwark" "path.CacheDir=$C"
bw_write_conf "$TMP/nocache.conf" "$P3" "path.CacheDir="
bw_write_conf "$TMP/evil.conf" "$P3" "path.CacheDir=$C" "path.BasesPath=$TMP/evil" \
    "icapserver.report.ReportFileName=" "events.Enable=no"
"$BULWARKD" -c "$TMP/nocache.conf" -t 2>"$TMP/real.log" >/dev/null
REAL=$(sigs "$TMP/real.log")
check "the test database has more than one signature ($REAL)" test "${REAL:-0}" -gt 1

# The state the old packaging left: the daemon (root) wrote its .key and
# .bwdb into a cache directory that belongs to the workers' user.
"$BULWARKD" -c "$TMP/c.conf" -t >/dev/null 2>&1
check "the supervisor creates CacheDir root-owned, 0755" test "$(stat -c '%U %a' "$C")" = "root 755"
KEYF=$(ls "$C"/*.key | head -1)
chown bulwark:bulwark "$C"; chmod 0750 "$C"
# The attack, as the workers' user: compile a one-signature database into the
# cache and point the daemon's .key at it.
runuser -u bulwark -- "$BULWARKD" -c "$TMP/evil.conf" -t >"$TMP/evil.out" 2>&1
EVIL=$(ls -t "$C"/*.bwdb | head -1)
EVILKEY=$(basename "$EVIL" .bwdb)
expect_eq "attack: the workers' user compiled a 1-signature image into the cache" \
    "$(stat -c %U "$EVIL") $(sigs "$TMP/evil.out")" "bulwark 1"
plant_key() {   # plant_key KEYFILE HEXKEY: meta (kept) + the given content key
    python3 - "$1" "$2" <<'EOF'
import os, sys
path, key = sys.argv[1], bytes.fromhex(sys.argv[2])
meta = open(path, "rb").read()[:32]
tmp = path + ".new"
open(tmp, "wb").write(meta + key)
os.rename(tmp, path)
EOF
}
runuser -u bulwark -- bash -c "$(declare -f plant_key); plant_key '$KEYF' '$EVILKEY'"
check "attack: the .key file now belongs to the workers' user" test "$(stat -c %U "$KEYF")" = bulwark
bw_start "$TMP/c.conf" "$TMP/c.log" "$P3" || { notok "bulwarkd starts over a planted cache"; exit 1; }
expect_match "planted cache: the daemon serves the real database" \
    "$("$B" ctl -s "$TMP/ctl-$P3.sock" status 2>&1)" "signatures: $REAL"
expect_eq "planted cache: EICAR is still blocked" "$(respmod_status "$P3" "$TMP/eicar")" 200
expect_match "planted cache: the log says why the cache is not used" "$(cat "$TMP/c.log")" \
    "compiled-database cache: directory $C belongs to uid $(id -u bulwark), not to uid 0 .*not trusted"
# A databases reload with that directory compiles elsewhere, never there.
before=$(ls "$C" | sort)
out=$("$B" ctl -s "$TMP/ctl-$P3.sock" -t 60 reload-bases 2>&1); rc=$?
expect_eq "planted cache: reload-bases succeeds" "$rc" 0
expect_match "planted cache: reload-bases keeps the real database" "$out" "$REAL signatures"
expect_match "planted cache: reload-bases says it compiled elsewhere" "$(cat "$TMP/c.log")" \
    "this reload compiles in a temporary directory"
expect_eq "planted cache: nothing was written into the untrusted directory" "$(ls "$C" | sort)" "$before"
bw_stop
bw_log_clean "planted cache" "$TMP/c.log"

# The fixed packaging (the directory root's), with files planted by the workers' user.
chown root:root "$C"; chmod 0755 "$C"
"$BULWARKD" -c "$TMP/c.conf" -t >"$TMP/t1.out" 2>&1
expect_eq "root-owned dir, bulwark-owned .key: the real database is served" "$(sigs "$TMP/t1.out")" "$REAL"
expect_match "root-owned dir, bulwark-owned .key: refused with the reason" "$(cat "$TMP/t1.out")" \
    "compiled-database cache: file $KEYF belongs to uid $(id -u bulwark).*not trusted"
check "root-owned dir: the refused .key was replaced by root's" test "$(stat -c %U "$KEYF")" = root

# Root-owned files that do not match the sources: a .bwdb renamed to the real
# key, and a .key pointing at another image.
REALKEY=$(python3 -c 'import sys; print(open(sys.argv[1],"rb").read()[32:].hex())' "$KEYF")
"$BULWARKD" -c "$TMP/evil.conf" -t >/dev/null 2>&1   # as root: a root-owned 1-signature image
ROOTEVIL=$(for f in "$C"/*.bwdb; do [ "$(stat -c %U "$f")" = root ] && [ "$f" != "$C/$REALKEY.bwdb" ] && echo "$f"; done | head -1)
cp "$ROOTEVIL" "$C/$REALKEY.bwdb"
"$BULWARKD" -c "$TMP/c.conf" -t >"$TMP/t2.out" 2>&1
expect_eq "a .bwdb renamed to the real key: the real database is served" "$(sigs "$TMP/t2.out")" "$REAL"
expect_match "a .bwdb renamed to the real key: refused (another source key)" "$(cat "$TMP/t2.out")" \
    "$REALKEY.bwdb: records another source key"
plant_key "$KEYF" "$(basename "$ROOTEVIL" .bwdb)"
"$BULWARKD" -c "$TMP/c.conf" -t >"$TMP/t3.out" 2>&1
expect_eq "a .key pointing at another image: the real database is served" "$(sigs "$TMP/t3.out")" "$REAL"
expect_match "a .key pointing at another image: refused (other source files)" "$(cat "$TMP/t3.out")" \
    "$(basename "$ROOTEVIL"): compiled from other source files"

# A world-writable cache directory: refused, nothing written into it.
W=$TMP/wcache
mkdir -m 0777 "$W"; chmod 0777 "$W"
bw_write_conf "$TMP/w.conf" "$P3" "path.CacheDir=$W"
"$BULWARKD" -c "$TMP/w.conf" -t >"$TMP/t4.out" 2>&1
expect_eq "world-writable cache dir: the database is compiled" "$(sigs "$TMP/t4.out")" "$REAL"
expect_match "world-writable cache dir: refused with a clear message" "$(cat "$TMP/t4.out")" \
    "compiled-database cache: directory $W is writable by everyone \(mode 0777\): not trusted"
expect_eq "world-writable cache dir: nothing written into it" "$(ls -A "$W")" ""
