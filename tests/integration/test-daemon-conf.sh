#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# bulwarkd's configuration handling: the shipped config loads, bad values
# stop the start with file:line: key, and the key reference is in sync.
. "$(dirname "$0")/lib.sh"
BWD=${BULWARKD:-$(dirname "$BULWARK")/bulwarkd}

out=$("$BWD" -c "$ROOT/conf/bulwark.conf" --print-config 2>&1)
check "shipped conf/bulwark.conf loads" test $? = 0
expect_match "print-config shows the listener" "$out" "ListenAddress = 127.0.0.1:1344"

gen=$("$BWD" --config-doc)
doc=$(sed -n '/<!-- generated below -->/,$p' "$ROOT/docs/bulwarkd-keys.md" | tail -n +2)
expect_eq "docs/bulwarkd-keys.md matches bulwarkd --config-doc" "$doc" "$gen"

printf '[icapserver.protocol]\nPreviewSize = 4096\nAllow204 = maybe\n' > "$TMP/bad1.conf"; bw_own_paths "$TMP/bad1.conf"
out=$("$BWD" -c "$TMP/bad1.conf" -f 2>&1); rc=$?
expect_eq "bad boolean exits 2" "$rc" 2
expect_match "bad boolean names file:line: key" "$out" "bad1.conf:3: Allow204: "

printf '[icapserver.protocol]\nNoSuchKey = 1\n' > "$TMP/bad2.conf"; bw_own_paths "$TMP/bad2.conf"
out=$("$BWD" -c "$TMP/bad2.conf" -f 2>&1); rc=$?
expect_eq "unknown key exits 2" "$rc" 2
expect_match "unknown key names file:line" "$out" "bad2.conf:2: .*NoSuchKey.*unknown key"

printf '[icapserver.actions]\nInfectedAction = explode\n' > "$TMP/bad3.conf"; bw_own_paths "$TMP/bad3.conf"
out=$("$BWD" -c "$TMP/bad3.conf" -f 2>&1); rc=$?
expect_match "bad action word is refused with its line" "$out" "bad3.conf:2: InfectedAction: "

# (its own port: the default 127.0.0.1:1344 may be a running bulwarkd's)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '[path]\nBasesPath = %s/nodb\n[icapserver.network]\nListenAddress = 127.0.0.1:%s\n' "$TMP" "$port" > "$TMP/bad4.conf"; bw_own_paths "$TMP/bad4.conf"
out=$("$BWD" -c "$TMP/bad4.conf" -f 2>&1); rc=$?
expect_eq "missing database exits 2" "$rc" 2
expect_match "missing database is named" "$out" "nodb"

printf '[path]\nBasesPath = %s\n[icapserver.network]\nListenAddress = 256.1.1.1:1344\n' "$ROOT/db/test" > "$TMP/bad5.conf"; bw_own_paths "$TMP/bad5.conf"
out=$("$BWD" -c "$TMP/bad5.conf" -f 2>&1); rc=$?
expect_eq "unusable listen address exits 2" "$rc" 2
expect_match "unusable listen address is named" "$out" "ListenAddress 256.1.1.1:1344"

# Several ListenAddress entries, IPv6 included: each answers OPTIONS.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
    printf '[path]\nBasesPath = %s\n[icapserver.network]\nListenAddress = 127.0.0.1:%s\nListenAddress = [::1]:%s\n[icapserver.process]\nMaxChildren = 1\n' \
        "$ROOT/db/test" "$port" "$port" > "$TMP/v6.conf"; bw_own_paths "$TMP/v6.conf"
    "$BWD" -c "$TMP/v6.conf" -f > "$TMP/v6.log" 2>&1 &
    pid=$!
    answers=$(python3 - "$port" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
out = []
for host in ("127.0.0.1", "::1"):
    for _ in range(100):
        try:
            s = socket.create_connection((host, port), timeout=2)
            break
        except OSError:
            time.sleep(0.05)
    s.sendall(b"OPTIONS icap://x/avscan ICAP/1.0\r\nHost: x\r\n\r\n")
    out.append(s.recv(64).split(b"\r\n")[0].decode())
    s.close()
print("|".join(out))
PY
)
    expect_eq "IPv4 and IPv6 listeners both answer OPTIONS" "$answers" "ICAP/1.0 200 OK|ICAP/1.0 200 OK"
    kill -TERM $pid; wait $pid; rc=$?
    expect_eq "bulwarkd exits 0 on SIGTERM" "$rc" 0
