# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# The on-access peers, started the same way by tests/integration/test-agent-clamonacc.sh
# and bench/agent-bench.sh: Debian's clamd + clamonacc (prevention on) and
# bulwark-agent's quick start, each protecting one temporary tree with one
# database directory.
#
# Why it is set up this way (found on this machine, ClamAV 1.4.6, kernel 6.18):
# - clamonacc refuses to start unless one of OnAccessExcludeUID,
#   OnAccessExcludeUname or OnAccessExcludeRootUID is set (to keep clamd's own
#   reads from looping).  The tests run as root and must be blocked as root, so
#   clamd runs as the `clamav` user and that user is excluded; with --fdpass
#   clamd scans the descriptor clamonacc passes and opens nothing itself.
# - clamd as `clamav` cannot bind a socket in a root-owned temp dir: its
#   socket, pid file and temporary files live in a sub-directory owned by
#   clamav, and the database and tree must be readable by it.
# - OnAccessIncludePath marks only the given tree (clamonacc's inotify
#   "dynamic directory determination" adds its sub-directories), so a run never
#   marks anything outside its own temp dir; a killed clamonacc closes its
#   fanotify group and the kernel releases pending events.
# - Here /tmp and /work are on the root filesystem (one ext4), so a mount or
#   filesystem mark on a tree under them would cover the whole machine (the
#   issue asks the agent for such marks).  The tree is therefore its own
#   tmpfs, mounted inside the temp dir (onacc_mount_tree): whatever kind of
#   mark a protector uses, it covers only the tree.
# - The kernel here (6.18) accepts inode, mount and filesystem marks with
#   FAN_CLASS_CONTENT, FAN_OPEN_PERM, FAN_OPEN_EXEC_PERM, FAN_CLOSE_WRITE,
#   ignore marks (FAN_MARK_IGNORED_MASK and FAN_MARK_IGNORE|FAN_MARK_EVICTABLE
#   on files) on ext4 and tmpfs; it refuses FAN_REPORT_FID with
#   FAN_CLASS_CONTENT (EINVAL), as documented.
#
# Callers provide: TMP, BG_PIDS (killed by their EXIT trap) or their own
# cleanup; onacc_* functions return non-zero with a message on stderr.

ONACC_CLAMD=${CLAMD:-/usr/sbin/clamd}
ONACC_CLAMONACC=${CLAMONACC:-/usr/sbin/clamonacc}

# onacc_mount_tree DIR SIZE: DIR becomes a fresh tmpfs of SIZE (e.g. 64m).
# Fails (non-zero) when mounting is not allowed; callers then say so.
onacc_mount_tree() {
    mkdir -p "$1" && mount -t tmpfs -o "size=$2,mode=755" bw-onacc "$1"
}
# onacc_umount_tree DIR: unmounts it if it is a mount point (lazily if busy).
onacc_umount_tree() {
    mountpoint -q "$1" 2>/dev/null || return 0
    umount "$1" 2>/dev/null || umount -l "$1"
}

# onacc_probe FILE...: one line per file, "NAME read=R exec=E": R is "ok" or
# the errno name of open()+read(); E the errno name of execve() ("ok" when
# it ran), for files with the exec bit only ("-" otherwise).
onacc_probe() {
    python3 - "$@" <<'EOF'
import errno, os, sys
for p in sys.argv[1:]:
    r = "ok"
    try:
        with open(p, "rb") as f:
            while f.read(1 << 16):
                pass
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    x = "-"
    if os.access(p, os.X_OK):
        pid = os.fork()
        if pid == 0:
            try:
                os.execv(p, [p])
            except OSError as e:
                os._exit(100 + e.errno)
        _, st = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(st)
        x = errno.errorcode.get(code - 100, "exit%d" % code) if code >= 100 else "ok"
    print("%s read=%s exec=%s" % (os.path.basename(p), r, x))
EOF
}

# onacc_wait_blocked SECONDS FILE [PID]: until reading FILE fails with EPERM
# (the protection is in place: the condition itself, not a sleep); gives up
# at once when PID (the protector) has exited.
onacc_blocked() { onacc_probe "$1" | grep -q 'read=EPERM'; }
onacc_wait_blocked() {
    local end=$((SECONDS + $1))
    while ! onacc_blocked "$2"; do
        [ "$SECONDS" -ge "$end" ] && return 1
        if [ -n "${3:-}" ] && { ! kill -0 "$3" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$3/stat" 2>/dev/null)" = Z ]; }; then
            echo "onacc: the protector (pid $3) exited" >&2; return 1
        fi
        sleep 0.1
    done
}

