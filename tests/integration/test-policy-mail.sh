#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Administrator e-mail through SMTP: bulwarkd with MailTo set, EICAR sent as
# RESPMOD, and a real SMTP server (Python's aiosmtpd, Debian package
# python3-aiosmtpd) started here that writes each message it accepts to a
# file.  Checks: one message per detection with the envelope, headers and
# body fields expected; nothing for a clean object; hostile bytes in the
# URL and user name cannot add headers or recipients; STARTTLS with AUTH
# against a test CA (and a wrong password is a logged failure); a server
# that accepts the connection but never speaks does not delay the ICAP
# answer, and the mail gives up after MailTimeout; bad mail keys stop the
# start with file:line.
. "$(dirname "$0")/icap-lib.sh"

make_eicar() { printf '%sX5O!P%%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' "${2:-}" > "$1"; }

# The SMTP server needs aiosmtpd, which Debian installs for /usr/bin/python3.
SMTP_PY=""
for p in python3 /usr/bin/python3; do
    if "$p" -c 'import aiosmtpd' 2>/dev/null; then SMTP_PY=$p; break; fi
done
if [ -z "$SMTP_PY" ]; then
    notok "python3-aiosmtpd is installed (scripts/install-deps.sh)"
    exit 1
fi

# smtp_sink DIR PORT [--tls CERT KEY --auth USER:PASS]: an aiosmtpd server
# on 127.0.0.1:PORT; each accepted message becomes DIR/msg.N (the raw
# message) and DIR/env.N (JSON: envelope, TLS, authenticated user).
smtp_sink() {
    local dir=$1 port=$2; shift 2
    mkdir -p "$dir"
    "$SMTP_PY" - "$dir" "$port" "$@" > "$dir/sink.log" 2>&1 <<'PY' &
import json, os, signal, ssl, sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
d, port, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
lock, count = threading.Lock(), [0]
class Handler:
    async def handle_DATA(self, server, session, envelope):
        with lock:
            n = count[0]
            count[0] += 1
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                "tls": session.ssl is not None,
                "user": session.auth_data if session.authenticated else None}
        with open(os.path.join(d, "tmp.%d" % n), "wb") as f:
            f.write(envelope.original_content)
        with open(os.path.join(d, "env.%d" % n), "w") as f:
            json.dump(meta, f)
        os.rename(os.path.join(d, "tmp.%d" % n), os.path.join(d, "msg.%d" % n))
        return "250 Message accepted"
kw = {}
if "--tls" in args:
    i = args.index("--tls")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args[i + 1], args[i + 2])
    kw.update(tls_context=ctx, require_starttls=True)
if "--auth" in args:
    want = args[args.index("--auth") + 1].encode()
    def check(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login + b":" + auth_data.password == want
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login.decode() if ok else None)
    kw.update(authenticator=check, auth_required=True)
c = Controller(Handler(), hostname="127.0.0.1", port=port, **kw)
c.start()
print("ready", flush=True)
signal.sigwait({signal.SIGTERM, signal.SIGINT})
c.stop()
PY
    BG_PIDS="$BG_PIDS $!"
    wait_port "$port" 10 || { echo "# SMTP sink did not start"; sed 's/^/#   /' "$dir/sink.log"; return 1; }
}

