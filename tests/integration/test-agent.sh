#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bulwark-agent on the real kernel (fanotify permission events), as root.
# The protected tree is a tmpfs mounted for the test, so the agent's mount
# mark covers nothing but it.  Every access that could hang is run under
# `timeout`, and a hang shows as exit status 124.
. "$(dirname "$0")/lib.sh"
BUILD=${BUILD:-build}
AGENT=$ROOT/$BUILD/bulwark-agent
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
# The bundled test database, plus EICAR anywhere in a file (the bundled
# signature wants it at offset 0; the infected ELF carries it at its end).
DB=$TMP/db; mkdir -p "$DB"; cp "$TESTDB"/* "$DB"/
echo "Test.Agent-EICAR-Anywhere:0:*:$(printf '%s' "$EICAR" | od -An -v -tx1 | tr -d ' \n')" >"$DB/agent.ndb"

doc=$(sed -n '/<!-- generated below -->/,$p' "$ROOT/docs/agent-keys.md" | tail -n +2)
expect_eq "docs/agent-keys.md matches bulwark-agent --config-doc" "$doc" "$("$AGENT" --config-doc)"
if [ "$(id -u)" != 0 ]; then echo "ok - # SKIP bulwark-agent tests need root"; exit 0; fi
M=$TMP/mnt; mkdir -p "$M"
if mount -t tmpfs -o size=1g bw-agent-test "$M" 2>/dev/null; then
    trap 'stop_all; umount -l "$M" 2>/dev/null; rm -rf "$TMP"' EXIT
else
    echo "# no tmpfs mount: the mark covers the mount of $TMP"
    trap 'stop_all; rm -rf "$TMP"' EXIT
fi
PIDS=()
stop_all() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; }

# start_agent NAME CONF [env...]: starts the agent, waits for its socket.
start_agent() {
    local name=$1 conf=$2; shift 2
    env "$@" "$AGENT" -c "$conf" -f >"$TMP/$name.log" 2>&1 &
    PIDS+=($!)
    wait_until 60 "$AGENT" --status --socket "$TMP/$name.sock" >/dev/null 2>&1
}
status_of() { "$AGENT" --status --socket "$TMP/$1.sock" 2>/dev/null; }
counter() { status_of "$1" | sed -n "s/^$2: //p"; }

write_conf() { # NAME [extra lines]
    local name=$1; shift
    {
        echo "[agent]"; echo "Paths = $M"; echo "ControlSocket = $TMP/$name.sock"
        echo "Threads = 4"
        for l in "$@"; do echo "$l"; done
        echo "[scanner]"; echo "DatabaseDirectory = ${CONFDB:-$DB}"
        echo "[events]"; echo "Enable = yes"; echo "SpoolDirectory = $TMP/spool-$name"
    } >"$TMP/$name.conf"
}

# ---- phase 1: block ----------------------------------------------------------
write_conf a "QuarantineDirectory = $TMP/quar-a" "ExcludePath = $M/excluded" "ExcludeExtension = skip"
check "config test (-t)" bash -c "\"$AGENT\" -c \"$TMP/a.conf\" -t >/dev/null"
if ! start_agent a "$TMP/a.conf"; then
    notok "agent starts"; cat "$TMP/a.log"; exit 0
fi
ok "agent starts and answers status"
expect_match "bulwark ctl --socket PATH status reads the agent's counters" \
    "$("$ROOT/$BUILD/bulwark" ctl --socket "$TMP/a.sock" status 2>&1)" "deadline misses: 0"

printf '%s' "$EICAR" >"$M/eicar.com"
out=$(timeout 20 cat "$M/eicar.com" 2>&1); rc=$?
expect_match "cat of EICAR fails with EPERM" "$rc $out" "^1 .*Operation not permitted"
wait_until 20 grep -rqs '"detection"' "$TMP/spool-a"
check "detection event recorded in the event spool" grep -rqs 'EICAR' "$TMP/spool-a"
expect_match "report line on stderr" "$(cat "$TMP/a.log")" "eicar.com: INFECTED"

echo hello >"$M/clean.txt"
expect_eq "clean file opens" "$(timeout 20 cat "$M/clean.txt")" "hello"
expect_eq "clean file opens again (cached)" "$(timeout 20 cat "$M/clean.txt")" "hello"

cp /bin/true "$M/true-clean"
check "clean ELF runs" timeout 20 "$M/true-clean"
cp /bin/true "$M/true-bad"; printf '%s' "$EICAR" >>"$M/true-bad"; chmod +x "$M/true-bad"
out=$(timeout 20 "$M/true-bad" 2>&1); rc=$?
expect_match "execve of an infected ELF fails" "$rc $out" "^(126|1) .*(Permission denied|Operation not permitted)"

mkdir -p "$M/excluded"; printf '%s' "$EICAR" >"$M/excluded/e.com"; printf '%s' "$EICAR" >"$M/e.skip"
expect_eq "ExcludePath: not scanned" "$(timeout 20 cat "$M/excluded/e.com")" "$EICAR"
expect_eq "ExcludeExtension: not scanned" "$(timeout 20 cat "$M/e.skip")" "$EICAR"

echo modified >>"$M/clean.txt"; printf '%s' "$EICAR" >"$M/clean.txt"
out=$(timeout 20 cat "$M/clean.txt" 2>&1); rc=$?
expect_match "a clean file rewritten to EICAR is blocked (ignore mark cleared)" "$rc $out" "Operation not permitted"

# A copy of (part of) /usr/lib: prevention on a real tree completes.
mkdir -p "$M/usrlib"
(cd /usr/lib && find . -type f -size -2M 2>/dev/null | head -3000 | tar -cf - -T - 2>/dev/null) |
    tar -xf - -C "$M/usrlib" 2>/dev/null
n=$(find "$M/usrlib" -type f | wc -l)
timeout 600 find "$M/usrlib" -type f -exec cat {} + >/dev/null 2>&1; rc=$?
check "find -exec cat over a /usr/lib copy ($n files) completes" test "$rc" != 124
timeout 600 find "$M/usrlib" -type f -exec cat {} + >/dev/null 2>&1; rc=$?
check "second pass over the tree completes" test "$rc" != 124
hits=$(counter a "cache hits"); marks=$(counter a "ignore marks")
check "clean files got ignore marks ($marks)" test "${marks:-0}" -gt 100
echo "# status after the tree: $(status_of a | tr '\n' ' ')"
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null
expect_eq "after the agent stops, the EICAR file opens unchecked" "$(timeout 20 cat "$M/eicar.com")" "$EICAR"

# ---- phase 2: quarantine by the agent itself, drop folder, SIGKILL + respawn ---
mkdir -p "$TMP/drop"
write_conf b "Action = INFECTED block,quarantine" "QuarantineDirectory = $M/quarantine" \
    "[drop]" "Directories = $TMP/drop" "RecordClean = yes"
"$AGENT" -c "$TMP/b.conf" --respawn -f >"$TMP/b.log" 2>&1 &
PIDS+=($!)
if ! wait_until 60 "$AGENT" --status --socket "$TMP/b.sock" >/dev/null 2>&1; then
    notok "agent b starts"; cat "$TMP/b.log"; exit 0
fi
printf '%s' "$EICAR" >"$M/q.com"
wait_until 30 test ! -e "$M/q.com"
check "infected file moved to a quarantine inside the protected tree (no deadlock)" \
    bash -c "ls '$M/quarantine'/*.bwq >/dev/null 2>&1"
expect_eq "the agent still answers after its own quarantine writes" "$(timeout 20 cat "$M/usrlib/$(cd "$M/usrlib" && find . -type f | head -1)" >/dev/null 2>&1; echo $?)" "0"

python3 - "$TMP/z.zip" "$EICAR" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z: z.writestr("inner/eicar.com", sys.argv[2])
PY
before=$(ls "$M/quarantine"/*.bwq 2>/dev/null | wc -l)
cp "$TMP/z.zip" "$TMP/drop/upload.zip"
wait_until 30 test ! -e "$TMP/drop/upload.zip"
after=$(ls "$M/quarantine"/*.bwq 2>/dev/null | wc -l)
check "drop folder: EICAR inside a zip ends in the quarantine" test "$after" -gt "$before" -a ! -e "$TMP/drop/upload.zip"

echo "a clean upload" >"$TMP/drop/clean.txt"
wait_until 30 test -e "$TMP/drop/clean.txt.bwverdict"
expect_match "drop folder: a clean file stays, with its verdict record (RecordClean)" \
    "$(cat "$TMP/drop/clean.txt.bwverdict" 2>&1; ls "$TMP/drop")" "status: CLEAN"
pid1=$(status_of b | sed -n 's/.* pid \([0-9]*\) .*/\1/p')
( timeout 300 find "$M/usrlib" -type f -exec cat {} + >/dev/null 2>&1; echo $? >"$TMP/load.rc" ) &
loadpid=$!
wait_until 30 test "$(counter b events)" -gt 0
kill -9 "$pid1"
wait "$loadpid"
check "SIGKILL of the agent during load: no open hangs" test "$(cat "$TMP/load.rc")" != 124
wait_until 60 bash -c "p=\$('$AGENT' --status --socket '$TMP/b.sock' 2>/dev/null | sed -n 's/.* pid \([0-9]*\) .*/\1/p'); [ -n \"\$p\" ] && [ \"\$p\" != '$pid1' ]"
pid2=$(status_of b | sed -n 's/.* pid \([0-9]*\) .*/\1/p')
[ -n "$pid2" ] && PIDS+=("$pid2")
check "the supervisor restarted the agent ($pid1 -> $pid2)" test -n "$pid2" -a "$pid2" != "$pid1"
printf '%s' "$EICAR" >"$TMP/e2"; cp "$TMP/e2" "$M/after-restart.com"
wait_until 30 test ! -e "$M/after-restart.com"
check "the restarted agent protects again" test ! -e "$M/after-restart.com"
stop_all; PIDS=()

