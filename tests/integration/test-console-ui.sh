#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The console's web UI in headless Chromium (Debian's /usr/bin/chromium,
# driven by puppeteer-core from npm; tests/ui/ui-test.js holds the cases).
# A console on a free port with its embedded SQLite store in a temp dir; the
# browser signs in, and events come from an enrolled node's credential
# through the same API a node uses.  Screenshots go to $UI_SHOTS when set
# (docs/screenshots is refreshed with UI_SHOTS=docs/screenshots).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/icap-lib.sh"
CONSOLE=${CONSOLE:-$ROOT/${BUILD:-build}/bulwark-console}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
UI="$ROOT/tests/ui"

if [ ! -x "$CONSOLE" ]; then notok "console-ui: $CONSOLE not built"; exit 0; fi
if [ ! -x "$CHROMIUM" ]; then notok "console-ui: $CHROMIUM missing (apt-get install chromium)"; exit 0; fi
if ! command -v npm >/dev/null; then notok "console-ui: npm missing (apt-get install npm)"; exit 0; fi
# npm ci installs exactly the locked puppeteer-core; with no registry it
# fails, and that is a failing line, not a silent skip.
if [ ! -d "$UI/node_modules/puppeteer-core" ] || [ "$UI/package-lock.json" -nt "$UI/node_modules/.package-lock.json" ]; then
    if ! (cd "$UI" && npm ci --no-audit --no-fund --loglevel=error) >"$TMP/npm.log" 2>&1; then
        notok "console-ui: npm ci in tests/ui failed (no npm registry?); browser tests not run"
        sed 's/^/    /' "$TMP/npm.log" | tail -5
        exit 0
    fi
fi

PORT=$(free_port)
PASS="ui-admin-$RANDOM$RANDOM"
BULWARK_CONSOLE_ADMIN_PASSWORD=$PASS "$CONSOLE" --data "$TMP/data" --listen "127.0.0.1:$PORT" \
    >"$TMP/console.log" 2>&1 &
CPID=$!
trap 'kill $CPID 2>/dev/null; wait $CPID 2>/dev/null; rm -rf "$TMP"' EXIT
if ! wait_port "$PORT" 30; then
    notok "console-ui: console did not start"; sed 's/^/    /' "$TMP/console.log"; exit 0
fi
ok "console-ui: console started on 127.0.0.1:$PORT"

URL="http://127.0.0.1:$PORT" ADMIN_PASSWORD=$PASS CHROMIUM=$CHROMIUM SHOTS=${UI_SHOTS:-} \
    FAIL_SHOT=${FAIL_SHOT:-} HOME="$TMP" timeout 600 node "$UI/ui-test.js"
rc=$?
[ $rc -eq 0 ] || notok "console-ui: ui-test.js exited with $rc"
if ! kill -0 $CPID 2>/dev/null; then notok "console-ui: console died"; sed 's/^/    /' "$TMP/console.log" | tail; fi
