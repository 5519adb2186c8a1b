# SPDX-License-Identifier: Apache-2.0
# Helpers for tests and benchmarks that run bulwark-console (sourced after
# lib.sh and icap-lib.sh).
CONSOLE=${CONSOLE:-$ROOT/${BUILD:-build}/bulwark-console}

# console_start NAME ARGS...: starts bulwark-console ARGS in the background
# (stderr to $TMP/NAME.log), waits until its port ($CPORT) accepts.  Sets
# CPID.  The caller sets CPORT and passes it in ARGS or the file.
console_start() {
    local name=$1; shift
    "$CONSOLE" "$@" >"$TMP/$name.out" 2>"$TMP/$name.log" &
    CPID=$!
    if ! wait_port "$CPORT" 60; then
        echo "    console $name did not start:"; sed 's/^/    /' "$TMP/$name.log" | tail -20
        return 1
    fi
}
# console_stop PID: SIGTERM and wait.
console_stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# call ARGS...: curl with the body in $TMP/body and the headers in
# $TMP/headers; prints the status code.
call() {
    curl -sS -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' "$@" 2>"$TMP/curl.err" || true
}
# jget FILE PYEXPR: evaluates PYEXPR over the JSON in FILE as `d`.
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=eval(sys.argv[2]); print(r if not isinstance(r,(dict,list)) else json.dumps(r))' "$1" "$2" 2>/dev/null; }
# new_event_id: 32 random lowercase hex digits.
new_event_id() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
