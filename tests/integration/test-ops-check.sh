#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What docs/operations.md tells an administrator to do on a running daemon:
#  1. `bulwarkd -t -c THE_LIVE_CONF` checks the configuration beside the
#     running daemon: it binds no port (no "Address already in use"), writes
#     no pid file, touches no control socket and creates no report log, and
#     still fails on a bad key (file:line) or a bad listen address (reason);
#  2. `bulwark ctl reload` with a broken bulwark.conf reaches the daemon,
#     which refuses it with file:line, logs it and shows it in `ctl status`;
#     the client reads only ControlSocket from the file.
. "$(dirname "$0")/icap-lib.sh"

B="$BULWARK"
clamd_ping() {
    python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),timeout=5); s.sendall(b"zPING\0"); sys.exit(0 if s.recv(16)==b"PONG\0" else 1)' "$1"
}
# snap FILE: inode, size and mtime (what -t must leave alone)
snap() { stat -c '%i %s %Y' "$1" 2>/dev/null || echo none; }

# ---- 1. bulwarkd -t on the running daemon's own configuration -----------------
port=$(free_port); cport=$(free_port)
conf="$TMP/live.conf"
bw_write_conf "$conf" "$port" "clamd.TCPSocket=$cport" "clamd.TCPAddr=127.0.0.1" \
    "clamd.LocalSocket=$TMP/clamd-$port.sock" "path.CacheDir=$TMP/cache"
CTL="$TMP/ctl-$port.sock"; PIDF="$TMP/bulwarkd-$port.pid"; REP="$TMP/report-$port.log"
bw_start "$conf" "$TMP/live.log" "$port" || { notok "bulwarkd starts"; exit 1; }
before="pid $(cat "$PIDF") $(snap "$PIDF") | ctl $(snap "$CTL") | clamd $(snap "$TMP/clamd-$port.sock") | report $(snap "$REP")"
out=$("$BULWARKD" -t -c "$conf" 2>"$TMP/t.err"); rc=$?
expect_eq "bulwarkd -t on the live configuration exits 0 ($(tail -1 "$TMP/t.err"))" "$rc" 0
expect_match "... and says the configuration is OK" "$out" "^bulwarkd: $conf: configuration and databases OK$"
check "... without 'Address already in use'" bash -c "! grep -q 'already in use' '$TMP/t.err'"
expect_match "... and says it bound nothing" "$(cat "$TMP/t.err")" "listen address OK \(not bound by -t\): icap 127.0.0.1:$port"
check "the daemon still answers OPTIONS after -t" icap_ping "$port"
st=$("$B" ctl -c "$conf" status 2>&1); rc=$?
expect_eq "ctl status still works after -t" "$rc" 0
expect_match "... and names the same supervisor" "$st" "pid: $BW_PID"
check "the clamd listener still answers PING after -t" clamd_ping "$cport"
after="pid $(cat "$PIDF") $(snap "$PIDF") | ctl $(snap "$CTL") | clamd $(snap "$TMP/clamd-$port.sock") | report $(snap "$REP")"
expect_eq "-t left the pid file, the control socket, the clamd socket and the report log alone" \
    "$after" "$before"

# A mistake in the same file: -t fails with file:line while the daemon runs.
cp "$conf" "$TMP/bad-key.conf"
printf '[icapserver.process]\nMaxChildren = lots\n' >>"$TMP/bad-key.conf"
out=$("$BULWARKD" -t -c "$TMP/bad-key.conf" 2>&1); rc=$?
expect_eq "-t with a bad value exits 2" "$rc" 2
expect_match "... with file:line and the key" "$out" "bad-key.conf:[0-9]+: MaxChildren: "

# Listen addresses are checked without binding: the port's range, the host.
sed "s/^ListenAddress = .*/ListenAddress = 127.0.0.1:99999/" "$conf" >"$TMP/bad-port.conf"
out=$("$BULWARKD" -t -c "$TMP/bad-port.conf" 2>&1); rc=$?
expect_eq "-t with ListenAddress port 99999 exits 2" "$rc" 2
expect_match "... and says why, with file:line" "$out" \
    "bad-port.conf:[0-9]+: ListenAddress 127.0.0.1:99999: bad port '99999' \(expected 1..65535\)"