else
    ok "IPv4 and IPv6 listeners both answer OPTIONS # SKIP no IPv6 loopback on this machine"
fi

# A worker that dies is logged with its signal and replaced; SIGHUP reopens
# the report log (logrotate moves the file, then signals).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '[path]\nBasesPath = %s\n[icapserver.network]\nListenAddress = 127.0.0.1:%s\n[icapserver.process]\nMaxChildren = 1\n[icapserver.report]\nReportFileName = %s/report.log\n' \
    "$ROOT/db/test" "$port" "$TMP" > "$TMP/sup.conf"; bw_own_paths "$TMP/sup.conf"
"$BWD" -c "$TMP/sup.conf" -f > "$TMP/sup.log" 2>&1 &
sup=$!
eicar_req() {
    python3 - "$port" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
body = b'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
req = b"GET http://origin.test/e.com HTTP/1.1\r\nHost: origin.test\r\n\r\n"
res = b"HTTP/1.1 200 OK\r\nContent-Length: 68\r\n\r\n"
msg = (b"RESPMOD icap://x/av/respmod ICAP/1.0\r\nHost: x\r\nAllow: 204\r\n"
       b"Encapsulated: req-hdr=0, res-hdr=%d, res-body=%d\r\n\r\n" % (len(req), len(req) + len(res))
       + req + res + b"44\r\n" + body + b"\r\n0\r\n\r\n")
for _ in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        break
    except OSError:
        time.sleep(0.05)
s.sendall(msg)
print(s.recv(40).split(b"\r\n")[0].decode())
PY
}
expect_eq "supervised worker answers" "$(eicar_req)" "ICAP/1.0 200 OK"
worker=$(pgrep -P "$sup" | head -1)
kill -KILL "$worker"
# the replacement is a new child of the supervisor
replaced() { pgrep -P "$sup" | grep -qvx "$worker"; }
wait_until 20 replaced
expect_match "a killed worker is logged with its signal" "$(cat "$TMP/sup.log")" "worker 0 \(pid $worker\) killed by signal 9"
expect_eq "the replacement worker answers" "$(eicar_req)" "ICAP/1.0 200 OK"
mv "$TMP/report.log" "$TMP/report.log.1"
kill -HUP "$sup"
# The workers reopen the file when they get SIGHUP: send requests until one
# lands in the new file (each one after the reopen does).
reopened() { eicar_req >/dev/null; grep -q "EICAR-Test-File" "$TMP/report.log" 2>/dev/null; }
check "SIGHUP reopens the report log (a new file gets the next line)" wait_until 20 reopened
kill -TERM "$sup"; wait "$sup"; rc=$?
expect_eq "bulwarkd exits 0 on SIGTERM after a restart" "$rc" 0

# A fresh machine has no /run/bulwark: the shipped configuration (as `make
# run` starts it) creates the directory for PidFile and ControlSocket, and
# the first screen has no warning.  (Here /run/bulwark is $TMP/fresh/bulwark.)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$TMP/fresh"
sed -e "s|/run/bulwark|$TMP/fresh/bulwark|g" -e "s|^ListenAddress = .*|ListenAddress = 127.0.0.1:$port|" \
    -e "s|^BasesPath = .*|BasesPath = $ROOT/db/test|" "$ROOT/conf/bulwark.conf" >"$TMP/fresh.conf"
"$BWD" -c "$TMP/fresh.conf" -f >"$TMP/fresh.log" 2>&1 &
fresh=$!
started() { grep -q "worker(s) started" "$TMP/fresh.log"; }
wait_until 20 started
expect_eq "fresh machine: the PidFile's directory is created and the pid file names the supervisor" \
    "$(cat "$TMP/fresh/bulwark/bulwarkd.pid" 2>/dev/null)" "$fresh"
if grep -qE "warning|error" "$TMP/fresh.log"; then
    notok "fresh machine: the first screen has no warning or error"; sed 's/^/    /' "$TMP/fresh.log"
else ok "fresh machine: the first screen has no warning or error"; fi
kill -TERM "$fresh"; wait "$fresh"; rc=$?
expect_eq "fresh machine: bulwarkd exits 0 on SIGTERM and removes its pid file" \
    "$rc:$(test -e "$TMP/fresh/bulwark/bulwarkd.pid" && echo left)" "0:"
