#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The console's web UI in headless Chromium (Debian's /usr/bin/chromium,
# driven by puppeteer-core from npm; tests/ui/ui-test.js holds the cases).
#
# One bulwark-console with TLS (a test CA made with openssl) and its embedded
# SQLite store in a temp dir.  Part 1: events come from an enrolled node's
# credential through the API a node uses, including hostile threat names and
# URLs; the browser signs in and checks every page.  Part 2 (end to end): a
# real bulwarkd enrolled with a token, behind a real Squid in front of a local
# origin; an EICAR download through Squid appears on the dashboard, the
# quarantined object is restored through a task made in the UI, and a policy
# saved in the UI changes the node's answer.  Part 3: the cases of part 1
# again in Firefox ESR (puppeteer-core over WebDriver BiDi) on a fresh console.
# Screenshots go to $UI_SHOTS when set (UI_SHOTS=docs/screenshots refreshes
# the ones in docs/console-ui.md).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/icap-lib.sh"
CONSOLE=${CONSOLE:-$ROOT/${BUILD:-build}/bulwark-console}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
UI="$ROOT/tests/ui"

# --- static checks of the UI's files (no browser needed) -------------------------------
UIDIR=$ROOT/src/console/ui
html_sinks=$(grep -rnE 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|\$\([^)]*<' \
    "$UIDIR" --include='*.js' || true)
expect_eq "console-ui: the UI's JavaScript uses no HTML sink (innerHTML, document.write, eval, \$('<...'))" "$html_sinks" ""
inline=$(grep -rnoiE '<script>|<script [^>]*>[^<]|<style|[[:space:]]on[a-z]+=|[[:space:]]style=|javascript:' \
    "$UIDIR" --include='*.html' || true)
expect_eq "console-ui: index.html has no inline script, style or event handler (CSP)" "$inline" ""
foreign=$(grep -rnoE '(src|href)="(https?:)?//[^"]*"' "$UIDIR" || true)
expect_eq "console-ui: the UI loads nothing from another site" "$foreign" ""

if [ ! -x "$CONSOLE" ]; then notok "console-ui: $CONSOLE is built"; exit 0; fi
if [ ! -x "$CHROMIUM" ]; then notok "console-ui: $CHROMIUM is installed (apt-get install chromium)"; exit 0; fi
if ! command -v npm >/dev/null; then notok "console-ui: npm is installed (apt-get install npm)"; exit 0; fi
# npm ci installs exactly the locked puppeteer-core; with no registry it
# fails, and that is a failing line, not a silent skip.
if [ ! -d "$UI/node_modules/puppeteer-core" ] || [ "$UI/package-lock.json" -nt "$UI/node_modules/.package-lock.json" ]; then
    if ! (cd "$UI" && npm ci --no-audit --no-fund --loglevel=error --fetch-retries=1 --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=10000) >"$TMP/npm.log" 2>&1; then
        notok "console-ui: npm ci in tests/ui installs puppeteer-core (no npm registry?); browser tests not run"
        sed 's/^/    /' "$TMP/npm.log" | tail -5
        exit 0
    fi
fi

# --- the console, with TLS from a test CA ---------------------------------------
CA_DIR=$TMP/ca
mkdir -p "$CA_DIR"
if ! { openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bulwark ui test CA" \
         -keyout "$CA_DIR/ca.key" -out "$CA_DIR/ca.pem" &&
       openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
         -keyout "$CA_DIR/console.key" -out "$CA_DIR/console.csr" &&
       printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$CA_DIR/ext" &&
       openssl x509 -req -in "$CA_DIR/console.csr" -CA "$CA_DIR/ca.pem" -CAkey "$CA_DIR/ca.key" \
         -CAcreateserial -days 2 -extfile "$CA_DIR/ext" -out "$CA_DIR/console.pem"; } >"$TMP/openssl.log" 2>&1; then
    notok "console-ui: test CA made with openssl"; sed 's/^/    /' "$TMP/openssl.log"; exit 0
fi
CA=$CA_DIR/ca.pem
PASS="ui-admin-$RANDOM$RANDOM"
# console_up NAME: a fresh console (own data directory) on a free port; sets
# CPID and CURL_URL.
console_up() {
    local port
    port=$(free_port)
    mkdir -p "$TMP/$1"
    cat >"$TMP/$1.conf" <<CONF
[console]
Listen = 127.0.0.1:$port
TlsCertificate = $CA_DIR/console.pem
TlsKey = $CA_DIR/console.key
DataDirectory = $TMP/$1
CONF
    BULWARK_CONSOLE_ADMIN_PASSWORD=$PASS "$CONSOLE" -c "$TMP/$1.conf" >"$TMP/$1.log" 2>&1 &
    CPID=$!
    BG_PIDS="$BG_PIDS $CPID"
    CURL_URL=https://127.0.0.1:$port
    if ! wait_until 60 curl -s -o /dev/null --cacert "$CA" "$CURL_URL/api/v1/session"; then
        notok "console-ui: the console starts with TLS ($1)"; sed 's/^/    /' "$TMP/$1.log" | tail
        return 1
    fi
    ok "console-ui: the console starts with TLS on $CURL_URL ($1)"
}
console_up console || exit 0

# --- the node side for the end-to-end part (bulwarkd behind Squid) ---------------------
E2E=""
if [ "${UI_E2E:-yes}" = no ]; then
    echo "# end-to-end part not run (UI_E2E=no)"
elif [ ! -x "$BULWARKD" ] || ! command -v squid >/dev/null; then
    notok "console-ui: bulwarkd and squid are there for the end-to-end part"
else
    ADMIN_TOKEN=$(curl -s --cacert "$CA" -H 'Content-Type: application/json' \
        --data-binary "{\"username\":\"admin\",\"password\":\"$PASS\"}" "$CURL_URL/api/v1/session" | jq -r '.token // empty')
    ETOKEN=$(curl -s --cacert "$CA" -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
        --data-binary '{"group":"squid-nodes","ttl":3600}' "$CURL_URL/api/v1/enrollment-tokens" | jq -r '.token // empty')
    P=$(free_port)
    NODE=squid-node-$P
    mkdir -m 700 "$TMP/quarantine"
    bw_write_conf "$TMP/node.conf" "$P" \
        "icapserver.actions.InfectedAction=quarantine" \
        "quarantine.QuarantineDir=$TMP/quarantine" \
        "events.NodeName=$NODE" \
        "events.SpoolDirectory=$TMP/spool" \
        "console.Url=$CURL_URL" \
        "console.CAFile=$CA" \
        "console.EnrollToken=$ETOKEN" \
        "console.CredentialFile=$TMP/node.cred" \
        "console.PollInterval=1s" \
        "console.MaxRetryInterval=2s" \
        "console.PolicyFile=$TMP/policy.conf" \
        "console.RestoreDirectory=$TMP/restored"
    WWW=$TMP/www
    mkdir -p "$WWW"
    make_eicar "$WWW/eicar.com"
    OPORT=$(free_port)
    SPORT=$(free_port)
    if [ -z "$ETOKEN" ]; then
        notok "console-ui: the console makes an enrolment token for the node"
    elif ! bw_start "$TMP/node.conf" "$TMP/bulwarkd.log" "$P"; then
        notok "console-ui: bulwarkd starts with a console link"
    elif ! wait_until 60 test -s "$TMP/node.cred"; then
        notok "console-ui: bulwarkd enrols with the token"; sed 's/^/    /' "$TMP/bulwarkd.log" | tail
    elif ! origin_start "$WWW" "$OPORT" || ! squid_start "$TMP/squid" "$SPORT" "$P"; then
        notok "console-ui: origin and squid start"
    else
        ok "console-ui: bulwarkd behind squid is enrolled (node $NODE)"
        E2E=$(jq -cn --arg name "$NODE" --arg proxy "http://127.0.0.1:$SPORT" \
            --arg url "http://127.0.0.1:$OPORT/files/eicar.com" --arg eicar "$WWW/eicar.com" \
            --arg restored "$TMP/restored" --arg group squid-nodes \
            '{name:$name, proxy:$proxy, url:$url, eicar:$eicar, restored:$restored, group:$group}')
    fi
fi

URL=$CURL_URL ADMIN_PASSWORD=$PASS CHROMIUM=$CHROMIUM SHOTS=${UI_SHOTS:-} E2E_NODE=$E2E \
    NODE_EXTRA_CA_CERTS=$CA FAIL_SHOT=${FAIL_SHOT:-} HOME="$TMP" timeout 900 node "$UI/ui-test.js"
rc=$?
[ $rc -eq 0 ] || notok "console-ui: ui-test.js (chromium) exited with $rc"
if ! kill -0 "$CPID" 2>/dev/null; then notok "console-ui: the console kept running"; sed 's/^/    /' "$TMP/console.log" | tail; fi
if [ -n "$E2E" ] && ! kill -0 "$BW_PID" 2>/dev/null; then
    notok "console-ui: bulwarkd kept running"; sed 's/^/    /' "$TMP/bulwarkd.log" | tail
fi

# --- the same cases in Firefox (ESR), on a fresh console, without the node side ---------
FIREFOX=${FIREFOX:-/usr/bin/firefox-esr}
if [ "${UI_FIREFOX:-yes}" = no ]; then
    echo "# Firefox part not run (UI_FIREFOX=no)"
elif [ ! -x "$FIREFOX" ]; then
    notok "console-ui: $FIREFOX is installed (apt-get install firefox-esr)"
elif console_up console-firefox; then
    mkdir -p "$TMP/ffhome"
    URL=$CURL_URL ADMIN_PASSWORD=$PASS BROWSER=firefox FIREFOX=$FIREFOX E2E_NODE='' SHOTS='' \
        NODE_EXTRA_CA_CERTS=$CA FAIL_SHOT='' HOME="$TMP/ffhome" timeout 900 node "$UI/ui-test.js"
    rc=$?
    [ $rc -eq 0 ] || notok "console-ui: ui-test.js (firefox) exited with $rc"
fi
