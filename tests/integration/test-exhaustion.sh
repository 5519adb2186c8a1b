#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Resource exhaustion (docs/operations.md, "Limits"): each case creates the
# condition an attack run found and checks the daemon holds.
#   - slowloris: ICAP heads and clamd commands trickled faster than the idle
#     Timeout are cut at a whole deadline (HeaderTimeout, CommandReadTimeout),
#     a trickled body by MinBodyRate; a normal request is served meanwhile;
#   - clamd MaxQueue: a worker at its bound stops accepting (the client
#     waits, is served once a slot frees);
#   - IDSESSION with replies never read: the worker stops reading, its
#     memory stays bounded, and every reply is right afterwards;
#   - out of descriptors (a low `ulimit -n`): no spinning, a small log, and
#     service again once the idle connections are gone;
#   - silent TLS connections: a worker takes its share of MaxConnections
#     and leaves the rest to the others (the plain port keeps serving; 503
#     only when the whole server is full); a dripped ClientHello is closed
#     at TlsHandshakeTimeout.
. "$(dirname "$0")/icap-lib.sh"

EX="python3 $ROOT/tests/integration/exhaust-client.py"
# Under AddressSanitizer freed memory is kept in a quarantine (256 MB by
# default) that would count in the worker's memory: a small one keeps the
# IDSESSION flood's memory bound meaningful in a SAN=1 build.
if ldd "$BULWARKD" 2>/dev/null | grep -q libasan; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
fi
workers_of() { pgrep -P "$1" | paste -sd, -; }
# A case whose client dies (an exception) would leave its lines out: that
# is a failure of its own.
ex() { $EX "$@" || notok "exhaustion: the $1 client ran to its end (exit $?)"; }

# --- slowloris, clamd limits, IDSESSION flood ---------------------------------------
P=$(free_port); CP=$(free_port)
bw_write_conf "$TMP/a.conf" "$P" icapserver.process.MaxChildren=1 \
    icapserver.network.Timeout=3s icapserver.network.HeaderTimeout=2s \
    icapserver.network.MinBodyRate=1K icapserver.network.MinBodyRatePeriod=2s \
    icapserver.protocol.MaxConnections=6 \
    clamd.TCPSocket="$CP" clamd.TCPAddr=127.0.0.1 clamd.CommandReadTimeout=2s \
    clamd.ReadTimeout=30s clamd.MaxQueue=4
if bw_start "$TMP/a.conf" "$TMP/a.log" "$P"; then
    ex icap-slowloris "$P" 6 2
    ex icap-slow-body "$P" 2
    ex clamd-slowloris "$CP" 2
    ex clamd-maxqueue "$CP" 4
    ex clamd-flood "$CP" "$(workers_of "$BW_PID")" 1500000
    bw_stop || notok "exhaustion: bulwarkd exits 0 on SIGTERM"
    bw_log_clean "exhaustion (deadlines)" "$TMP/a.log"
else
    notok "exhaustion: bulwarkd starts"
fi

# --- out of file descriptors --------------------------------------------------------
P=$(free_port); CP=$(free_port)
bw_write_conf "$TMP/b.conf" "$P" icapserver.process.MaxChildren=1 \
    clamd.TCPSocket="$CP" clamd.TCPAddr=127.0.0.1 clamd.MaxQueue=100000 \
    clamd.MaxConnectionQueueLength=1024 clamd.CommandReadTimeout=60s
# The limit applies to the daemon alone: a wrapper sets it and execs it.
printf '#!/bin/bash\nulimit -n 96 || exit 1\nexec "%s" "$@"\n' "$BULWARKD" >"$TMP/lowfd.sh"
chmod 755 "$TMP/lowfd.sh"
if BULWARKD="$TMP/lowfd.sh" bw_start "$TMP/b.conf" "$TMP/b.log" "$P"; then
    W=$(pgrep -P "$BW_PID" | head -1)
    ex emfile "$P" "$CP" "$W" 200 "$TMP/b.log"
    bw_stop || notok "exhaustion (emfile): bulwarkd exits 0 on SIGTERM"
    bw_log_clean "exhaustion (emfile)" "$TMP/b.log"
else
    notok "exhaustion: bulwarkd starts under ulimit -n 96"
fi

# --- TLS: balance across workers, the handshake deadline ------------------------------
C=$TMP/certs
mkdir -p "$C"
if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout "$C/key.pem" -out "$C/cert.pem" -subj "/CN=localhost" 2>/dev/null; then
    notok "exhaustion: openssl makes a test certificate"
    exit 1
fi
P=$(free_port); TP=$(free_port)
bw_write_conf "$TMP/c.conf" "$P" icapserver.process.MaxChildren=2 \
    icapserver.protocol.MaxConnections=20 \
    "icapserver.network.TlsListenAddress=127.0.0.1:$TP" \
    "icapserver.network.TlsCertificateFile=$C/cert.pem" "icapserver.network.TlsPrivateKeyFile=$C/key.pem"
if bw_start "$TMP/c.conf" "$TMP/c.log" "$P"; then
    read -r WA WB <<<"$(pgrep -P "$BW_PID" | head -2 | paste -sd' ' -)"
    # Worker B is held still, so that every connection is offered to A:
    # A must take its share and leave the rest queued for B.
    kill -STOP "$WB"
    ex tls-balance "$P" "$TP" "$WA" "$WB" 20
    kill -CONT "$WB" 2>/dev/null
    bw_stop || notok "exhaustion (balance): bulwarkd exits 0 on SIGTERM"
    bw_log_clean "exhaustion (balance)" "$TMP/c.log"
else
    notok "exhaustion: bulwarkd starts with a TLS listener"
fi

P=$(free_port); TP=$(free_port)
bw_write_conf "$TMP/d.conf" "$P" icapserver.process.MaxChildren=1 \
    icapserver.network.Timeout=3s icapserver.network.TlsHandshakeTimeout=2s \
    "icapserver.network.TlsListenAddress=127.0.0.1:$TP" \
    "icapserver.network.TlsCertificateFile=$C/cert.pem" "icapserver.network.TlsPrivateKeyFile=$C/key.pem"
if bw_start "$TMP/d.conf" "$TMP/d.log" "$P"; then
    ex tls-drip "$TP" 2
    bw_stop || notok "exhaustion (tls drip): bulwarkd exits 0 on SIGTERM"
    bw_log_clean "exhaustion (tls drip)" "$TMP/d.log"
else
    notok "exhaustion: bulwarkd starts with TlsHandshakeTimeout"
fi