out=$(timeout 20 "$BULWARKD" -f -c "$TMP/bad-port.conf" 2>&1); rc=$?
expect_eq "a start with port 99999 is refused too (not wrapped to port 34463)" "$rc" 2
sed "s/^ListenAddress = .*/ListenAddress = no-such-host.invalid:1344/" "$conf" >"$TMP/bad-host.conf"
out=$("$BULWARKD" -t -c "$TMP/bad-host.conf" 2>&1); rc=$?
expect_eq "-t with an unresolvable ListenAddress host exits 2" "$rc" 2
expect_match "... and names the address and the reason" "$out" \
    "bad-host.conf:[0-9]+: ListenAddress no-such-host.invalid:1344: [A-Za-z]"
sed "s/^ListenAddress = .*/ListenAddress = 127.0.0.1/" "$conf" >"$TMP/no-port.conf"
out=$("$BULWARKD" -t -c "$TMP/no-port.conf" 2>&1); rc=$?
expect_match "-t with a ListenAddress without a port fails and says so (rc $rc)" "$out" \
    "ListenAddress 127.0.0.1: expected host:port"

# -t creates nothing the start would create: not the report log, not the
# quarantine directory; it checks they can be created.
p2=$(free_port)
bw_write_conf "$TMP/fresh.conf" "$p2" "icapserver.report.ReportFileName=$TMP/logs/new.log" \
    "icapserver.actions.InfectedAction=quarantine" "quarantine.QuarantineDir=$TMP/q/new"
mkdir "$TMP/logs"
out=$("$BULWARKD" -t -c "$TMP/fresh.conf" 2>&1); rc=$?
expect_eq "-t with a report log and a QuarantineDir still to be made exits 0" "$rc" 0
check "... and creates neither" test ! -e "$TMP/logs/new.log" -a ! -e "$TMP/q"
expect_match "... and says the start will create them" "$out" \
    "QuarantineDir $TMP/q/new: does not exist yet: the start will create it"
expect_match "... (the report log too)" "$out" \
    "ReportFileName $TMP/logs/new.log: does not exist yet: the start will create it"
bw_write_conf "$TMP/nodir.conf" "$p2" "icapserver.report.ReportFileName=$TMP/nologs/new.log"
out=$("$BULWARKD" -t -c "$TMP/nodir.conf" 2>&1); rc=$?
expect_eq "-t with a report log in a missing directory exits 2" "$rc" 2
expect_match "... and says why" "$out" "ReportFileName $TMP/nologs/new.log: directory $TMP/nologs: No such file or directory"
: >"$TMP/afile"
bw_write_conf "$TMP/qfile.conf" "$p2" "icapserver.actions.InfectedAction=quarantine" \
    "quarantine.QuarantineDir=$TMP/afile/q"
out=$("$BULWARKD" -t -c "$TMP/qfile.conf" 2>&1); rc=$?
expect_eq "-t with a QuarantineDir under a regular file exits 2" "$rc" 2
expect_match "... with file:line and why" "$out" "qfile.conf:[0-9]+: QuarantineDir $TMP/afile/q: cannot create it: $TMP/afile: Not a directory"

# ---- 2. bulwark ctl reload with a broken bulwark.conf ------------------------------
cp "$conf" "$TMP/live.good"
printf '[icapserver.protocol]\nNoSuchKey = 1\n' >>"$conf"
line=$(grep -n NoSuchKey "$conf" | cut -d: -f1)
out=$("$B" ctl -c "$conf" reload 2>&1); rc=$?
expect_eq "ctl reload of a file with an unknown key exits 1 (the daemon refused)" "$rc" 1
expect_match "... with the daemon's file:line reason" "$out" "live.conf:$line: \[icapserver.protocol\] NoSuchKey: unknown key"
st=$("$B" ctl -c "$conf" status 2>&1); rc=$?
expect_eq "ctl status works while the file is broken" "$rc" 0
expect_match "... and shows the failed reload" "$st" "last reload: [0-9-]+ [0-9:]+ FAILED: .*live.conf:$line: .*NoSuchKey: unknown key"
expect_match "the daemon logged the refused reload" "$(cat "$TMP/live.log")" "reload: .*live.conf:$line: .*NoSuchKey: unknown key"
out=$("$B" ctl -c "$conf" stats 2>&1); rc=$?
expect_eq "ctl stats works while the file is broken" "$rc" 0
check "the daemon still answers OPTIONS" icap_ping "$port"