# wait_files GLOB N SECONDS: until N files match GLOB (bounded).
wait_files() {
    for _ in $(seq 1 $(( $3 * 10 ))); do
        # shellcheck disable=SC2086
        [ "$(ls $1 2>/dev/null | wc -l)" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

# respmod PORT BODYFILE URL [extra ICAP header lines...]: the answer's first
# line; the whole answer is in $TMP/answer.  HOSTRAW:<bytes> sends a Host
# header with those bytes (\r and \n as escapes) instead of one from the URL.
respmod() {
    python3 - "$@" <<'PY'
import os, socket, sys
port, path, url = int(sys.argv[1]), sys.argv[2], os.fsencode(sys.argv[3])
extra = [h for h in sys.argv[4:] if not h.startswith("HOSTRAW:")]
hostraw = [h[8:] for h in sys.argv[4:] if h.startswith("HOSTRAW:")]
body = open(path, "rb").read()
if hostraw:
    req = b"GET " + url + b" HTTP/1.1\r\nHost: " + \
        hostraw[0].encode("latin-1").decode("unicode_escape").encode("latin-1") + b"\r\n\r\n"
else:
    req = b"GET " + url + b" HTTP/1.1\r\nHost: origin.test\r\n\r\n"
res = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
head = "RESPMOD icap://x/av/respmod ICAP/1.0\r\nHost: x\r\nAllow: 204\r\n"
head += "".join(h + "\r\n" for h in extra)
head += "Encapsulated: req-hdr=0, res-hdr=%d, res-body=%d\r\n\r\n" % (len(req), len(req) + len(res))
msg = head.encode() + req + res + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(msg)
out = b""
while not (out.endswith(b"0\r\n\r\n") or (b"\r\n\r\n" in out and b" 204 " in out[:20])):
    d = s.recv(65536)
    if not d:
        break
    out += d
sys.stdout.write(out.split(b"\r\n", 1)[0].decode("latin-1") + "\n")
PY
}

# mail_check DIR N EXPR: evaluates a Python expression over message N of
# DIR (m: the parsed message, body: its decoded text, env: the envelope
# JSON); succeeds when it is true, else prints it.
mail_check() {
    python3 - "$@" <<'PY'
import email, email.policy, json, sys
d, n, expr = sys.argv[1], sys.argv[2], sys.argv[3]
m = email.message_from_bytes(open("%s/msg.%s" % (d, n), "rb").read(), policy=email.policy.default)
body = m.get_content()
env = json.load(open("%s/env.%s" % (d, n)))
fields = dict(l.split(":", 1) for l in body.splitlines() if ":" in l and not l.startswith(" "))
fields = {k.strip(): v.strip() for k, v in fields.items()}
ok = eval(expr)
if not ok:
    print("#   false: %s" % expr)
    print("#   headers: %r" % list(m.items()))
    print("#   envelope: %r" % env)
    print("#   body: %r" % body[:600])
sys.exit(0 if ok else 1)
PY
}

make_eicar "$TMP/eicar.com"
printf 'just a clean text file\n' > "$TMP/clean.txt"

# ---- plain SMTP: one message per detection --------------------------------
SP=$(free_port)
smtp_sink "$TMP/sink" "$SP" || { notok "the SMTP sink starts"; exit 1; }
P=$(free_port)
bw_write_conf "$TMP/m.conf" "$P" \
    "icapserver.notify.MailTo=soc@example.net" \
    "icapserver.notify.MailTo=admin@example.org" \
    "icapserver.notify.MailFrom=bulwark@proxy.test" \
    "icapserver.notify.SmtpUrl=smtp://127.0.0.1:$SP"
bw_start "$TMP/m.conf" "$TMP/m.log" "$P" || { notok "bulwarkd starts with MailTo set"; exit 1; }

out=$(respmod "$P" "$TMP/eicar.com" http://origin.test/files/eicar.com \
      "X-Client-IP: 192.0.2.7" "X-Client-Username: $(printf 'bob' | base64)")
expect_match "EICAR RESPMOD is blocked (the mail does not wait)" "$out" "^ICAP/1.0 200"
if wait_files "$TMP/sink/msg.*" 1 10; then ok "the SMTP server received a message"
else notok "the SMTP server received a message"; sed 's/^/#   /' "$TMP/m.log" | tail -5; fi
check "envelope: MAIL FROM MailFrom, RCPT TO each MailTo" mail_check "$TMP/sink" 0 \
    'env["mail_from"] == "bulwark@proxy.test" and env["rcpt_tos"] == ["soc@example.net", "admin@example.org"]'
check "Subject names status, threat and URL" mail_check "$TMP/sink" 0 \
    'm["Subject"] == "Bulwark: INFECTED EICAR-Test-File at http://origin.test/files/eicar.com"'
check "From and To headers" mail_check "$TMP/sink" 0 \
    'm["From"] == "Bulwark <bulwark@proxy.test>" and m["To"] == "soc@example.net, admin@example.org"'
check "Date, Message-ID, MIME headers and Auto-Submitted" mail_check "$TMP/sink" 0 \
    'm["Date"] and m["Message-ID"].startswith("<") and m.get_content_type() == "text/plain" and m["Auto-Submitted"] == "auto-generated"'
check "body: every field of the event" mail_check "$TMP/sink" 0 \
    'fields["Status"] == "INFECTED" and fields["Threat"] == "EICAR-Test-File" and fields["URL"] == "http://origin.test/files/eicar.com" and fields["Client IP"] == "192.0.2.7" and fields["User"] == "bob" and fields["Group"] == "default" and fields["Action"] == "deny" and fields["Method"] == "RESPMOD" and fields["Size"] == "68 bytes" and "UTC" in fields["Time"]'

out=$(respmod "$P" "$TMP/clean.txt" http://origin.test/files/clean.txt)
expect_match "a clean object passes" "$out" "^ICAP/1.0 204"

# Hostile bytes: a Host header folded over two lines (obs-fold, which the
# HTTP parser accepts; the daemon turns the CR LF into "??" when it builds
# the URL, so the report log keeps one line per object), a request target
# with raw bytes above 0x7f, and a base64 user name hiding CR LF.  Whatever
# reaches the event, the mail keeps its headers and its recipients.
out=$(respmod "$P" "$TMP/eicar.com" $'/a?\xff\xfe' \
      'HOSTRAW:evil.test\r\n Bcc: victim@evil.example' \
      "X-Client-Username: $(printf 'eve\r\nCc: victim@evil.example' | base64 | tr -d '\n')")
expect_match "hostile request: EICAR still blocked" "$out" "^ICAP/1.0 200"
if wait_files "$TMP/sink/msg.*" 2 10; then ok "the hostile request produces one more message"
else notok "the hostile request produces one more message"; fi
sleep 0.5
expect_eq "nothing for the clean object: two messages in all" "$(ls "$TMP"/sink/msg.* | wc -l)" 2
check "hostile request: the same headers, no Bcc or Cc" mail_check "$TMP/sink" 1 \
    'sorted(k.lower() for k in m.keys()) == sorted(k.lower() for k in email.message_from_bytes(open(d + "/msg.0", "rb").read()).keys()) and "Bcc" not in m and "Cc" not in m'
check "hostile request: the recipients are MailTo only" mail_check "$TMP/sink" 1 \
    'env["rcpt_tos"] == ["soc@example.net", "admin@example.org"]'
check "hostile request: the Subject holds the URL on one line, odd bytes as %XX" mail_check "$TMP/sink" 1 \
    'm["Subject"] == "Bulwark: INFECTED EICAR-Test-File at http://evil.test?? Bcc: victim@evil.example/a?%FF%FE"'
check "hostile request: the body shows the URL escaped on its line" mail_check "$TMP/sink" 1 \
    'fields["URL"] == "http://evil.test?? Bcc: victim@evil.example/a?\ufffd\ufffd"'
check "the message is 7-bit with CRLF lines of at most 998 bytes" python3 -c '
import sys
raw = open(sys.argv[1], "rb").read()
lines = raw.split(b"\r\n")
sys.exit(0 if all(len(l) <= 998 and all(32 <= c < 127 for c in l) for l in lines) else 1)' "$TMP/sink/msg.1"
check "bulwarkd (mail) exits 0 on SIGTERM" bw_stop
bw_log_clean "mail" "$TMP/m.log"

# ---- a server that accepts but never speaks --------------------------------
HP=$(free_port)
python3 - "$HP" "$TMP/hang.accepted" <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
held = []
while True:
    c, _ = s.accept()
    held.append(c)                      # never greets, never closes
    open(sys.argv[2], "a").write("accepted\n")
PY
BG_PIDS="$BG_PIDS $!"
wait_port "$HP" 10 && rm -f "$TMP/hang.accepted"   # wait_port's own probe is not a mail
P2=$(free_port)
bw_write_conf "$TMP/h.conf" "$P2" \
    "icapserver.notify.MailTo=soc@example.net" \
    "icapserver.notify.SmtpUrl=smtp://127.0.0.1:$HP" \
    "icapserver.notify.MailTimeout=3s"
bw_start "$TMP/h.conf" "$TMP/h.log" "$P2" || { notok "bulwarkd starts (hanging SMTP)"; exit 1; }
t0=$(date +%s%N)
out=$(respmod "$P2" "$TMP/eicar.com" http://origin.test/files/eicar.com)
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
expect_match "hanging SMTP: the EICAR answer still comes" "$out" "^ICAP/1.0 200"
# The mail session cannot end before MailTimeout (3 s): an answer well
# inside it was not waiting for the mail.
if [ "$ms" -lt 2000 ]; then ok "hanging SMTP: the ICAP answer took ${ms} ms, the mail waits up to 3000 ms"
else notok "hanging SMTP: the ICAP answer took ${ms} ms, the mail waits up to 3000 ms"; fi
if wait_files "$TMP/hang.accepted" 1 2; then ok "hanging SMTP: the mail session was under way (the server accepted it)"
else notok "hanging SMTP: the mail session was under way (the server accepted it)"; fi
out=$(respmod "$P2" "$TMP/clean.txt" http://origin.test/files/clean.txt)
expect_match "hanging SMTP: the next request is answered too" "$out" "^ICAP/1.0 204"
for _ in $(seq 1 60); do grep -q "mail via" "$TMP/h.log" && break; sleep 0.1; done
expect_match "hanging SMTP: the mail fails after MailTimeout, logged with the server" \
    "$(grep "mail via" "$TMP/h.log")" "mail via smtp://127.0.0.1:$HP: .*[Tt]imed out"
check "bulwarkd (hanging SMTP) exits 0 on SIGTERM" bw_stop
bw_log_clean "hanging SMTP" "$TMP/h.log"

# ---- STARTTLS and AUTH ------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
    >/dev/null 2>&1 || notok "openssl makes a test certificate"
TP=$(free_port)
smtp_sink "$TMP/tls" "$TP" --tls "$TMP/cert.pem" "$TMP/key.pem" --auth "av:s3cret pw" ||
    { notok "the TLS SMTP sink starts"; exit 1; }
P3=$(free_port)
bw_write_conf "$TMP/t.conf" "$P3" \
    "icapserver.notify.MailTo=soc@example.net" \
    "icapserver.notify.SmtpUrl=smtp://127.0.0.1:$TP" \
    "icapserver.notify.SmtpStartTls=yes" \
    "icapserver.notify.SmtpUser=av" \
    "icapserver.notify.SmtpPassword=s3cret pw" \
    "icapserver.notify.SmtpCAFile=$TMP/cert.pem"
P4=$(free_port)
bw_write_conf "$TMP/w.conf" "$P4" \
    "icapserver.notify.MailTo=soc@example.net" \
    "icapserver.notify.SmtpUrl=smtp://127.0.0.1:$TP" \
    "icapserver.notify.SmtpStartTls=yes" \
    "icapserver.notify.SmtpUser=av" \
    "icapserver.notify.SmtpPassword=wrong" \
    "icapserver.notify.SmtpCAFile=$TMP/cert.pem"
bw_start "$TMP/t.conf" "$TMP/t.log" "$P3" || { notok "bulwarkd starts (STARTTLS)"; exit 1; }
T_PID=$BW_PID
bw_start "$TMP/w.conf" "$TMP/w.log" "$P4" || { notok "bulwarkd starts (wrong password)"; exit 1; }
W_PID=$BW_PID
respmod "$P3" "$TMP/eicar.com" http://origin.test/files/tls.com > /dev/null
respmod "$P4" "$TMP/eicar.com" http://origin.test/files/wrong.com > /dev/null
if wait_files "$TMP/tls/msg.*" 1 10; then ok "STARTTLS + AUTH: the message arrives"
else notok "STARTTLS + AUTH: the message arrives"; sed 's/^/#   /' "$TMP/t.log" | tail -5; fi
check "STARTTLS + AUTH: sent inside TLS, authenticated as SmtpUser" mail_check "$TMP/tls" 0 \
    'env["tls"] and env["user"] == "av" and m["Subject"].endswith("/tls.com")'
for _ in $(seq 1 50); do grep -q "mail via" "$TMP/w.log" && break; sleep 0.1; done
expect_match "a wrong password is a logged failure" "$(grep "mail via" "$TMP/w.log")" \
    "mail via smtp://127.0.0.1:$TP: .*(535|[Ll]ogin denied|uthentication)"
sleep 0.3
expect_eq "the wrong password delivered nothing" "$(ls "$TMP"/tls/msg.* | wc -l)" 1
check "bulwarkd (STARTTLS) exits 0 on SIGTERM" bw_stop "$T_PID"
check "bulwarkd (wrong password) exits 0 on SIGTERM" bw_stop "$W_PID"

# ---- configuration errors --------------------------------------------------
printf '[icapserver.notify]\nMailTo = soc@example.net\nMailTo = Admin <a@example.net>\n' > "$TMP/bad1.conf"; bw_own_paths "$TMP/bad1.conf"
out=$("$BULWARKD" -c "$TMP/bad1.conf" -f 2>&1)
expect_match "a MailTo with a display name is refused with file:line" "$out" "bad1.conf:3: MailTo"
printf '[icapserver.notify]\nSmtpUrl = smtp://u:pw@mail.example\n' > "$TMP/bad2.conf"; bw_own_paths "$TMP/bad2.conf"
out=$("$BULWARKD" -c "$TMP/bad2.conf" -f 2>&1)
expect_match "credentials in SmtpUrl are refused with file:line" "$out" "bad2.conf:2: SmtpUrl: .*credentials"
printf '[icapserver.notify]\nSmtpUrl = smtp://mail.example\nSmtpUser = av\nSmtpPassword = x\n' > "$TMP/bad3.conf"; bw_own_paths "$TMP/bad3.conf"
out=$("$BULWARKD" -c "$TMP/bad3.conf" -f 2>&1)
expect_match "a password over plain smtp:// is refused" "$out" "SmtpUser: .*in clear"
printf '[icapserver.notify]\nSmtpUrl = smtps://mail.example\nSmtpUser = av\nSmtpPassword = s3cret-word\nMailTo = soc@example.net\n' > "$TMP/pw.conf"
out=$("$BULWARKD" -c "$TMP/pw.conf" --print-config 2>&1)
expect_match "--print-config hides SmtpPassword" "$out" "^SmtpPassword = \(hidden\)$"
check "... and never prints it" bash -c "! grep -q s3cret-word <<<\"\$1\"" _ "$out"
