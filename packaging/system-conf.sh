#!/bin/sh
# system-conf.sh SRC SYSCONFDIR DATADIR LOCALSTATEDIR RUNSTATEDIR
#
# Prints the bulwark.conf that `make install` installs: conf/bulwark.conf
# (the documented defaults, which the source tree runs with: relative paths,
# the bundled test database) with system paths in place of the tree's.  One
# source for both, so the installed file documents every key the same way.
#
# Only key lines of the base sections named below are rewritten (a key
# absent from SRC keeps the daemon's compiled-in default, which is already a
# system path), and values starting with /etc/bulwark, /var/lib/bulwark,
# /var/log/bulwark or /run/bulwark follow the installation directories;
# comments, group copies and every other key pass through.
# tests/integration/test-install.sh fails when the result still holds a
# relative path, so a new path key in conf/bulwark.conf shows up there.
set -eu
[ $# -eq 5 ] || { echo "usage: $0 SRC SYSCONFDIR DATADIR LOCALSTATEDIR RUNSTATEDIR" >&2; exit 2; }
src=$1 sysconfdir=$2 datadir=$3 localstatedir=$4 runstatedir=$5
[ -r "$src" ] || { echo "$0: cannot read $src" >&2; exit 1; }

awk -v sysconfdir="$sysconfdir" -v datadir="$datadir" \
    -v libdir="$localstatedir/lib/bulwark" -v logdir="$localstatedir/log/bulwark" \
    -v rundir="$runstatedir/bulwark" '
BEGIN {
    # section SUBSEP key (lower case) -> "Key = value"
    set["path", "basespath"] = "BasesPath = " libdir "/db"
    set["path", "cachedir"] = "CacheDir = " libdir "/cache"
    set["path", "pidfile"] = "PidFile = " rundir "/bulwarkd.pid"
    set["path", "controlsocket"] = "ControlSocket = " rundir "/bulwarkd.ctl"
    set["quarantine", "quarantinedir"] = "QuarantineDir = " libdir "/quarantine"
    set["icapserver.notify", "notifytemplatedir"] = "NotifyTemplateDir = " datadir "/bulwark/templates"
    set["icapserver.report", "reportfilename"] = "ReportFileName = " logdir "/report.log"
    set["icapserver.statistics", "counterstatisticsfile"] = "CounterStatisticsFile = " logdir "/counter.stats"
    note["path", "basespath"] = "; Filled by `bulwark update`.  To try Bulwark without updates, use the\n" \
        "; bundled test database (EICAR and its test modifications):\n" \
        "; BasesPath = " datadir "/bulwark/db-test"
}
NR == 1 {
    print
    print "; Installed by `make install`: conf/bulwark.conf with system paths."
    next
}
# The source tree'\''s remarks about its own test database.
/^[ \t]*;.*This default is/ {
    sub(/[ \t]*This default is.*$/, "")
    if ($0 !~ /^[ \t]*;[ \t]*$/) print
    next
}
/^[ \t]*;[ \t]*the bundled test database/ { next }
/^[ \t]*\[/ {
    sec = $0
    sub(/^[ \t]*\[[ \t]*/, "", sec); sub(/[ \t]*\].*$/, "", sec)
    sec = tolower(sec)
    print; next
}
/^[ \t]*[^;# \t][^=]*=/ {
    key = $0
    sub(/^[ \t]*/, "", key); sub(/[ \t]*=.*$/, "", key)
    k = tolower(key)
    if ((sec, k) in set) {
        if (!((sec, k) in done)) {      # a repeatable key: once
            if ((sec, k) in note) print note[sec, k]
            print set[sec, k]
            done[sec, k] = 1
        }
        next
    }
    # Other absolute system paths follow the installation directories.
    sub(/=[ \t]*\/etc\/bulwark/, "= " sysconfdir "/bulwark")
    sub(/=[ \t]*\/var\/lib\/bulwark/, "= " libdir)
    sub(/=[ \t]*\/var\/log\/bulwark/, "= " logdir)
    sub(/=[ \t]*\/run\/bulwark/, "= " rundir)
}
{ print }
' "$src"
