#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Real clamd clients beyond clamdscan against bulwarkd's clamd sockets:
# proftpd with mod_clamav (Debian's proftpd-mod-clamav), which scans every
# upload and deletes an infected one, and Perl's ClamAV::Client (Debian's
# libclamav-client-perl), the library Perl mail filters and upload handlers
# use.  Both talk to a bulwarkd started here on free loopback ports.
. "$(dirname "$0")/icap-lib.sh"

PORT=$(free_port)
CPORT=$(free_port)
SOCK="$TMP/clamd.sock"
mkdir -p "$TMP/files"
make_eicar "$TMP/files/eicar.com"
printf 'a clean upload\n' >"$TMP/files/clean.txt"

bw_write_conf "$TMP/bw.conf" "$PORT" \
    clamd.TCPSocket="$CPORT" clamd.TCPAddr=127.0.0.1 clamd.LocalSocket="$SOCK" \
    clamd.LocalSocketMode=666 clamd.ScanPathAllow="$TMP/files"
bw_start "$TMP/bw.conf" "$TMP/bw.log" "$PORT" || exit 1

# ---- proftpd + mod_clamav -------------------------------------------------
# proftpd_start NAME CLAMLINES...: a test-local proftpd in the foreground on a
# free port, one FTP user (uid/gid of nobody) whose home is $TMP/NAME/home.
# Sets FTP_PORT and FTP_HOME.
proftpd_start() {
    local dir=$TMP/$1 line; shift
    FTP_PORT=$(free_port)
    FTP_HOME=$dir/home
    mkdir -p "$FTP_HOME"
    chown 65534:65534 "$FTP_HOME"
    chmod 755 "$dir"
    printf 'bwtest:%s:65534:65534::%s:/bin/sh\n' "$(openssl passwd -6 secret)" "$FTP_HOME" >"$dir/passwd"
    chmod 600 "$dir/passwd"
    {
        echo "ServerName \"bulwark-test\""
        echo "ServerType standalone"
        echo "DefaultServer on"
        echo "Port $FTP_PORT"
        echo "DefaultAddress 127.0.0.1"
        echo "SocketBindTight on"
        echo "UseIPv6 off"
        echo "User nobody"
        echo "Group nogroup"
        echo "PidFile $dir/proftpd.pid"
        echo "ScoreboardFile $dir/proftpd.scoreboard"
        echo "DelayTable none"
        echo "WtmpLog off"
        echo "UseReverseDNS off"
        echo "AuthOrder mod_auth_file.c"
        echo "AuthUserFile $dir/passwd"
        echo "RequireValidShell off"
        echo "SystemLog $dir/system.log"
        echo "TransferLog $dir/xfer.log"
        echo "ModulePath /usr/lib/proftpd"
        echo "ModuleControlsACLs insmod,rmmod allow user root"
        echo "LoadModule mod_clamav.c"
        echo "<IfModule mod_clamav.c>"
        echo "  ClamAV on"
        for line in "$@"; do echo "  $line"; done
        echo "</IfModule>"
        echo "<Directory ~>"
        echo "  AllowOverwrite on"
        echo "</Directory>"
    } >"$dir/proftpd.conf"
    if ! proftpd -t -c "$dir/proftpd.conf" >"$dir/check.log" 2>&1; then
        echo "# proftpd -t failed:"; sed 's/^/#   /' "$dir/check.log" | tail -20
        return 1
    fi
    proftpd -n -q -c "$dir/proftpd.conf" >"$dir/proftpd.out" 2>&1 &
    FTP_PID=$!
    BG_PIDS="$BG_PIDS $FTP_PID"
    if ! wait_port "$FTP_PORT" 20; then
        echo "# proftpd did not start:"; sed 's/^/#   /' "$dir/proftpd.out" | tail -20
        return 1
    fi
}

not() { ! "$@"; }

# ftp_put NAME FILE: uploads FILE as NAME; sets OUT and RC (curl's exit code)
ftp_put() {
    OUT=$(timeout 60 curl -sS --user bwtest:secret -T "$2" "ftp://127.0.0.1:$FTP_PORT/$1" 2>&1); RC=$?
}

if ! command -v proftpd >/dev/null || [ ! -f /usr/lib/proftpd/mod_clamav.so ]; then
    notok "proftpd + mod_clamav: not installed (scripts/install-deps.sh installs proftpd-core, proftpd-mod-clamav)"
