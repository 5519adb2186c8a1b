#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Packaging: `make install` / `make uninstall` (DESTDIR and PREFIX), and what
# they install, exercised with the real tools that will read it:
#   - the files and their modes; the installed configuration (system paths,
#     loads with the installed bulwarkd, never overwritten);
#   - bulwarkd run from the installed tree under the systemd unit's
#     capability bounding set and no-new-privs, workers dropped to an
#     unprivileged user, ready through the sd_notify protocol, blocking
#     EICAR with the installed block page;
#   - the init script (start, status, reload, reload-bases, stop, the LSB
#     codes) and the logrotate snippet (a real rotation, then the daemon
#     writes the new log);
#   - systemd-analyze verify on the units, systemd-sysusers and
#     systemd-tmpfiles on their files (in a scratch root and scratch
#     directories), every manual page through groff with all warnings, and
#     the pages against the options the programs really have.
# The make runs use the binaries already in $BUILD and must not compile.
. "$(dirname "$0")/icap-lib.sh"

B="$ROOT/${BUILD:-build}"
if [ ! -x "$B/bulwarkd" ] || [ ! -x "$B/bulwark" ]; then
    notok "install: $B/bulwark and $B/bulwarkd are built"
    exit 1
fi
R="$TMP/root"          # the DESTDIR
S="$TMP/state"         # state, log and run directories of the daemon runs
NOBODY=nobody
NOGROUP=$(id -gn nobody)

mk() { make --no-print-directory -C "$ROOT" BUILD="${BUILD:-build}" "$@"; }
has_line() { grep -qxF -- "$2" "$1"; }
mode() { stat -c %a "$1" 2>/dev/null; }
last() { printf '%s\n' "$1" | tail -n 1; }   # the last line of a message, for a TAP name

# ---- make install DESTDIR=... PREFIX=/usr -----------------------------------------------
out=$(mk install DESTDIR="$R" PREFIX=/usr 2>&1); rc=$?
if [ $rc = 0 ]; then ok "make install DESTDIR PREFIX=/usr succeeds"
else notok "make install DESTDIR PREFIX=/usr succeeds"; printf '%s\n' "$out" | tail -20 | sed 's/^/    /'; fi
if printf '%s\n' "$out" | grep -qE '(^| )(cc|gcc|clang) .*-c .*\.c'; then
    notok "make install compiles nothing"; else ok "make install compiles nothing"; fi

