#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A node linked to a real bulwark-console over HTTPS (test CA): enrolment with
# a one-time token, detections through ICAP (c-icap-client) reaching the
# console, `bulwark events --follow`, tasks (reload, quarantine.restore and
# .delete of an object quarantined through ICAP, unblock failing with the
# reason), a policy that changes the node's answer, a bad policy reported
# while the node keeps serving, and a revoked node refused while it keeps its
# spool.  docs/console-nodes.md.
. "$(dirname "$0")/console-lib.sh"

for need in "$CONSOLE" "$BULWARKD" "$BULWARK"; do
    [ -x "$need" ] || { notok "link: $need is built"; exit 1; }
done
command -v c-icap-client >/dev/null || { notok "link: c-icap-client is installed"; exit 1; }

console_ca || { notok "link: test CA made with openssl"; exit 1; }
console_start "$(free_port)" || { notok "link: bulwark-console starts with TLS"; exit 1; }
console_login || { notok "link: admin signs in"; exit 1; }
TOKEN=$(enroll_token default)
check "link: the console makes an enrolment token" test -n "$TOKEN"

P=$(free_port)
Q=$TMP/quarantine
mkdir -m 700 "$Q"
# its own copy of the test database: the update task's `bulwark update` makes
# BASES.d/.lock beside it, which must not land in the source tree
cp -r "$TESTDB" "$TMP/db"
bw_write_conf "$TMP/node.conf" "$P" \
    "path.BasesPath=$TMP/db" \
    "icapserver.actions.InfectedAction=quarantine" \
    "quarantine.QuarantineDir=$Q" \
    "events.NodeName=node-$P" \
    "events.SpoolDirectory=$TMP/spool" \
    "console.Url=$CURL_URL" \
    "console.CAFile=$CA" \
    "console.EnrollToken=$TOKEN" \
    "console.CredentialFile=$TMP/node.cred" \
    "console.PollInterval=1s" \
    "console.MaxRetryInterval=2s" \
    "console.PolicyFile=$TMP/policy.conf" \
    "console.RestoreDirectory=$TMP/restored"
bw_start "$TMP/node.conf" "$TMP/bulwarkd.log" "$P" || { notok "link: bulwarkd starts"; exit 1; }

# --- enrolment ----------------------------------------------------------------
check "link: the node enrols with the token (CredentialFile written)" \
    wait_until 30 test -s "$TMP/node.cred"
expect_eq "link: CredentialFile is mode 0600" "$(stat -c %a "$TMP/node.cred" 2>/dev/null)" 600
NODE_ID=$(jq -r '.node_id' "$TMP/node.cred" 2>/dev/null)
check "link: the credential names the node's id" test -n "$NODE_ID"
# The same token a second time: refused (a copy of the config with its own
# CredentialFile, so the node's is not touched).
sed "s|^CredentialFile = .*|CredentialFile = $TMP/second.cred|" "$TMP/node.conf" >"$TMP/second.conf"
out=$("$BULWARK" console enroll -c "$TMP/second.conf" --url "$CURL_URL" --ca "$CA" \
    --token "$TOKEN" --name second 2>&1); rc=$?
expect_eq "link: a second use of the token fails (exit 2)" "$rc" 2
expect_match "link: ... with the console's refusal" "$out" "enrolment refused by .*HTTP 4[0-9][0-9]"
check "link: ... and writes no credential" test ! -e "$TMP/second.cred"

# --- a detection through ICAP reaches the console --------------------------------
make_eicar "$TMP/eicar.com"
cic() { timeout 20 c-icap-client -i 127.0.0.1 -p "$P" -s av/respmod -v "$@" >"$TMP/cic.txt" 2>&1; }
cic -f "$TMP/eicar.com" -resp "http://link-test.example/eicar.com"
expect_match "link: EICAR through ICAP is blocked (quarantine)" "$(cat "$TMP/cic.txt")" "ICAP/1.0 200"
has_detection() {
    [ "$(api GET "/api/v1/events?type=detection&node=node-$P" | jq '.events | length')" -ge 1 ]
}
check "link: the detection reaches the console (GET /api/v1/events)" wait_until 30 has_detection
ev=$(api GET "/api/v1/events?type=detection&node=node-$P" | jq -c '.events[0]')
expect_match "link: ... with the threat and URL" "$ev" '"threats":\["EICAR-Test-File"\].*"url":"http://link-test\.example/eicar\.com"'

