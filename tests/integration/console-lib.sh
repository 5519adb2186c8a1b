# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Helpers for the tests of a node linked to a real bulwark-console over HTTPS
# (test-link.sh, test-link-noloss.sh); sources icap-lib.sh.
#
#   console_ca                 a test CA and a certificate for 127.0.0.1 (openssl)
#   console_start PORT         bulwark-console with TLS on 127.0.0.1:PORT, data in $TMP/console
#   console_stop / console_kill
#   console_login              ADMIN_TOKEN: a session token of the admin
#   api METHOD PATH [JSON]     curl against the console as the admin; body on stdout,
#                              the status in $TMP/api.status
. "$(dirname "${BASH_SOURCE[0]}")/icap-lib.sh"

CONSOLE=${CONSOLE:-$ROOT/${BUILD:-build}/bulwark-console}
ADMIN_PW=admin-pw-$$-$RANDOM
CPID=""

console_ca() {
    local d=$TMP/ca
    mkdir -p "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bulwark test CA" \
        -keyout "$d/ca.key" -out "$d/ca.pem" >/dev/null 2>&1 || return 1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$d/console.key" -out "$d/console.csr" >/dev/null 2>&1 || return 1
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/ext"
    openssl x509 -req -in "$d/console.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/ext" -out "$d/console.pem" >/dev/null 2>&1 || return 1
    CA=$d/ca.pem
}

console_start() {
    CPORT=$1
    mkdir -p "$TMP/console"
    cat >"$TMP/console.conf" <<CONF
[console]
Listen = 127.0.0.1:$CPORT
TlsCertificate = $TMP/ca/console.pem
TlsKey = $TMP/ca/console.key
DataDirectory = $TMP/console
CONF
    BULWARK_CONSOLE_ADMIN_PASSWORD=$ADMIN_PW "$CONSOLE" -c "$TMP/console.conf" \
        >>"$TMP/console.log" 2>&1 &
    CPID=$!
    BG_PIDS="$BG_PIDS $CPID"
    CURL_URL=https://127.0.0.1:$CPORT
    wait_until 30 curl -s -o /dev/null --cacert "$CA" "$CURL_URL/api/v1/session" || {
        echo "# bulwark-console did not start; its log:"; tail -20 "$TMP/console.log" | sed 's/^/#   /'
        return 1
    }
}

console_stop() { [ -n "$CPID" ] && kill -TERM "$CPID" 2>/dev/null; wait "$CPID" 2>/dev/null; CPID=""; }

api() {
    local m=$1 p=$2 body=${3:-}
    local args=(-s --cacert "$CA" -X "$m" -o "$TMP/api.body" -w '%{http_code}' \
        -H "Authorization: Bearer $ADMIN_TOKEN")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    curl "${args[@]}" "$CURL_URL$p" >"$TMP/api.status" 2>/dev/null
    cat "$TMP/api.body"
}

console_login() {
    ADMIN_TOKEN=$(curl -s --cacert "$CA" -H 'Content-Type: application/json' \
        --data-binary "{\"username\":\"admin\",\"password\":\"$ADMIN_PW\"}" \
        "$CURL_URL/api/v1/session" | jq -r '.token // empty')
    [ -n "$ADMIN_TOKEN" ]
}

# enroll_token [GROUP]: a new one-time enrolment token
enroll_token() {
    api POST /api/v1/enrollment-tokens "{\"group\":\"${1:-default}\",\"ttl\":3600}" | jq -r '.token // empty'
}

# count_events QUERY: how many events the console holds for the query
# (pages through next_cursor)
count_events() {
    python3 - "$CURL_URL" "$CA" "$ADMIN_TOKEN" "$1" <<'PY'
import json, ssl, sys, urllib.request
base, ca, tok, q = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
n, cursor, ids = 0, None, []
while True:
    url = base + "/api/v1/events?limit=1000&" + q + ("&cursor=%s" % cursor if cursor else "")
    r = urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": "Bearer " + tok}), context=ctx)
    a = json.load(r)
    ids += [e["id"] for e in a["events"]]
    cursor = a.get("next_cursor")
    if not cursor or not a["events"]:
        break
print(len(ids), len(set(ids)))
PY
}