# onacc_clamd_start DIR DBDIR TREE: writes DIR/clamd.conf and starts clamd
# (as clamav) on DIR/run/clamd.sock; prints its pid in ONACC_CLAMD_PID.
onacc_clamd_start() {
    local d=$1 db=$2 tree=$3
    id clamav >/dev/null 2>&1 || { echo "onacc: no clamav user (clamav-daemon is not installed)" >&2; return 1; }
    [ -x "$ONACC_CLAMD" ] && [ -x "$ONACC_CLAMONACC" ] ||
        { echo "onacc: $ONACC_CLAMD or $ONACC_CLAMONACC is missing (scripts/install-deps.sh installs clamav-daemon)" >&2; return 1; }
    mkdir -p "$d/run"
    chown clamav "$d/run"
    chmod a+rX "$d" "$db" "$db"/*
    cat >"$d/clamd.conf" <<EOF
Foreground yes
LocalSocket $d/run/clamd.sock
PidFile $d/run/clamd.pid
TemporaryDirectory $d/run
DatabaseDirectory $db
User clamav
SelfCheck 0
MaxThreads ${ONACC_CLAMD_THREADS:-$(nproc)}
OnAccessIncludePath $tree
OnAccessPrevention yes
OnAccessExcludeUname clamav
OnAccessMaxThreads ${ONACC_THREADS:-$(nproc)}
EOF
    "$ONACC_CLAMD" -c "$d/clamd.conf" >"$d/clamd.out" 2>&1 &
    ONACC_CLAMD_PID=$!
    BG_PIDS="${BG_PIDS:-} $ONACC_CLAMD_PID"
    local end=$((SECONDS + 60))
    until python3 "$ROOT/tests/integration/clamd-client.py" "$d/run/clamd.sock" ping 2>/dev/null | grep -q PONG; do
        if [ "$SECONDS" -ge "$end" ] || ! kill -0 "$ONACC_CLAMD_PID" 2>/dev/null; then
            echo "onacc: clamd did not start:" >&2; tail -5 "$d/clamd.out" >&2; return 1
        fi
        sleep 0.1
    done
}

# onacc_clamonacc_start DIR PROBE: starts clamonacc in the foreground with fd
# passing on DIR/clamd.conf and waits until PROBE (an EICAR file in the tree)
# is blocked.  Pid in ONACC_PID.
onacc_clamonacc_start() {
    local d=$1 probe=$2
    "$ONACC_CLAMONACC" -c "$d/clamd.conf" -F --fdpass -l "$d/clamonacc.log" >"$d/clamonacc.out" 2>&1 &
    ONACC_PID=$!
    BG_PIDS="${BG_PIDS:-} $ONACC_PID"
    if ! onacc_wait_blocked 60 "$probe" "$ONACC_PID"; then
        echo "onacc: clamonacc did not block $probe:" >&2; tail -5 "$d/clamonacc.out" >&2; return 1
    fi
}

# onacc_agent_start AGENT DIR TREE DBDIR PROBE: bulwark-agent's quick start
# (its control socket in DIR, not the default /run/bulwark/agent.sock)
# on TREE, until PROBE is blocked.  Pid in ONACC_AGENT_PID.
onacc_agent_start() {
    local agent=$1 d=$2 tree=$3 db=$4 probe=$5
    "$agent" --path "$tree" -d "$db" -f --socket "$d/agent.sock" >"$d/agent.out" 2>&1 &
    ONACC_AGENT_PID=$!
    BG_PIDS="${BG_PIDS:-} $ONACC_AGENT_PID"
    if ! onacc_wait_blocked 60 "$probe" "$ONACC_AGENT_PID"; then
        echo "onacc: bulwark-agent did not block $probe:" >&2; tail -5 "$d/agent.out" >&2; return 1
    fi
}

# onacc_stop PID: TERM, then KILL after 5 s; waits until it is gone (its
# fanotify group is closed with its last descriptor).
onacc_stop() {
    local p=$1 end=$((SECONDS + 5))
    [ -n "$p" ] || return 0
    kill -TERM "$p" 2>/dev/null
    # (a child we have not reaped yet stays a zombie: gone all the same)
    while kill -0 "$p" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]; do
        if [ "$SECONDS" -ge "$end" ]; then kill -KILL "$p" 2>/dev/null; fi
        sleep 0.05
    done
    wait "$p" 2>/dev/null
    return 0
}