# --- bulwark events --follow ---------------------------------------------------
: >"$TMP/follow.txt"
"$BULWARK" events --console "$CURL_URL" --ca "$CA" --token "$ADMIN_TOKEN" --follow \
    --node "node-$P" --type detection >"$TMP/follow.txt" 2>&1 &
FPID=$!
BG_PIDS="$BG_PIDS $FPID"
check "link: bulwark events --follow prints the detection" \
    wait_until 20 grep -q "node-$P icap detection high verdict=INFECTED action=quarantine threat=EICAR-Test-File url=http://link-test.example/eicar.com" "$TMP/follow.txt"
cic -f "$TMP/eicar.com" -resp "http://link-test.example/second-$(date +%s%N)"
check "link: ... and a new one as it arrives" \
    wait_until 30 grep -q "url=http://link-test.example/second-" "$TMP/follow.txt"
kill "$FPID" 2>/dev/null
out=$("$BULWARK" events --console "$CURL_URL" --ca "$CA" --token "$ADMIN_TOKEN" --json \
    --node "node-$P" --type detection --since 1h)
expect_match "link: bulwark events --json prints JSON lines" "$(printf '%s\n' "$out" | head -1)" '^\{"id":"[0-9a-f]{32}"|^\{.*"id":"[0-9a-f]{32}"'

# A threat name and URL with control bytes (an event written into the spool
# as a dead writer's segment would hold it): printed escaped, never raw.
python3 - "$TMP/spool/seg-999999-1.jsonl" "node-$P" <<'PY'
import json, sys
ev = {"id": "%032x" % 0xe5c0de, "time": "2026-12-08T02:00:00.000000Z", "node": sys.argv[2],
      "component": "icap", "type": "detection", "severity": "high", "verdict": "INFECTED",
      "threats": ["Evil\x1b]0;pwned\x07Name"], "object": {"url": "http://x.example/\x1b[31mred\r\nfake"}}
open(sys.argv[1], "w").write(json.dumps(ev) + "\n")
PY
escaped() {
    "$BULWARK" events --console "$CURL_URL" --ca "$CA" --token "$ADMIN_TOKEN" --node "node-$P" \
        --type detection --limit 1000 >"$TMP/esc.txt" 2>&1 && grep -q 'Evil' "$TMP/esc.txt"
}
check "link: an event with control bytes reaches the console" wait_until 30 escaped
check "link: bulwark events prints its threat name escaped" \
    grep -qF 'threat=Evil\x1B]0;pwned\x07Name' "$TMP/esc.txt"
check "link: ... and its URL escaped" grep -qF 'url=http://x.example/\x1B[31mred\x0D\x0Afake' "$TMP/esc.txt"
check "link: ... with no raw control byte in the output" \
    python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.exit(any(b < 32 and b != 10 for b in d))' "$TMP/esc.txt"

# A batch the console refuses (400: one event with an unknown severity, between
# two good ones): the node splits it, the good events get in, the bad one is
# dropped, counted in the heartbeat and reported as events.dropped.
python3 - "$TMP/spool/seg-999999-2.jsonl" "node-$P" <<'PY'
import json, sys
evs = [{"id": "%032x" % (0xba7c00 + i), "time": "2026-12-08T02:00:01.000000Z", "node": sys.argv[2],
        "component": "icap", "type": "detection", "severity": "bogus" if i == 1 else "high",
        "message": "batch-%d" % i} for i in range(3)]
open(sys.argv[1], "w").write("".join(json.dumps(e) + "\n" for e in evs))
PY
good_in() { [ "$(api GET "/api/v1/events?node=node-$P&limit=1000" | jq '[.events[] | select((.message // "") | startswith("batch-"))] | length')" -ge 2 ]; }
check "link: a refused batch is split: its good events reach the console" wait_until 30 good_in
expect_eq "link: ... the bad event is not stored" \
    "$(api GET "/api/v1/events/$(printf '%032x' $((0xba7c01)))" >/dev/null; cat "$TMP/api.status")" 404
dropped_ev() { api GET "/api/v1/events?type=events.dropped&node=node-$P" | jq -e '.events[] | select(.refused_id == "'"$(printf '%032x' $((0xba7c01)))"'") | .error' >"$TMP/drop.txt"; }
check "link: ... it is reported as an events.dropped event" wait_until 30 dropped_ev
expect_match "link: ... with the console's error" "$(cat "$TMP/drop.txt")" "severity"
counted() { [ "$(api GET "/api/v1/nodes/$(jq -r .node_id "$TMP/node.cred")" | jq -r '.dropped // 0')" -ge 1 ]; }
check "link: ... and counted in the heartbeat's dropped" wait_until 30 counted
check "link: ... and logged with the event id" grep -q "console refused event $(printf '%032x' $((0xba7c01)))" "$TMP/bulwarkd.log"