# A bad value, and a syntax error above [path]: the same.
cp "$TMP/live.good" "$conf"
{ echo "this line is not INI at all"; cat "$TMP/live.good"; echo "[icapserver.process]"; echo "MaxChildren = lots"; } >"$conf"
out=$("$B" ctl -c "$conf" reload 2>&1); rc=$?
expect_eq "ctl reload of a file with a syntax error on line 1 exits 1" "$rc" 1
expect_match "... the daemon names line 1" "$out" "live.conf:1: syntax error"
# ctl start and restart run the daemon on this file: they check it all first,
# and restart does not stop the running daemon for a file that cannot start.
out=$("$B" ctl -c "$conf" restart 2>&1); rc=$?
expect_eq "ctl restart with a broken file exits 2" "$rc" 2
expect_match "... with file:line" "$out" "live.conf:1: syntax error"
check "... and the running daemon was not stopped" icap_ping "$port"

cp "$TMP/live.good" "$conf"
out=$("$B" ctl -c "$conf" reload 2>&1); rc=$?
expect_eq "after the fix, ctl reload succeeds ($out)" "$rc" 0
expect_match "... with a new generation" "$out" "configuration reloaded: generation 2"
expect_match "ctl status shows the good reload" "$("$B" ctl -c "$conf" status)" "last reload: .* ok: configuration reloaded"

# --socket needs no file at all; an unreadable file falls back to the default.
out=$("$B" ctl -c "$TMP/nonexistent.conf" -s "$CTL" status 2>&1); rc=$?
expect_eq "ctl -s SOCKET status works without a configuration file" "$rc" 0
out=$("$B" ctl -c "$TMP/nonexistent.conf" status 2>&1)
expect_match "ctl without a readable file says it uses the default socket" "$out" \
    "cannot read $TMP/nonexistent.conf \(No such file or directory\): using the default control socket /run/bulwark/bulwarkd.ctl"
check "bulwarkd stops" bw_stop
bw_log_clean "ctl reload with a broken file" "$TMP/live.log"

# A relative ControlSocket is relative to the file, for the client as for the daemon.
p3=$(free_port)
bw_write_conf "$TMP/rel.conf" "$p3" "path.ControlSocket=rel-$p3.sock"
bw_start "$TMP/rel.conf" "$TMP/rel.log" "$p3" || { notok "bulwarkd starts with a relative ControlSocket"; exit 1; }
check "the relative ControlSocket is made beside the file" test -S "$TMP/rel-$p3.sock"
out=$(cd / && "$B" ctl -c "$TMP/rel.conf" status 2>&1); rc=$?
expect_eq "ctl finds a relative ControlSocket from another directory" "$rc" 0
# The key is lexed as the daemon lexes it: "[ path ]", indentation, an inline comment.
sed -e 's/^\[path\]$/[ path ]/' -e 's/^ControlSocket = .*/  &   ; the control socket/' \
    "$TMP/rel.conf" >"$TMP/rel2.conf"
out=$("$B" ctl -c "$TMP/rel2.conf" status 2>&1); rc=$?
expect_eq "ctl reads ControlSocket under '[ path ]', indented, with an inline comment" "$rc" 0
printf '[path]\nControlSocket =\n' >"$TMP/empty-sock.conf"
out=$("$B" ctl -c "$TMP/empty-sock.conf" status 2>&1); rc=$?
expect_eq "an empty ControlSocket is a configuration error for ctl (exit 2)" "$rc" 2
expect_match "... with file:line" "$out" "empty-sock.conf:2: ControlSocket is empty"
check "bulwarkd stops" bw_stop