want="755 usr/bin/bulwark
755 usr/sbin/bulwarkd
755 usr/sbin/bulwark-agent
644 etc/bulwark/agent.conf
644 usr/lib/systemd/system/bulwark-agent.service
644 usr/share/man/man8/bulwark-agent.8
755 usr/sbin/bulwark-console
644 etc/bulwark/bulwark.conf
644 etc/bulwark/console.conf
644 usr/lib/systemd/system/bulwark-console.service
644 usr/lib/sysusers.d/bulwark-console.conf
644 usr/share/man/man8/bulwark-console.8
755 etc/init.d/bulwarkd
644 etc/logrotate.d/bulwark
644 usr/lib/systemd/system/bulwarkd.service
644 usr/lib/systemd/system/bulwark-update.service
644 usr/lib/systemd/system/bulwark-update.timer
644 usr/lib/sysusers.d/bulwark.conf
644 usr/lib/tmpfiles.d/bulwark.conf
644 usr/share/man/man1/bulwark.1
644 usr/share/man/man5/bulwark.conf.5
644 usr/share/man/man8/bulwarkd.8
755 var/lib/bulwark
755 var/lib/bulwark/db
755 var/lib/bulwark/cache
700 var/lib/bulwark/quarantine
750 var/log/bulwark"
for t in "$ROOT"/conf/templates/*.html; do want="$want
644 usr/share/bulwark/templates/$(basename "$t")"; done
if [ -d "$ROOT/src/console/ui" ]; then while read -r t; do want="$want
644 usr/share/bulwark/console-ui/$t"; done < <(cd "$ROOT/src/console/ui" && find . -type f ! -name '.*' | sed 's|^\./||' | sort); fi
for t in "$ROOT"/db/test/*; do want="$want
644 usr/share/bulwark/db-test/$(basename "$t")"; done
bad=""
while read -r m f; do
    got=$(mode "$R/$f")
    [ "$got" = "$m" ] || bad="$bad $f(${got:-missing}, want $m)"
done <<<"$want"
expect_eq "install: every file and directory with its mode" "${bad:-none}" none
extra=$(cd "$R" && find . -type f | sed 's|^\./||' | sort | while read -r f; do
    printf '%s\n' "$want" | awk '{ print $2 }' | grep -qxF -- "$f" || echo "$f"; done)
expect_eq "install: no file besides the expected ones" "${extra:-none}" none
cmp -s "$B/bulwarkd" "$R/usr/sbin/bulwarkd" && cmp -s "$B/bulwark" "$R/usr/bin/bulwark"
check "install: the programs are the ones in \$BUILD" test $? = 0

# ---- the installed programs and configuration -------------------------------------------
expect_eq "installed bulwarkd --version" "$("$R/usr/sbin/bulwarkd" --version)" "$("$B/bulwarkd" --version)"
expect_eq "installed bulwark --version" "$("$R/usr/bin/bulwark" --version)" "$("$B/bulwark" --version)"

CONF="$R/etc/bulwark/bulwark.conf"
pc=$("$R/usr/sbin/bulwarkd" -c "$CONF" --print-config 2>&1); rc=$?
check "installed bulwark.conf loads (--print-config)" test $rc = 0
[ $rc = 0 ] || printf '%s\n' "$pc" | head -5 | sed 's/^/    /'
for kv in "BasesPath = /var/lib/bulwark/db" "CacheDir = /var/lib/bulwark/cache" \
    "NotifyTemplateDir = /usr/share/bulwark/templates" \
    "ReportFileName = /var/log/bulwark/report.log" \
    "CounterStatisticsFile = /var/log/bulwark/counter.stats"; do
    if printf '%s\n' "$pc" | grep -qxF -- "$kv"; then ok "installed bulwark.conf: $kv"
    else notok "installed bulwark.conf: $kv"; printf '%s\n' "$pc" | grep -F "${kv%% *}" | sed 's/^/    /'; fi
done
# Every path key: a relative path would resolve next to the configuration
# (etc/bulwark inside DESTDIR), one copied from the tree would name the tree.
paths=$("$R/usr/sbin/bulwarkd" --config-doc | sed -n 's/^| `\([A-Za-z0-9]*\)` | path:.*/\1/p' | sort -u)
badp=""
for k in $paths; do
    while IFS= read -r v; do
        case "$v" in "$TMP"* | "$ROOT"*) badp="$badp $k=$v" ;; "" | /*) ;; *) badp="$badp $k=$v" ;; esac
    done < <(printf '%s\n' "$pc" | sed -n "s/^$k = //p")
done
expect_eq "installed bulwark.conf: no path key names the source tree or a relative path ($(echo $paths | wc -w) keys)" "${badp:-none}" none
# The installed text names the installed programs.
grep -q '^ExecStart=/usr/sbin/bulwarkd -c /etc/bulwark/bulwark.conf -f$' "$R/usr/lib/systemd/system/bulwarkd.service"
check "bulwarkd.service starts /usr/sbin/bulwarkd -c /etc/bulwark/bulwark.conf -f" test $? = 0

# set_key FILE SECTION KEY VALUE: sets KEY in [SECTION] (replacing its line,
# or in a section of its own at the end when the file does not have it).
set_key() {
    awk -v sec="$2" -v key="$3" -v val="$4" '
        /^[ \t]*\[/ { s = $0; gsub(/^[ \t]*\[|\][ \t]*$/, "", s); cur = tolower(s) }
        cur == tolower(sec) && tolower($0) ~ "^[ \t]*" tolower(key) "[ \t]*=" {
            if (!done) print key " = " val; done = 1; next }
        { print }
        END { if (!done) { print "[" sec "]"; print key " = " val } }' "$1" > "$1.new" && mv "$1.new" "$1"
}

# ---- sysusers.d, tmpfiles.d --------------------------------------------------------------
if command -v systemd-sysusers >/dev/null; then
    mkdir -p "$TMP/sysroot/etc"
    out=$(systemd-sysusers --root="$TMP/sysroot" "$R/usr/lib/sysusers.d/bulwark.conf" 2>&1); rc=$?
    pw=$(grep '^bulwark:' "$TMP/sysroot/etc/passwd" 2>/dev/null)
    expect_match "sysusers.d: systemd-sysusers makes a system user bulwark, home /var/lib/bulwark, no login (rc $rc)" \
        "$pw" '^bulwark:x:[0-9]{1,3}:[0-9]+:[^:]*:/var/lib/bulwark:/(usr/)?s?bin/nologin$'
else
    ok "sysusers.d: systemd-sysusers # SKIP systemd-sysusers is not installed"
fi
# The tmpfiles.d file, with its paths moved under $S and its owner made
# nobody (there is no bulwark user here): the directories of a real start.
sed -e "s|/var/lib/bulwark|$S/lib|; s|/var/log/bulwark|$S/log|" -e "s/ bulwark bulwark / $NOBODY $NOGROUP /" \
    "$R/usr/lib/tmpfiles.d/bulwark.conf" > "$TMP/tmpfiles.conf"
mkdir -p "$S/run"
if command -v systemd-tmpfiles >/dev/null; then
    out=$(systemd-tmpfiles --create "$TMP/tmpfiles.conf" 2>&1); rc=$?
    got="$(mode "$S/lib") $(mode "$S/lib/cache") $(mode "$S/lib/quarantine") $(mode "$S/log") $(stat -c %U "$S/lib/cache" 2>/dev/null)"
    expect_eq "tmpfiles.d: systemd-tmpfiles --create makes the directories, the cache root's (rc $rc${out:+: $(last "$out")})" "$got" "755 755 700 750 root"
else
    ok "tmpfiles.d: systemd-tmpfiles # SKIP systemd-tmpfiles is not installed"
    install -d -m 0755 -o "$NOBODY" -g "$NOGROUP" "$S/lib"
    install -d -m 0755 "$S/lib/cache"
    install -d -m 0750 -o "$NOBODY" -g "$NOGROUP" "$S/log"
    install -d -m 0700 -o "$NOBODY" -g "$NOGROUP" "$S/lib/quarantine"
fi

# ---- bulwarkd from the installed tree, as the unit runs it --------------------------------
# The installed configuration with the database, templates and directories
# moved where this test has them, and workers dropped to nobody.
P=$(free_port)
TCONF="$TMP/run.conf"
sed -e "s|= /var/lib/bulwark/db\$|= $R/usr/share/bulwark/db-test|" -e "s|= /usr/share/bulwark|= $R/usr/share/bulwark|" \
    -e "s|= /var/lib/bulwark|= $S/lib|" -e "s|= /var/log/bulwark|= $S/log|" -e "s|= /run/bulwark|= $S/run|" \
    "$CONF" > "$TCONF"
set_key "$TCONF" icapserver.network ListenAddress "127.0.0.1:$P"
set_key "$TCONF" icapserver.process MaxChildren 1
set_key "$TCONF" icapserver.process User "$NOBODY"
set_key "$TCONF" icapserver.process Group "$NOGROUP"
set_key "$TCONF" path PidFile "$S/run/bulwarkd.pid"
set_key "$TCONF" path ControlSocket "$S/run/bulwarkd.ctl"
if "$R/usr/sbin/bulwarkd" -c "$TCONF" --print-config >/dev/null 2>"$TMP/tconf.err"; then
    ok "the test's copy of the installed configuration loads"
else notok "the test's copy of the installed configuration loads"; sed 's/^/    /' "$TMP/tconf.err"; fi
# A marker in the installed block page proves which template answered.
echo "<!-- installed-template-marker -->" >> "$R/usr/share/bulwark/templates/object_infected.html"
make_eicar "$TMP/eicar.com"

# eicar_blocked NAME: one EICAR RESPMOD through c-icap-client, blocked with
# the installed page.
eicar_blocked() {
    rm -f "$TMP/page"
    timeout 20 c-icap-client -i 127.0.0.1 -p "$P" -s av/respmod -f "$TMP/eicar.com" -o "$TMP/page" \
        -v >"$TMP/cic.txt" 2>&1
    if grep -q "X-Virus-ID: EICAR-Test-File" "$TMP/cic.txt" && grep -q installed-template-marker "$TMP/page"; then
        ok "$1"
    else notok "$1"; sed 's/^/    /' "$TMP/cic.txt" | head -20; fi
}

# The unit's CapabilityBoundingSet, for setpriv(1).
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$R/usr/lib/systemd/system/bulwarkd.service" |
    tr 'A-Z ' 'a-z\n' | sed -n 's/^cap_/+/p' | paste -sd, -)
# A datagram socket standing in for systemd's NOTIFY_SOCKET.
python3 - "$TMP/notify.sock" "$TMP/notify.log" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        log.write(s.recv(4096).decode(errors="replace").replace("\n", " ") + "\n")
EOF
BG_PIDS="$BG_PIDS $!"
for _ in $(seq 1 50); do [ -S "$TMP/notify.sock" ] && break; sleep 0.1; done
touch "$TMP/notify.log"

# wait_notify WORD [N]: until more than N datagrams (default 0) hold WORD (bounded).
wait_notify() {
    for _ in $(seq 1 100); do
        [ "$(grep -c "$1" "$TMP/notify.log")" -gt "${2:-0}" ] && return 0
        sleep 0.1
    done
    return 1
}

if [ -z "$caps" ]; then
    notok "bulwarkd.service has a CapabilityBoundingSet"
fi
NOTIFY_SOCKET="$TMP/notify.sock" setpriv --bounding-set "-all,$caps" --no-new-privs \
    "$R/usr/sbin/bulwarkd" -c "$TCONF" -f 2>"$TMP/fg.log" &
FG=$!
BG_PIDS="$BG_PIDS $FG"
if wait_notify READY=1; then ok "bulwarkd under the unit's capability bounding set and no-new-privs: sd_notify READY=1"
else notok "bulwarkd under the unit's capability bounding set and no-new-privs: sd_notify READY=1"
    sed 's/^/    /' "$TMP/fg.log" | tail -15; fi
eicar_blocked "installed bulwarkd blocks EICAR with the installed block page"
workers=$(pgrep -P "$FG" 2>/dev/null | while read -r w; do ps -o user= -p "$w"; done | sort -u | paste -sd, -)
expect_eq "installed bulwarkd: workers run as $NOBODY" "$workers" "$NOBODY"
expect_eq "installed bulwarkd: the report log is written in the log directory" \
    "$(grep -c EICAR "$S/log/report.log" 2>/dev/null)" 1
nready=$(grep -c READY=1 "$TMP/notify.log")
kill -HUP "$FG"
if wait_notify RELOADING=1 && wait_notify READY=1 "$nready" && icap_ping "$P"; then
    ok "SIGHUP (ExecReload): RELOADING=1, then serving again"
else notok "SIGHUP (ExecReload): RELOADING=1, then serving again"; tail -5 "$TMP/notify.log" | sed 's/^/    /'; fi
check "SIGTERM: bulwarkd exits 0" bw_stop "$FG"
wait_notify STOPPING=1
check "SIGTERM: sd_notify STOPPING=1" test $? = 0
bw_log_clean "installed bulwarkd" "$TMP/fg.log"
rm -f "$S/log/report.log" "$S/run/"*

# ---- the init script ----------------------------------------------------------------------
INIT="$R/etc/init.d/bulwarkd"
sh -n "$INIT"
check "init script: sh -n" test $? = 0
if command -v shellcheck >/dev/null; then
    out=$(shellcheck -s sh "$INIT" 2>&1)
    if [ -z "$out" ]; then ok "init script: shellcheck -s sh is clean"
    else notok "init script: shellcheck -s sh is clean"; printf '%s\n' "$out" | head -20 | sed 's/^/    /'; fi
else ok "init script: shellcheck # SKIP shellcheck is not installed"; fi
grep -q '^BULWARKD=${BULWARKD:-/usr/sbin/bulwarkd}$' "$INIT"
check "init script: runs the installed /usr/sbin/bulwarkd" test $? = 0
initd() { BULWARKD="$R/usr/sbin/bulwarkd" BULWARKD_CONF="${ICONF:-$TCONF}" BULWARKD_DEFAULTS=/dev/null \
    BULWARKD_STOP_TIMEOUT=20 BULWARKD_START_TIMEOUT=20 "$INIT" "$@"; }
out=$(initd status 2>&1); rc=$?
expect_eq "init script: status when not running is LSB 3 ($(last "$out"))" "$rc" 3
out=$(initd stop 2>&1); rc=$?
expect_eq "init script: stop when not running succeeds" "$rc" 0
echo 999999 > "$S/run/bulwarkd.pid"
out=$(initd status 2>&1); rc=$?
expect_eq "init script: status with a stale pid file is LSB 1" "$rc" 1
out=$(initd start 2>&1); rc=$?
expect_eq "init script: start ($(last "$out"))" "$rc" 0
PID=$(cat "$S/run/bulwarkd.pid" 2>/dev/null)
[ -n "$PID" ] && BG_PIDS="$BG_PIDS $PID"
out=$(initd status 2>&1); rc=$?
expect_eq "init script: status when running is 0 ($(last "$out"))" "$rc" 0
eicar_blocked "init script: the daemon it started serves"
out=$(initd start 2>&1); rc=$?
expect_eq "init script: start when running succeeds, nothing started" "$rc:$(cat "$S/run/bulwarkd.pid" 2>/dev/null)" "0:$PID"

# logrotate: the installed snippet on the daemon's report log; postrotate
# finds the daemon through the pid file (systemd does not run it here).
if command -v logrotate >/dev/null; then
    sed -e "s|/var/log/bulwark|$S/log|g" -e "s|/run/bulwark|$S/run|g" \
        -e "s/create 0640 bulwark bulwark/create 0640 $NOBODY $NOGROUP/" \
        "$R/etc/logrotate.d/bulwark" > "$TMP/logrotate.conf"
    out=$(logrotate -f -s "$TMP/logrotate.state" "$TMP/logrotate.conf" 2>&1); rc=$?
    expect_eq "logrotate: the snippet rotates the report log (rc $rc${out:+: $(last "$out")})" \
        "$(grep -c EICAR "$S/log/report.log.1" 2>/dev/null)" 1
    # the reload the HUP asked for has happened (new workers, new log file)
    reloaded() { "$R/usr/bin/bulwark" ctl -c "${ICONF:-$TCONF}" status 2>/dev/null | grep -q "^last reload: .* ok"; }
    wait_until 30 reloaded
    eicar_blocked "logrotate: the daemon serves after the postrotate SIGHUP"
    expect_eq "logrotate: the daemon writes the new report log after SIGHUP" \
        "$(grep -c EICAR "$S/log/report.log" 2>/dev/null)/$(grep -c EICAR "$S/log/report.log.1" 2>/dev/null)" "1/1"
else
    ok "logrotate # SKIP logrotate is not installed"
fi

out=$(initd reload 2>&1); rc=$?
sleep 0.5
expect_eq "init script: reload (SIGHUP) keeps the daemon ($(last "$out"))" "$rc:$(initd status >/dev/null 2>&1; echo $?)" "0:0"
out=$(initd reload-bases 2>&1); rc=$?
sleep 0.5
expect_eq "init script: reload-bases (SIGUSR1) keeps the daemon ($(last "$out"))" "$rc:$(initd status >/dev/null 2>&1; echo $?)" "0:0"
cp "$TCONF" "$TMP/good.conf"
echo "NoSuchKey = 1" >> "$TCONF"
out=$(initd reload 2>&1); rc=$?
expect_eq "init script: reload with a refused configuration is LSB 6, daemon kept" \
    "$rc:$(ICONF="$TMP/good.conf" initd status >/dev/null 2>&1; echo $?)" "6:0"
cp "$TMP/good.conf" "$TCONF"
out=$(initd stop 2>&1); rc=$?
expect_eq "init script: stop ($(last "$out"))" "$rc" 0
if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then notok "init script: the daemon is gone after stop"
else ok "init script: the daemon is gone after stop"; fi
out=$(initd status 2>&1); rc=$?
expect_eq "init script: status after stop is 3" "$rc" 3
echo "NoSuchKey = 1" >> "$TCONF"
out=$(initd start 2>&1); rc=$?
expect_eq "init script: start with a refused configuration is LSB 6" "$rc" 6
expect_match "init script: ... and shows bulwarkd's file:line message" "$out" "run.conf:[0-9]+: .*NoSuchKey"
out=$(initd frobnicate 2>&1); rc=$?
expect_eq "init script: an unknown verb is 2 with the usage" "$rc" 2

# ---- manual pages --------------------------------------------------------------------------
for m in man1/bulwark.1 man5/bulwark.conf.5 man8/bulwarkd.8 man8/bulwark-console.8 man8/bulwark-agent.8; do
    w=$( { groff -man -Tutf8 -ww -z "$R/usr/share/man/$m"; } 2>&1)
    w2=$( { man --warnings -l "$R/usr/share/man/$m" >/dev/null; } 2>&1)
    if [ -z "$w$w2" ]; then ok "man page $m renders without warnings (groff -ww, man --warnings)"
    else notok "man page $m renders without warnings (groff -ww, man --warnings)"; printf '%s\n%s\n' "$w" "$w2" | head -10 | sed 's/^/    /'; fi
done
# text PAGE: the rendered page as plain ASCII.
text() { groff -man -Tascii -P-cbou -rLL=250n "$1" 2>/dev/null; }
# Keys: the tag lines "Key (type)" under each "[section]" heading.
text "$R/usr/share/man/man5/bulwark.conf.5" |
    awk '/^   \[/ { s = $1 } /^       [A-Za-z0-9]+ \(/ { print s " " $1 }' | sort -u > "$TMP/keys.man"
"$R/usr/sbin/bulwarkd" --config-doc | awk '/^### \[/ { s = $2 } /^\| `/ { k = $2; gsub(/`/, "", k); print s " " k }' |
    sort -u > "$TMP/keys.doc"
missing=$(comm -23 "$TMP/keys.doc" "$TMP/keys.man" | paste -sd, -)
expect_eq "bulwark.conf.5 documents every key of bulwarkd --config-doc ($(wc -l < "$TMP/keys.doc") keys)" \
    "${missing:-none}" none
# Every long option in the programs' --help texts appears in their pages.
opts() { grep -oE -- '--[a-z][a-z-]+' | sort -u; }
page1=$(text "$R/usr/share/man/man1/bulwark.1")
text "$R/usr/share/man/man1/bulwark.1" | opts > "$TMP/opts1.man"
text "$R/usr/share/man/man8/bulwarkd.8" | opts > "$TMP/opts8.man"
for cmd in scan db update ctl quarantine; do "$R/usr/bin/bulwark" "$cmd" --help 2>&1; done | opts > "$TMP/opts1.help"
"$R/usr/sbin/bulwarkd" --help 2>&1 | opts > "$TMP/opts8.help"
undoc="$(comm -23 "$TMP/opts1.help" "$TMP/opts1.man" | sed 's/^/bulwark:/') $(comm -23 "$TMP/opts8.help" "$TMP/opts8.man" | sed 's/^/bulwarkd:/')"
undoc=$(echo $undoc)
expect_eq "bulwark.1 and bulwarkd.8 document every long option of the programs' --help ($(cat "$TMP"/opts?.help | wc -l))" \
    "${undoc:-none}" none
verbs=$("$R/usr/bin/bulwark" ctl --help 2>&1 | sed -n '/^Commands:/,/^$/p' | awk '/^  [a-z]/ { print $1 }')
undoc=""
for v in $verbs; do printf '%s\n' "$page1" | grep -qE "^ +$v( |$)" || undoc="$undoc $v"; done
expect_eq "bulwark.1 documents every bulwark ctl command ($(echo $verbs | wc -w))" "${undoc:-none}" none

# ---- the configuration is the administrator's --------------------------------------------
cp "$CONF" "$TMP/default.conf"
echo "; changed by the administrator" >> "$CONF"
out=$(mk install DESTDIR="$R" PREFIX=/usr 2>&1); rc=$?
tail -1 "$CONF" | grep -q "changed by the administrator"
check "install again: a changed bulwark.conf is kept (rc $rc)" test $? = 0
cmp -s "$TMP/default.conf" "$CONF.dist" || diff "$TMP/default.conf" "$CONF.dist" | head -5 | sed "s/^/    /"; cmp -s "$TMP/default.conf" "$CONF.dist"
check "install again: the new default is bulwark.conf.dist" test $? = 0

# ---- make uninstall -------------------------------------------------------------------------
out=$(mk uninstall DESTDIR="$R" PREFIX=/usr 2>&1); rc=$?
left=$(cd "$R" && find . -type f | sed 's|^\./||' | sort | paste -sd' ' -)
expect_eq "make uninstall removes every installed file but the changed bulwark.conf (rc $rc)" \
    "$left" "etc/bulwark/bulwark.conf"
cp "$TMP/default.conf" "$CONF"
out=$(mk uninstall DESTDIR="$R" PREFIX=/usr 2>&1); rc=$?
left=$(cd "$R" && find . -type f -o -type d -name '*bulwark*' | sort | paste -sd' ' -)
expect_eq "make uninstall: an unchanged bulwark.conf goes too, and every bulwark directory (rc $rc)" \
    "${left:-none}" none

# ---- make install without DESTDIR, PREFIX and the system directories moved -----------------
# (as a package manager would not: every path is a scratch one, and no user
# is created.)  The units then name programs that exist, so systemd-analyze
# verify checks them whole, manual pages (Documentation=) included.
X="$TMP/prefix"
vars=(PREFIX="$X/usr" SYSCONFDIR="$X/etc" LOCALSTATEDIR="$X/var" RUNSTATEDIR="$X/run" CREATE_USER=no)
out=$(mk install "${vars[@]}" 2>&1); rc=$?
expect_eq "make install PREFIX=... SYSCONFDIR=... LOCALSTATEDIR=... (no DESTDIR)" "$rc" 0
grep -q "^ExecStart=$X/usr/sbin/bulwarkd -c $X/etc/bulwark/bulwark.conf -f\$" "$X/usr/lib/systemd/system/bulwarkd.service" &&
    grep -q "^ReadWritePaths=$X/var/lib/bulwark $X/var/log/bulwark $X/run/bulwark\$" "$X/usr/lib/systemd/system/bulwarkd.service" &&
    grep -q "^BULWARKD=\${BULWARKD:-$X/usr/sbin/bulwarkd}\$" "$X/etc/init.d/bulwarkd"
check "the installed units and init script follow PREFIX, SYSCONFDIR, LOCALSTATEDIR, RUNSTATEDIR" test $? = 0
pc=$("$X/usr/sbin/bulwarkd" -c "$X/etc/bulwark/bulwark.conf" --print-config 2>&1)
expect_match "the installed bulwark.conf follows them too" "$pc" "BasesPath = $X/var/lib/bulwark/db"
if command -v systemd-analyze >/dev/null; then
    out=$(MANPATH="$X/usr/share/man" systemd-analyze verify "$X"/usr/lib/systemd/system/bulwark*.service \
        "$X"/usr/lib/systemd/system/bulwark*.timer 2>&1); rc=$?
    if [ $rc = 0 ] && [ -z "$out" ]; then ok "systemd-analyze verify: the units, no warning"
    else notok "systemd-analyze verify: the units, no warning (rc $rc)"; printf '%s\n' "$out" | head -20 | sed 's/^/    /'; fi
else
    ok "systemd-analyze verify # SKIP systemd-analyze is not installed (package systemd)"
fi
out=$(mk uninstall "${vars[@]}" 2>&1); rc=$?
left=$(cd "$X" && find . -type f | paste -sd' ' -)
expect_eq "make uninstall with the same variables leaves no file (rc $rc)" "${left:-none}" none

# ---- install refuses to run without a build ------------------------------------------------
out=$(make --no-print-directory -C "$ROOT" BUILD="tmp-no-such-build" install DESTDIR="$TMP/r2" 2>&1); rc=$?
if [ $rc != 0 ] && printf '%s' "$out" | grep -q "is missing: run 'make BUILD=tmp-no-such-build build' first" && [ ! -e "$TMP/r2" ]; then
    ok "make install without a build fails with its reason and installs nothing"
else notok "make install without a build fails with its reason and installs nothing"; printf '%s\n' "$out" | tail -5 | sed 's/^/    /'; fi
