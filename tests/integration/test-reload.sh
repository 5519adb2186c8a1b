#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Hot reload under load: the ICAP load generator (bench/icap-load.c) runs at
# full speed for 30 seconds against bulwarkd while the configuration and the
# databases are reloaded every second, alternately through the control
# socket and through signals.  Every request must succeed (a kept-alive
# connection that a replaced worker closed while it was idle is retried once,
# as Squid does; those retries are counted and reported), every planted
# EICAR must be blocked, and the ISTag must change when the database does.
# Also: a reload with a broken configuration or database keeps the old one
# running and says why; peak memory during the reloads against steady state.
. "$(dirname "$0")/icap-lib.sh"

DURATION=${RELOAD_TEST_SECONDS:-30}
LOAD="$TMP/icap-load"
if ! make -s -C "$ROOT/bench" icap-load OUT="$TMP" >"$TMP/make.log" 2>&1; then
    notok "the load generator builds"; cat "$TMP/make.log"; exit 1
fi
mkdir -p "$TMP/db"
cp "$ROOT"/db/test/* "$TMP/db/"
port=$(free_port)
conf="$TMP/bulwark.conf"
bw_write_conf "$conf" "$port" "path.BasesPath=$TMP/db" "icapserver.process.MaxChildren=2" \
    "path.CacheDir=$TMP/cache"
CTL="$TMP/ctl-$port.sock"
B="$BULWARK"
bw_start "$conf" "$TMP/bw.log" "$port" || { notok "bulwarkd starts"; exit 1; }

istag() {
    python3 - "$port" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"OPTIONS icap://x/av/respmod ICAP/1.0\r\nHost: x\r\n\r\n")
d = b""
while b"\r\n\r\n" not in d:
    c = s.recv(4096)
    if not c: break
    d += c
for l in d.decode("latin-1").split("\r\n"):
    if l.lower().startswith("istag:"):
        print(l.split(":", 1)[1].strip())
EOF
}
tag0=$(istag)
make_eicar "$TMP/eicar"

# Steady state memory under load, before any reload.
"$LOAD" --port "$port" --service av/respmod --conns 4 --duration 3 --size 15k >/dev/null 2>&1 &
lp=$!
sleep 2
steady=$(bw_pss_total "$conf")
wait $lp

"$LOAD" --port "$port" --service av/respmod --conns 4 --duration "$DURATION" --size 15k \
    --marker-every 50 --marker-file "$TMP/eicar" --same-body --json >"$TMP/load.json" 2>"$TMP/load.err" &
lp=$!
# Memory is sampled by a loop of its own, so the reloads keep their pace.
( peak=0; while kill -0 "$lp" 2>/dev/null; do
      v=$(bw_pss_total "$conf"); [ "$v" -gt "$peak" ] && peak=$v && echo "$peak" >"$TMP/peak"
      sleep 0.1
  done ) &
sp=$!
reloads=0
failed_reloads=0
new_sig_added=0
start=$(date +%s)
while kill -0 "$lp" 2>/dev/null && [ $(( $(date +%s) - start )) -lt $((DURATION + 30)) ]; do
    i=$((reloads % 4))
    case $i in
        0) "$B" ctl -s "$CTL" reload >>"$TMP/ctl.log" 2>&1 || failed_reloads=$((failed_reloads + 1)) ;;
        1) "$B" ctl -s "$CTL" reload-bases >>"$TMP/ctl.log" 2>&1 || failed_reloads=$((failed_reloads + 1)) ;;
        2) kill -HUP "$BW_PID" ;;
        3) kill -USR1 "$BW_PID" ;;
    esac
    reloads=$((reloads + 1))
    if [ $new_sig_added = 0 ] && [ $(( $(date +%s) - start )) -ge $((DURATION / 2)) ]; then
        # A database update halfway: a new MD5 signature for a new object.
        echo "reload test object $$" >"$TMP/newobj"
        echo "$(md5sum <"$TMP/newobj" | cut -d' ' -f1):$(stat -c %s "$TMP/newobj"):Bulwark.Test.Reload" \
            >"$TMP/db/reload.hdb"
        new_sig_added=1
    fi
    sleep 1
done
wait "$lp"
wait "$sp"
peak=$(cat "$TMP/peak" 2>/dev/null || echo 0)
load_rc=$?
json=$(cat "$TMP/load.json")
echo "# load: $json"
echo "# reloads sent: $reloads; ctl failures: $failed_reloads"
grep -v '^$' "$TMP/load.err" | head -20 | sed 's/^/# load: /'
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$TMP/load.json" "$1"; }
reqs=$(field requests 2>/dev/null || echo 0)
errs=$(field errors 2>/dev/null || echo -1)
markers=$(field markers 2>/dev/null || echo 0)
blocked=$(field blocked 2>/dev/null || echo -1)
retried=$(field retried 2>/dev/null || echo 0)
check "the load generator ran $DURATION s with no failed request (rc $load_rc, $reqs requests, $errs errors, $retried retried on a fresh connection)" \
    test "$load_rc" = 0 -a "$errs" = 0 -a "$reqs" -gt 100
check "every planted EICAR was blocked during the reloads ($blocked of $markers)" \
    test "$markers" -gt 0 -a "$blocked" = "$markers"
check "every control-socket reload succeeded ($reloads reloads, half through signals)" \
    test "$failed_reloads" = 0 -a "$reloads" -ge $((DURATION / 2))
gens=$(grep -c "reloaded: generation" "$TMP/bw.log")
check "bulwarkd logged a new generation per reload ($gens for $reloads asked; signals may coalesce)" \
    test "$gens" -ge $((reloads / 2))
echo "# PSS steady under load ${steady} KiB, peak during reloads ${peak} KiB"
check "peak memory during reloads stays under 2x steady state (${peak} < 2 x ${steady} KiB)" \
    test "$steady" -gt 0 -a "$peak" -lt $((2 * steady))

# The database changed halfway: the ISTag changed, and the new signature works.
"$B" ctl -s "$CTL" reload-bases >/dev/null 2>&1
tag1=$(istag)
check "the ISTag changed with the database ($tag0 -> $tag1)" test -n "$tag1" -a "$tag0" != "$tag1"
"$LOAD" --port "$port" --service av/respmod --conns 1 --requests 1 --marker-every 1 \
    --marker-file "$TMP/newobj" --same-body --json >"$TMP/new.json" 2>&1
check "the signature added by the update blocks its object" \
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d['blocked']==1 else 1)" "$TMP/new.json"

# A broken configuration: the reload fails with file:line, the old one runs.
cp "$conf" "$TMP/good.conf"
printf '\n[icapserver.process]\nMaxChildren = lots\n' >>"$conf"
out=$("$B" ctl -s "$CTL" reload 2>&1); rc=$?
expect_match "a broken configuration is refused with file:line (rc $rc)" "$out" "bulwark.conf:[0-9]+: .*MaxChildren"
check "... and ctl reload exits 1" test "$rc" = 1
check "... and the old configuration keeps serving" icap_ping "$port"
st=$("$B" ctl -s "$CTL" status 2>&1)
expect_match "ctl status shows the failed reload and its reason" "$st" "last reload: .* FAILED: .*MaxChildren"
cp "$TMP/good.conf" "$conf"

# A broken database: refused, old engine stays, ISTag unchanged.
echo "this is not a signature" >"$TMP/db/broken.ndb"
out=$("$B" ctl -s "$CTL" reload-bases 2>&1); rc=$?
expect_match "a malformed database is refused with file:line (rc $rc)" "$out" "broken.ndb:1"
check "... the service still answers with the old ISTag" test "$(istag)" = "$tag1"
rm -f "$TMP/db/broken.ndb"
check "bulwarkd stops gracefully after the reload run" bw_stop
