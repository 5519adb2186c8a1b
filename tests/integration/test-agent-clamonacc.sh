#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The real peer: Debian's clamonacc + clamd (prevention on) and bulwark-agent's
# quick start protect the same tree with the same database (db/test), one
# after the other, and must block and pass the same files the same way:
#   - EICAR read (top level, in a sub-directory, written after the start):
#     open()+read() fails with EPERM;
#   - EICAR with the exec bit: execve() fails with EPERM (without protection
#     it fails with ENOEXEC: it is not a program);
#   - clean files read with their content, a clean script runs;
#   - once the protector is stopped, the same EICAR reads again (its fanotify
#     group is gone; nothing stays marked).
# Everything lives in this test's temp dir, the tree on its own tmpfs there:
# only that tree is ever marked, whatever kind of mark a protector uses.
# Needs root (fanotify permission events).
. "$(dirname "$0")/icap-lib.sh"
. "$(dirname "$0")/onacc-lib.sh"
AGENT=${AGENT:-$ROOT/${BUILD:-build}/bulwark-agent}

if [ "$(id -u)" != 0 ]; then
    ok "agent vs clamonacc # SKIP needs root (fanotify permission events)"
    exit 0
fi

# Stop whatever is still running, unmount the tree, then the usual cleanup.
agent_test_cleanup() {
    onacc_stop "${ONACC_AGENT_PID:-}"
    onacc_stop "${ONACC_PID:-}"
    onacc_stop "${ONACC_CLAMD_PID:-}"
    onacc_umount_tree "$TMP/tree"
    icap_cleanup
}
trap agent_test_cleanup EXIT

T=$TMP/tree
if ! onacc_mount_tree "$T" 64m; then
    notok "agent vs clamonacc: cannot mount a tmpfs for the tree (a mount mark would cover the root filesystem)"
    exit 0
fi
mkdir -p "$TMP/db" "$T/sub"
cp "$TESTDB"/* "$TMP/db/"
make_eicar "$T/probe.com"
make_eicar "$T/eicar.com"
make_eicar "$T/sub/eicar.txt"
make_eicar "$T/eicar-exec"; chmod 755 "$T/eicar-exec"
printf 'clean text\n' >"$T/clean.txt"
head -c 100000 /dev/urandom >"$T/sub/clean.bin"
printf '#!/bin/sh\nexit 0\n' >"$T/clean.sh"; chmod 755 "$T/clean.sh"
chmod -R a+rX "$TMP"
FILES="$T/eicar.com $T/sub/eicar.txt $T/eicar-exec $T/clean.txt $T/sub/clean.bin $T/clean.sh"
WANT="eicar.com read=EPERM exec=-
eicar.txt read=EPERM exec=-
eicar-exec read=EPERM exec=EPERM
clean.txt read=ok exec=-
clean.bin read=ok exec=-
clean.sh read=ok exec=ok
new.com read=EPERM exec=-"
sum_before=$(cat "$T/clean.txt" "$T/sub/clean.bin" | sha256sum)

# baseline: nothing protects the tree
expect_eq "no protection: everything reads, EICAR-as-program fails with ENOEXEC" \
    "$(onacc_probe "$T/eicar.com" "$T/eicar-exec" "$T/clean.txt" | paste -sd' ')" \
    "eicar.com read=ok exec=- eicar-exec read=ok exec=ENOEXEC clean.txt read=ok exec=-"

# run_protected NAME: the probes while NAME protects the tree; the file
# written after the start is new.com (removed before the next protector).
run_protected() {
    rm -f "$T/new.com"
    make_eicar "$T/new.com"
    chmod a+r "$T/new.com"
    # shellcheck disable=SC2086
    onacc_probe $FILES "$T/new.com"
}

# ---- 1. clamonacc + clamd ----------------------------------------------------
CA=$TMP/clamav
mkdir -p "$CA"
if onacc_clamd_start "$CA" "$TMP/db" "$T" 2>"$TMP/ca.err" &&
   onacc_clamonacc_start "$CA" "$T/probe.com" 2>>"$TMP/ca.err"; then
    ok "clamonacc: started with prevention on the tree (probe EICAR blocked)"
    GOT_CA=$(run_protected)
    expect_eq "clamonacc: EICAR blocked with EPERM (read, sub-directory, exec, written after start), clean files pass" \
        "$GOT_CA" "$WANT"
    expect_eq "clamonacc: clean files read unchanged" \
        "$(cat "$T/clean.txt" "$T/sub/clean.bin" | sha256sum)" "$sum_before"
    onacc_stop "$ONACC_PID"
    expect_eq "clamonacc stopped: the tree is no longer marked (EICAR reads)" \
        "$(onacc_probe "$T/eicar.com")" "eicar.com read=ok exec=-"
else
    notok "clamonacc: started with prevention on the tree"; sed 's/^/#   /' "$TMP/ca.err"
    GOT_CA=""
fi
onacc_stop "${ONACC_PID:-}"
onacc_stop "${ONACC_CLAMD_PID:-}"

# ---- 2. bulwark-agent --------------------------------------------------------
if [ ! -x "$AGENT" ]; then
    ok "bulwark-agent vs clamonacc # SKIP $AGENT is not built"
    exit 0
fi
AG=$TMP/agent
mkdir -p "$AG"
if onacc_agent_start "$AGENT" "$AG" "$T" "$TMP/db" "$T/probe.com" 2>"$TMP/ag.err"; then
    ok "bulwark-agent: quick start protects the tree (probe EICAR blocked)"
    GOT_AG=$(run_protected)
    expect_eq "bulwark-agent: EICAR blocked with EPERM (read, sub-directory, exec, written after start), clean files pass" \
        "$GOT_AG" "$WANT"
    expect_eq "bulwark-agent: clean files read unchanged" \
        "$(cat "$T/clean.txt" "$T/sub/clean.bin" | sha256sum)" "$sum_before"
    if [ -n "$GOT_CA" ]; then
        expect_eq "bulwark-agent and clamonacc block and pass the same files the same way" "$GOT_AG" "$GOT_CA"
    fi
    onacc_stop "$ONACC_AGENT_PID"
    expect_eq "bulwark-agent stopped: the tree is no longer marked (EICAR reads)" \
        "$(onacc_probe "$T/eicar.com")" "eicar.com read=ok exec=-"
else
    notok "bulwark-agent: quick start protects the tree"; sed 's/^/#   /' "$TMP/ag.err"
fi
onacc_stop "${ONACC_AGENT_PID:-}"
