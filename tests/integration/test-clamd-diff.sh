#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Byte-exact replies: the same commands go to Debian's real clamd and to
# bulwarkd's clamd protocol, both on the same tiny database, and every reply
# must be the same bytes.  Normalised before comparing, and only these:
#   - version strings ("ClamAV 1.4.6" / "ClamAV 1.0.0-Bulwark-0.1.0/0/date");
#   - the ".UNOFFICIAL" clamd appends to names from unsigned databases;
#   - descriptor numbers in "fd[N]", the figures of STATS and its lines for
#     clamd's idle threads (Bulwark's pool threads are libuv's, not listed);
#   - the order of replies that clamd itself does not fix (MULTISCAN, and
#     several scans in flight inside IDSESSION).
# Deliberate differences (documented in docs/clamd.md) are not sent: relative
# paths and ".." (refused by Bulwark), SHUTDOWN.
. "$(dirname "$0")/icap-lib.sh"
CLIENT="python3 $ROOT/tests/integration/clamd-client.py"
CLAMD=${CLAMD:-/usr/sbin/clamd}
if [ ! -x "$CLAMD" ]; then
    notok "clamd reply diff: $CLAMD is missing (scripts/install-deps.sh installs clamav-daemon)"
    exit 0
fi

# The database both accept: EICAR (body) and clam.exe (MD5).
mkdir -p "$TMP/db" "$TMP/tree/sub" "$TMP/tree/empty"
{
    echo "EICAR-Test-File:0:0:$EICAR_HEX"
    echo "ClamAV-Test-File-Body:1:*:5b434c414d41565d0010000000100000"
} >"$TMP/db/diff.ndb"
echo "aa15bcf478d165efd2065190eb473bcb:544:ClamAV-Test-File" >"$TMP/db/diff.hdb"
make_eicar "$TMP/tree/eicar.com"
cp /usr/share/clamav-testfiles/clam.exe "$TMP/tree/sub/clam.exe" 2>/dev/null ||
    make_eicar "$TMP/tree/sub/clam.exe"
echo "clean text" >"$TMP/tree/clean.txt"
: >"$TMP/tree/zero.txt"
ln -s "$TMP/tree" "$TMP/tree/sub/loop"
ln -s "$TMP/tree/eicar.com" "$TMP/tree/link.com"
chmod -R a+rX "$TMP"

# the real clamd
cat >"$TMP/clamd.conf" <<EOF
Foreground yes
LocalSocket $TMP/clamd.sock
DatabaseDirectory $TMP/db
TemporaryDirectory $TMP
LogFile $TMP/clamd.log
PidFile $TMP/clamd.pid
User root
CommandReadTimeout 1
ReadTimeout 2
StreamMaxLength 1M
SelfCheck 0
EOF
"$CLAMD" -c "$TMP/clamd.conf" >"$TMP/clamd.out" 2>&1 &
BG_PIDS="$BG_PIDS $!"

# bulwarkd, with the same limits
PORT=$(free_port)
bw_write_conf "$TMP/bw.conf" "$PORT" path.BasesPath="$TMP/db" \
    clamd.LocalSocket="$TMP/bw.sock" clamd.CommandReadTimeout=1s clamd.ReadTimeout=2s \
    clamd.StreamMaxLength=1M
bw_start "$TMP/bw.conf" "$TMP/bw.log" "$PORT" || exit 1

up=0
for _ in $(seq 1 300); do
    [ "$($CLIENT "$TMP/clamd.sock" ping 2>/dev/null)" = PONG ] && { up=1; break; }
    sleep 0.1
done
if [ "$up" != 1 ]; then
    notok "clamd reply diff: the real clamd did not start"; sed 's/^/#   /' "$TMP/clamd.out" | tail -5
    exit 0
fi