# --- tasks --------------------------------------------------------------------------
# task TYPE [ARGS-JSON]: queues a task for the node, waits for its result,
# prints "STATE MESSAGE".
task() {
    local id
    id=$(api POST /api/v1/tasks "{\"type\":\"$1\",\"node\":\"$NODE_ID\",\"args\":${2:-{\}}}" |
        jq -r '.tasks[0] // empty')
    [ -n "$id" ] || { echo "not-queued $(cat "$TMP/api.body")"; return; }
    done_() { api GET "/api/v1/tasks?node=$NODE_ID" |
        jq -e --arg id "$id" '(if type == "array" then . else .tasks end)[] |
            select((.id|tostring) == $id) | select(.state == "done" or .state == "failed")' \
        >"$TMP/task.json"; }
    wait_until 60 done_ || { echo "timeout"; return; }
    jq -r '"\(.state) \(.result // .message)"' "$TMP/task.json"
}
expect_match "link: task reload is done" "$(task reload)" "^done "
QID=$(basename "$(ls "$Q"/*.bwq 2>/dev/null | head -1)" .bwq)
check "link: the EICAR object is in the quarantine" test -n "$QID"
r=$(task quarantine.restore "{\"id\":\"$QID\"}")
expect_match "link: task quarantine.restore is done" "$r" "^done restored $QID"
check "link: ... the object is in RestoreDirectory, byte-identical" cmp -s "$TMP/eicar.com" "$TMP/restored/$QID"
r=$(task quarantine.delete "{\"id\":\"$QID\"}")
expect_match "link: task quarantine.delete is done" "$r" "^done deleted $QID"
check "link: ... the object is gone from the quarantine" test ! -e "$Q/$QID.bwq"
r=$(task quarantine.delete "{\"id\":\"$QID\"}")
expect_match "link: quarantine.delete of a missing object fails with why" "$r" "^failed .*no such object"
# update runs `bulwark update`; this node has no update source, so it fails,
# and the task says why in bulwark update's own words.
r=$(task update)
expect_match "link: task update runs bulwark update and reports its failure" "$r" \
    "^failed update failed \(exit [0-9]+\): .*[A-Za-z]"
r=$(task unblock '{"address":"10.1.2.3"}')
expect_eq "link: task unblock fails with the reason" "$r" "failed no network sensor on this node"
has_task_events() {
    [ "$(api GET "/api/v1/events?type=task.failed&node=node-$P" | jq '.events | length')" -ge 1 ] &&
    [ "$(api GET "/api/v1/events?type=task.done&node=node-$P" | jq '.events | length')" -ge 3 ]
}
check "link: tasks emit task.done / task.failed events" wait_until 30 has_task_events

# --- policies ----------------------------------------------------------------------------
# verdict: what c-icap-client (Allow: 204) sees for EICAR: 200 (blocked, a page) or 204 (passed)
verdict() { cic -f "$TMP/eicar.com"; grep -o 'ICAP/1.0 [0-9]*' "$TMP/cic.txt" | head -1 | cut -d' ' -f2; }
expect_eq "link: before any policy, EICAR is blocked (ICAP 200)" "$(verdict)" 200
policy() { api PUT /api/v1/policies/default "$(jq -n --arg c "$1" '{conf:$c}')" >/dev/null; cat "$TMP/api.status"; }
expect_eq "link: the console takes a policy InfectedAction = skip" \
    "$(policy $'[icapserver.actions]\nInfectedAction = skip\n')" 200
passes() { [ "$(verdict)" = 204 ]; }
check "link: the node applies it: EICAR now passes (ICAP 204)" wait_until 60 passes
node_field() { api GET "/api/v1/nodes/$NODE_ID" | jq -r ".$1 // empty"; }
applied() { [ "$(node_field policy_status)" = applied ]; }
check "link: the heartbeat reports the policy applied" wait_until 30 applied
check "link: PolicyFile holds it" grep -q "InfectedAction = skip" "$TMP/policy.conf"
has_applied_event() { [ "$(api GET "/api/v1/events?type=policy.applied&node=node-$P" | jq '.events | length')" -ge 1 ]; }
check "link: a policy.applied event reaches the console" wait_until 30 has_applied_event
# A policy the console's schema accepts but the node's allow-list refuses.
expect_eq "link: the console takes a policy that sets [icapserver.process]" \
    "$(policy $'[icapserver.actions]\nInfectedAction = deny\n[icapserver.process]\nMaxChildren = 1\n')" 200
failed() { [ "$(node_field policy_status)" = failed ]; }
check "link: the node refuses it (heartbeat: policy_status failed)" wait_until 60 failed
expect_match "link: ... with the exact error" "$(node_field policy_error)" \
    'policy:3: \[icapserver.process\]: not allowed in a policy'
has_failed_event() { [ "$(api GET "/api/v1/events?type=policy.failed&node=node-$P" | jq '.events | length')" -ge 1 ]; }
check "link: a policy.failed event reaches the console" wait_until 30 has_failed_event
expect_eq "link: the node keeps serving with the configuration it had (EICAR still passes)" \
    "$(verdict)" 204
check "link: PolicyFile still holds the applied policy" grep -q "InfectedAction = skip" "$TMP/policy.conf"
check "link: bulwarkd is still running" kill -0 "$BW_PID"

# --- a revoked node is refused and keeps its spool ----------------------------------------
api POST "/api/v1/nodes/$NODE_ID/revoke" '{}' >/dev/null
expect_eq "link: the admin revokes the node" "$(cat "$TMP/api.status")" 200
refused() { grep -q "refuses this node's credential" "$TMP/bulwarkd.log"; }
check "link: the revoked node is refused (and says so)" wait_until 30 refused
before=$(api GET "/api/v1/events?node=node-$P&limit=1000" | jq '.events | length')
cic -f "$TMP/eicar.com" -resp "http://link-test.example/after-revoke"
in_spool() { cat "$TMP"/spool/seg-*.jsonl 2>/dev/null | grep -q 'after-revoke'; }
check "link: ... the new event stays in its spool" wait_until 20 in_spool
sleep 3 # several PollIntervals and retries: nothing may arrive (the absence is what is checked)
after=$(api GET "/api/v1/events?node=node-$P&limit=1000" | jq '.events | length')
expect_eq "link: ... and the console stores nothing from it" "$after" "$before"
check "link: ... and bulwarkd keeps serving" icap_ping "$P"

bw_stop
bw_log_clean "link" "$TMP/bulwarkd.log"

# --- the shipper's privileges: it drops to User ----------------------------------------
# A second node with User = bulwark: its shipper runs as bulwark, enrols
# (writing CredentialFile as bulwark into a directory of bulwark's) and
# delivers, and can still get a reload done by the supervisor (root).
P2=$(free_port)
U=$TMP/userhome
mkdir -m 0750 "$U" && chown bulwark:bulwark "$U"
chmod 0755 "$TMP/ca"; chmod 0644 "$CA"
TOKEN2=$(enroll_token default)
bw_write_conf "$TMP/user.conf" "$P2" \
    "icapserver.process.User=bulwark" \
    "events.NodeName=user-$P2" \
    "events.SpoolDirectory=$U/spool" \
    "console.Url=$CURL_URL" \
    "console.CAFile=$CA" \
    "console.EnrollToken=$TOKEN2" \
    "console.CredentialFile=$U/node.cred" \
    "console.PollInterval=1s" \
    "console.MaxRetryInterval=2s" \
    "console.PolicyFile=$U/policy.conf"
bw_start "$TMP/user.conf" "$TMP/user.log" "$P2" || { notok "link: bulwarkd with User = bulwark starts"; exit 1; }
SHIP=$(pgrep -P "$BW_PID" -x bulwarkd-ship)
expect_eq "link: the shipper runs as User (bulwark)" "$(ps -o user= -p "${SHIP:-1}" 2>&1 | tr -d ' ')" bulwark
check "link: ... enrols as bulwark" wait_until 30 test -s "$U/node.cred"
expect_eq "link: ... its CredentialFile is bulwark's, mode 0600" "$(stat -c '%U %a' "$U/node.cred" 2>&1)" "bulwark 600"
NODE2=$(jq -r .node_id "$U/node.cred")
P=$P2; NODE_ID=$NODE2
cic -f "$TMP/eicar.com" -resp "http://link-test.example/as-user"
user_detection() { [ "$(api GET "/api/v1/events?type=detection&node=user-$P2" | jq '.events | length')" -ge 1 ]; }
check "link: ... delivers the node's detections" wait_until 30 user_detection
expect_match "link: ... and gets a reload done through the supervisor's channel" "$(task reload)" \
    "^done reload: configuration reloaded"
bw_stop
bw_log_clean "link (User = bulwark)" "$TMP/user.log"
console_stop