# ---- phase 3: the Deadline with a slow engine -------------------------------
echo slow >"$M/slow.txt"
write_conf c "Deadline = 300ms" "FailMode = closed" "Events = open"
start_agent c "$TMP/c.conf" BW_AGENT_TEST_SCAN_DELAY_MS=8000 || { notok "agent c starts"; cat "$TMP/c.log"; }
out=$(timeout 6 cat "$M/slow.txt" 2>&1); rc=$?
expect_match "slow scan, FailMode closed: denied by the deadline (not after the scan)" "$rc $out" "^1 .*Operation not permitted"
check "deadline miss counted" test "$(counter c 'deadline misses')" -ge 1
stop_all; PIDS=()
write_conf d "Deadline = 300ms" "FailMode = open" "Events = open"
echo slow2 >"$M/slow2.txt"
start_agent d "$TMP/d.conf" BW_AGENT_TEST_SCAN_DELAY_MS=8000 || { notok "agent d starts"; cat "$TMP/d.log"; }
out=$(timeout 6 cat "$M/slow2.txt" 2>&1); rc=$?
expect_eq "slow scan, FailMode open: allowed by the deadline" "$rc $out" "0 slow2"

# ---- phase 4: the quick start (no configuration file) -------------------------
stop_all; PIDS=()
mkdir -p "$M/qs"; printf '%s' "$EICAR" >"$M/qs/e.com"; echo fine >"$M/qs/fine.txt"
"$AGENT" --path "$M/qs" -d "$DB" -f --socket "$TMP/qs.sock" --quarantine "$TMP/quar-qs" >"$TMP/qs.log" 2>&1 &
PIDS+=($!)
if wait_until 60 "$AGENT" --status --socket "$TMP/qs.sock" >/dev/null 2>&1; then
    out=$(timeout 20 cat "$M/qs/e.com" 2>&1)
    expect_match "quick start --path DIR -d DB -f: EICAR blocked" "$out" "Operation not permitted"
    expect_eq "quick start: a clean file opens" "$(timeout 20 cat "$M/qs/fine.txt")" "fine"
    expect_eq "quick start: outside --path nothing is checked" "$(timeout 20 cat "$M/eicar.com")" "$EICAR"