T=$TMP/tree
# One Python bytes expression per line, each sent on its own connection.
cat >"$TMP/cmds.txt" <<EOF
b'zPING\\0'
b'nPING\\n'
b'PING\\n'
b'PING'
b'nPING\\r\\n'
b'zVERSION\\0'
b'nVERSION\\n'
b'VERSION\\n'
b'zVERSIONCOMMANDS\\0'
b'nVERSIONCOMMANDS\\n'
b'VERSIONCOMMANDS\\n'
b'nFOO\\n'
b'FOO\\n'
b'nPINGX\\n'
b'nPING \\n'
b' PING\\n'
b'nping\\n'
b'nPI\\0NG\\n'
b'nSCAN\\n'
b'nEND\\n'
b'zDETSTATS\\0'
b'zDETSTATSCLEAR\\0'
b'zPING\\0zPING\\0'
b'zPING\\0garbage'
b'zSTATS\\0'
b'nSTATS\\n'
b'zINSTREAM\\0' + (68).to_bytes(4, 'big') + bytes.fromhex('$EICAR_HEX') + bytes(4)
b'nINSTREAM\\n' + (68).to_bytes(4, 'big') + bytes.fromhex('$EICAR_HEX') + bytes(4)
b'zINSTREAM\\0' + b''.join((1).to_bytes(4, 'big') + bytes([c]) for c in bytes.fromhex('$EICAR_HEX')) + bytes(4)
b'zINSTREAM\\0' + (5).to_bytes(4, 'big') + b'hello' + bytes(4)
b'zINSTREAM\\0' + bytes(4)
b'INSTREAM\\n' + bytes(4)
b'zINSTREAM\\0' + (2 << 20).to_bytes(4, 'big') + b'abc'
b'zINSTREAM\\0' + (600 << 10).to_bytes(4, 'big') + bytes(600 << 10) + (600 << 10).to_bytes(4, 'big') + b'x'
b'nINSTREAM\\n' + (1 << 20).to_bytes(4, 'big') + bytes(1 << 20) + bytes(4)
b'nPING'
b'zINSTREAM\\0' + (100).to_bytes(4, 'big') + b'abc'
b'nSCAN /' + b'a' * (1 << 20) + b'\\n'
b'nSCAN /' + b'a' * 4000 + b'\\n'
b'nFILDES\\n\\0'
b'zIDSESSION\\0zPING\\0zVERSION\\0zEND\\0'
b'zIDSESSION\\0zPING\\0zINSTREAM\\0' + (68).to_bytes(4, 'big') + bytes.fromhex('$EICAR_HEX') + bytes(4) + b'zEND\\0'
b'nIDSESSION\\nnINSTREAM\\n' + (68).to_bytes(4, 'big') + bytes.fromhex('$EICAR_HEX') + bytes(4) + b'nINSTREAM\\n' + (2).to_bytes(4, 'big') + b'ok' + bytes(4) + b'nEND\\n'
b'zIDSESSION\\0zSTATS\\0zEND\\0'
b'zIDSESSION\\0zVERSIONCOMMANDS\\0zEND\\0'
b'zIDSESSION\\0zSCAN /nonexistent\\0zPING\\0zEND\\0'
b'zIDSESSION\\0zSCAN $T/eicar.com\\0zEND\\0'
b'zIDSESSION\\0zEND\\0zPING\\0'
b'zIDSESSION\\0zIDSESSION\\0'
b'zIDSESSION\\0zCONTSCAN $T\\0'
b'zIDSESSION\\0zRELOAD\\0'
b'zIDSESSION\\0zFOO\\0'
b'nSCAN $T/eicar.com\\n'
b'SCAN $T/eicar.com\\n'
b'zSCAN $T/eicar.com\\0'
b'nSCAN $T/clean.txt\\n'
b'nSCAN $T/zero.txt\\n'
b'nSCAN $T/link.com\\n'
b'nSCAN $T\\n'
b'nSCAN $T/\\n'
b'nSCAN $T/sub//\\n'
b'nSCAN $T/sub/loop\\n'
b'nSCAN $T/empty\\n'
b'nSCAN $T/nonexistent\\n'
b'nSCAN /dev/null\\n'
b'nSCANX$T/eicar.com\\n'
b'nCONTSCAN $T\\n'
b'nCONTSCAN $T/sub\\n'
b'nCONTSCAN $T/clean.txt\\n'
b'nMULTISCAN $T\\n'
b'nMULTISCAN $T/eicar.com\\n'
b'nMULTISCAN $T/empty\\n'
b'nALLMATCHSCAN $T\\n'
b'nALLMATCHSCAN $T/sub/clam.exe\\n'
b'ALLMATCHSCAN $T\\n'
b'zRELOAD\\0'
EOF

$CLIENT "$TMP/clamd.sock" script "$TMP/cmds.txt" >"$TMP/clamd.replies" 2>"$TMP/clamd.err"
$CLIENT "$TMP/bw.sock" script "$TMP/cmds.txt" >"$TMP/bw.replies" 2>"$TMP/bw.err"

python3 - "$TMP/cmds.txt" "$TMP/clamd.replies" "$TMP/bw.replies" <<'EOF'
import re, sys
cmds = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
ref = open(sys.argv[2]).read().splitlines()
got = open(sys.argv[3]).read().splitlines()

def norm(cmd, line):
    s = re.sub(r"ClamAV [^|\\']+", "ClamAV <version>", line)
    s = s.replace(".UNOFFICIAL", "")
    s = re.sub(r"fd\[\d+\]", "fd[N]", s)
    if "STATS" in cmd and "VERSIONCOMMANDS" not in cmd:
        s = re.sub(r"MEMSTATS: [^\\]*", "MEMSTATS: ...", s)
        s = re.sub(r"\\tIDLE [0-9.]+ \\n", "", s)  # clamd's idle threads: its own state
        s = re.sub(r"\d+(\.\d+)?", "N", s)
    if "MULTISCAN" in cmd or "IDSESSION" in cmd:
        m = re.match(r"^b(['\"])(.*)\1 (<EOF>|<TIMEOUT>)$", s)
        if m:
            term = "\\x00" if "\\x00" in m.group(2) else "\\n"
            parts = [p for p in m.group(2).split(term) if p]
            s = "sorted:" + "|".join(sorted(parts)) + " " + m.group(3)
    return s

if len(ref) != len(cmds) or len(got) != len(cmds):
    print("not ok - clamd reply diff: %d commands, %d replies from clamd, %d from bulwarkd"
          % (len(cmds), len(ref), len(got)))
    sys.exit(0)
for c, a, b in zip(cmds, ref, got):
    name = c if len(c) < 70 else c[:67] + "..."
    na, nb = norm(c, a), norm(c, b)
    if na == nb:
        print("ok - clamd reply diff: %s" % name)
    else:
        print("not ok - clamd reply diff: %s" % name)
        print("    clamd:    %s" % a[:300])
        print("    bulwarkd: %s" % b[:300])
EOF

bw_log_clean "clamd reply diff" "$TMP/bw.log"
check "clamd reply diff: bulwarkd stops cleanly" bw_stop