else
    for mode in local stream; do
        if [ $mode = local ]; then
            # SCAN of the uploaded file's path over the unix socket.
            proftpd_start ftp-$mode "ClamLocalSocket $SOCK" || { notok "proftpd ($mode) started"; continue; }
        else
            # INSTREAM over TCP: the file's bytes, as with a remote clamd.
            proftpd_start ftp-$mode "ClamServer 127.0.0.1" "ClamPort $CPORT" "ClamStream on" ||
                { notok "proftpd ($mode) started"; continue; }
        fi
        ftp_put clean.txt "$TMP/files/clean.txt"
        expect_eq "proftpd mod_clamav ($mode): a clean upload succeeds" "$RC" 0
        expect_eq "proftpd mod_clamav ($mode): the clean upload is stored" \
            "$(sha "$FTP_HOME/clean.txt")" "$(sha "$TMP/files/clean.txt")"
        ftp_put eicar.com "$TMP/files/eicar.com"
        # proftpd answers the upload's end with 550 and deletes the file
        expect_eq "proftpd mod_clamav ($mode): an EICAR upload is refused with 550" \
            "$RC:$OUT" "18:curl: (18) server did not report OK, got 550"
        check "proftpd mod_clamav ($mode): the EICAR upload is not stored" test ! -e "$FTP_HOME/eicar.com"
        expect_match "proftpd mod_clamav ($mode): the log names the signature" \
            "$(cat "$TMP/ftp-$mode/system.log" 2>/dev/null)" "Virus 'EICAR-Test-File' found"
        check "proftpd mod_clamav ($mode): no clamd error in its log" \
            not grep -E "Clamd Error|Cannot|did not" "$TMP/ftp-$mode/system.log"
        kill -TERM "$FTP_PID"; wait "$FTP_PID" 2>/dev/null
    done
fi

# ---- Perl ClamAV::Client ---------------------------------------------------
# The Debian package's version (0.11) speaks the protocol of ClamAV 0.9x:
# PING, VERSION, SCAN, CONTSCAN, and the old two-connection STREAM, which
# clamd dropped in 0.99 and bulwarkd, like clamd 1.x, answers with
# UNKNOWN COMMAND (applications use INSTREAM; see docs/clamd.md).
mkdir -p "$TMP/files/tree"
make_eicar "$TMP/files/tree/eicar.com"
cp "$TMP/files/clean.txt" "$TMP/files/tree/"
if ! /usr/bin/perl -MClamAV::Client -e 1 2>/dev/null; then
    notok "ClamAV::Client: not installed (scripts/install-deps.sh installs libclamav-client-perl)"
else
    for via in unix tcp; do
        if [ $via = unix ]; then conn="socket_name => '$SOCK'"
        else conn="socket_host => '127.0.0.1', socket_port => $CPORT"; fi
        out=$(/usr/bin/perl - "$TMP/files" <<EOF2 2>&1
use strict; use warnings; use ClamAV::Client;
my \$d = \$ARGV[0];
my \$c = ClamAV::Client->new($conn) or die "no client";
print "ping ", (\$c->ping() ? "PONG" : "no"), "\n";
print "version ", (\$c->version() =~ /^ClamAV [0-9.]+-Bulwark/ ? "Bulwark" : \$c->version()), "\n";
my (\$p, \$r) = \$c->scan_path("\$d/eicar.com");
print "eicar ", \$p, " ", \$r // "clean", "\n";
(\$p, \$r) = \$c->scan_path("\$d/clean.txt");
print "clean ", \$p, " ", \$r // "clean", "\n";
my %all = \$c->scan_path_complete("\$d/tree");
print "tree \$_ \$all{\$_}\n" for sort keys %all;
eval { open(my \$h, "<", "\$d/eicar.com") or die; \$c->scan_stream(\$h); print "stream answered\n"; 1 }
  or print "stream refused: ", (\$@ =~ /UNKNOWN COMMAND/ ? "UNKNOWN COMMAND" : \$@), "\n";
EOF2
)
        expect_eq "ClamAV::Client ($via): ping, version, scan_path, scan_path_complete, old STREAM refused" "$out" \
"ping PONG
version Bulwark
eicar $TMP/files/eicar.com EICAR-Test-File
clean $TMP/files/clean.txt clean
tree $TMP/files/tree/eicar.com EICAR-Test-File
stream refused: UNKNOWN COMMAND"
    done
fi

check "bulwarkd stops cleanly" bw_stop
bw_log_clean "clamd clients" "$TMP/bw.log"