else notok "quick start starts"; cat "$TMP/qs.log"; fi
stop_all; PIDS=()

# ---- phase 5: cure (the EICAR CURE- test modification) ------------------------
# (the bundled database only: its CURE- signature, not EICAR-anywhere)
CONFDB=$TESTDB write_conf e "Action = CURED cure" "IgnoreMarks = no"
start_agent e "$TMP/e.conf" || { notok "agent e starts"; cat "$TMP/e.log"; }
printf 'CURE-%s' "$EICAR" >"$M/cure.com"
wait_until 30 test "$(counter e cured)" -ge 1
check "CURE- file cured by the agent" test "$(counter e cured)" -ge 1
got=$(timeout 20 cat "$M/cure.com" 2>&1); rc=$?
check "the cured file opens and no longer holds the EICAR string ($rc)" \
    bash -c "[ $rc = 0 ] && ! grep -qF 'EICAR-STANDARD' '$M/cure.com'"
expect_match "cure reported" "$(cat "$TMP/e.log")" "cure.com: CURED .*cure"
echo again >"$M/nomark.txt"; timeout 20 cat "$M/nomark.txt" >/dev/null; timeout 20 cat "$M/nomark.txt" >/dev/null
check "IgnoreMarks = no: no ignore mark, repeated opens are cache hits" \
    test "$(counter e 'ignore marks')" = 0 -a "$(counter e 'cache hits')" -ge 2
stop_all; PIDS=()

# ---- phase 6: concurrent opens of one file wait for one scan -----------------
echo shared >"$M/shared.txt"
write_conf f "Deadline = 20s" "Events = open"
start_agent f "$TMP/f.conf" BW_AGENT_TEST_SCAN_DELAY_MS=3000 || { notok "agent f starts"; cat "$TMP/f.log"; }
for i in 1 2 3 4 5; do (timeout 30 cat "$M/shared.txt" >"$TMP/shared.$i" 2>&1) & done
wait_until 40 test "$(cat "$TMP"/shared.? 2>/dev/null | grep -c shared)" = 5
expect_eq "five concurrent opens all succeed" "$(cat "$TMP"/shared.? | grep -c shared)" 5
check "... with one scan for the five events ($(status_of f | grep -E '^(permission events|scans|cache hits):' | tr '\n' ' '))" \
    test "$(counter f scans)" = 1 -a "$(counter f 'permission events')" = 5 -a "$(counter f 'cache hits')" = 0
stop_all; PIDS=()

# Under SAN the agents' reports go to their logs: any is a failure.
if grep -lE "AddressSanitizer|LeakSanitizer|runtime error:" "$TMP"/*.log >/dev/null 2>&1; then
    notok "no sanitizer report in the agents' logs"; grep -hE -A20 "Sanitizer|runtime error:" "$TMP"/*.log | head -60
else ok "no sanitizer report in the agents' logs"; fi
