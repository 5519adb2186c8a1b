/* SPDX-License-Identifier: Apache-2.0 */
/* Events to syslog (evout.h): RFC 5424 messages over UDP (RFC 5426: one
 * message per datagram), TCP with octet-counting framing (RFC 6587 3.4.1:
 * "LEN SP MSG", so a message may hold newlines) or TLS (RFC 5425: the same
 * framing; the server is checked against SyslogCAFile or the system's CAs
 * and its certificate must name the target's host).
 *
 * The message:
 *   <PRI>1 TIME NODE bulwarkd - TYPE [bulwark@32473 id=".." component=".."
 *     severity=".." threat=".." url=".." path=".." client=".." action=".."] MSG
 * PRI = SyslogFacility * 8 + the event severity as a syslog level (critical 2,
 * high 3, medium 4, low 5, info 6).  MSG is the event's JSON (or its CEF line
 * with SyslogFormat = cef).  32473 is the enterprise number RFC 5612 reserves
 * for documentation: Bulwark has no IANA number of its own; SIEM rules key on
 * the SD-ID "bulwark@32473".  SD-PARAM values escape '"', '\' and ']' with a
 * backslash (RFC 5424 6.3.3); header fields are printable US-ASCII without
 * blanks, other bytes become '_', empty ones "-".
 *
 * Blocking sockets with 5 s send and connect timeouts: this runs in the
 * shipper process, never in a worker. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "bulwark/core.h"
#include "core/buf.h"
#include "events/evout-int.h"
#include "events/evout.h"

#define IO_TIMEOUT_MS 5000

typedef struct {
    bw_evsink_t base;
    char proto[8], host[256], port[8];
    char *ca_file;
    int facility, fmt;
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
} syslog_sink_t;

/* ---- formatting ----------------------------------------------------------- */

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int level_of(const char *sev)
{
    if (!sev)
        return 6;
    return !strcmp(sev, "critical") ? 2 : !strcmp(sev, "high") ? 3 : !strcmp(sev, "medium") ? 4
           : !strcmp(sev, "low") ? 5 : 6;
}

/* A header field: PRINTUSASCII (33..126) only, at most max bytes, "-" if empty. */
static void put_token(bw_buf_t *b, const char *s, size_t max)
{
    size_t n = 0;
    for (; s && *s && n < max; s++, n++) {
        char c = (*s >= 33 && *s <= 126) ? *s : '_';
        bw_buf_append(b, &c, 1);
    }
    if (!n)
        bw_buf_puts(b, "-");
}

static void put_param(bw_buf_t *b, const char *name, const char *v)
{
    if (!v || !v[0])
        return;
    bw_buf_printf(b, " %s=\"", name);
    for (; *v; v++) {
        if (*v == '"' || *v == '\\' || *v == ']')
            bw_buf_append(b, "\\", 1);
        bw_buf_append(b, v, 1);
    }
    bw_buf_puts(b, "\"");
}

void bw_evout_format_5424(bw_buf_t *b, const json_t *ev, int facility, int fmt)
{
    const json_t *obj = json_object_get(ev, "object"), *cl = json_object_get(ev, "client");
    bw_buf_printf(b, "<%d>1 ", facility * 8 + level_of(str(ev, "severity")));
    put_token(b, str(ev, "time"), 64);
    bw_buf_puts(b, " ");
    put_token(b, str(ev, "node"), 255);
    bw_buf_puts(b, " bulwarkd - ");
    put_token(b, str(ev, "type"), 32);
    bw_buf_puts(b, " [bulwark@32473");
    put_param(b, "id", str(ev, "id"));
    put_param(b, "component", str(ev, "component"));
    put_param(b, "severity", str(ev, "severity"));
    const json_t *th = json_object_get(ev, "threats");
    put_param(b, "threat", json_string_value(json_array_get(th, 0)));
    put_param(b, "verdict", str(ev, "verdict"));
    put_param(b, "action", str(ev, "action"));
    put_param(b, "url", str(obj, "url"));
    put_param(b, "path", str(obj, "path"));
    put_param(b, "client", str(cl, "ip"));
    put_param(b, "user", str(cl, "user"));
    bw_buf_puts(b, "] ");
    if (fmt == BW_EVOUT_FMT_CEF) {
        bw_evout_format_cef(b, ev);
    } else {
        char *j = json_dumps(ev, JSON_COMPACT);
        if (j)
            bw_buf_puts(b, j);
        free(j);
    }
}

/* ---- transport -------------------------------------------------------------- */

static void sink_reset(bw_evsink_t *bs)
{
    syslog_sink_t *s = (syslog_sink_t *)bs;
    if (s->ssl) {
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static int connect_to(syslog_sink_t *s, bw_err_t *err)
{
    struct addrinfo hints = {0}, *ai = NULL;
    int udp = !strcmp(s->proto, "udp");
    hints.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM;
    int g = getaddrinfo(s->host, s->port, &hints, &ai);
    if (g)
        return bw_err_set(err, "syslog %s://%s:%s: %s", s->proto, s->host, s->port,
                          gai_strerror(g));
    int fd = -1, e = 0;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int rc = connect(fd, a->ai_addr, a->ai_addrlen);
        if (rc && errno == EINPROGRESS) {
            struct pollfd p = {fd, POLLOUT, 0};
            socklen_t l = sizeof e;
            if (poll(&p, 1, IO_TIMEOUT_MS) == 1 && !getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l))
                rc = e ? -1 : 0;
            else
                e = ETIMEDOUT;
        } else if (rc) {
            e = errno;
        }
        if (rc == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return bw_err_set(err, "syslog %s://%s:%s: connect: %s", s->proto, s->host, s->port,
                          strerror(e ? e : ECONNREFUSED));
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    struct timeval tv = {IO_TIMEOUT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    s->fd = fd;
    if (strcmp(s->proto, "tls"))
        return BW_OK;
    s->ssl = SSL_new(s->ctx);
    if (!s->ssl) {
        sink_reset(&s->base);
        return bw_err_set(err, "syslog tls: out of memory");
    }
    SSL_set_fd(s->ssl, fd);
    SSL_set_tlsext_host_name(s->ssl, s->host);
    X509_VERIFY_PARAM *vp = SSL_get0_param(s->ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(vp, s->host) != 1)
        SSL_set1_host(s->ssl, s->host); /* a name, not an address */
    if (SSL_connect(s->ssl) != 1) {
        long v = SSL_get_verify_result(s->ssl);
        unsigned long ec = ERR_get_error();
        char why[256];
        ERR_error_string_n(ec, why, sizeof why);
        sink_reset(&s->base);
        ERR_clear_error();
        return bw_err_set(err, "syslog tls://%s:%s: handshake failed: %s",
                          s->host, s->port, v != X509_V_OK ? X509_verify_cert_error_string(v) : why);
    }
    return BW_OK;
}

static int send_all(syslog_sink_t *s, const char *p, size_t len, bw_err_t *err)
{
    while (len) {
        ssize_t w;
        if (s->ssl) {
            size_t done = 0;
            if (SSL_write_ex(s->ssl, p, len, &done) != 1) {
                ERR_clear_error();
                return bw_err_set(err, "syslog tls://%s:%s: write failed", s->host, s->port);
            }
            w = (ssize_t)done;
        } else {
            w = send(s->fd, p, len, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return bw_err_set(err, "syslog %s://%s:%s: send: %s", s->proto, s->host, s->port,
                                  strerror(errno));
        }
        p += w;
        len -= (size_t)w;
    }
    return BW_OK;
}

static int sink_send(bw_evsink_t *bs, json_t *events, bw_err_t *err)
{
    syslog_sink_t *s = (syslog_sink_t *)bs;
    if (s->fd < 0 && connect_to(s, err) != BW_OK)
        return BW_ERR;
    int udp = !strcmp(s->proto, "udp");
    bw_buf_t msg = {0}, frame = {0};
    size_t i;
    json_t *ev;
    int rc = BW_OK;
    json_array_foreach(events, i, ev) {
        bw_buf_reset(&msg);
        bw_evout_format_5424(&msg, ev, s->facility, s->fmt);
        if (msg.oom) {
            rc = bw_err_set(err, "syslog: out of memory");
            break;
        }
        if (udp) {
            /* one datagram per message; a refused one (ICMP) shows on the next send */
            if (send(s->fd, msg.p, msg.len, MSG_NOSIGNAL) < 0) {
                rc = bw_err_set(err, "syslog udp://%s:%s: send: %s", s->host, s->port,
                                strerror(errno));
                break;
            }
            continue;
        }
        bw_buf_printf(&frame, "%zu ", msg.len);
        bw_buf_append(&frame, msg.p, msg.len);
    }
    if (rc == BW_OK && !udp && frame.len)
        rc = frame.oom ? bw_err_set(err, "syslog: out of memory")
                       : send_all(s, frame.p, frame.len, err);
    bw_buf_free(&msg);
    bw_buf_free(&frame);
    return rc;
}

static void sink_free(bw_evsink_t *bs)
{
    syslog_sink_t *s = (syslog_sink_t *)bs;
    sink_reset(bs);
    if (s->ctx)
        SSL_CTX_free(s->ctx);
    free(s->ca_file);
    free(s);
}

bw_evsink_t *bw_evsink_syslog_new(const bw_events_conf_t *c, bw_err_t *err)
{
    syslog_sink_t *s = calloc(1, sizeof *s);
    if (!s) {
        bw_err_set(err, "syslog: out of memory");
        return NULL;
    }
    s->fd = -1;
    s->facility = c->syslog_facility;
    s->fmt = c->syslog_format;
    s->base.send = sink_send;
    s->base.reset = sink_reset;
    s->base.free = sink_free;
    if (bw_events_parse_target(c->syslog_target, s->proto, sizeof s->proto, s->host,
                               sizeof s->host, s->port, sizeof s->port, err) != BW_OK) {
        free(s);
        return NULL;
    }
    if (!strcmp(s->proto, "tls")) {
        s->ctx = SSL_CTX_new(TLS_client_method());
        if (!s->ctx) {
            free(s);
            bw_err_set(err, "syslog tls: cannot make an OpenSSL context");
            return NULL;
        }
        SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
        int ok = c->syslog_ca_file && c->syslog_ca_file[0]
                     ? SSL_CTX_load_verify_locations(s->ctx, c->syslog_ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths(s->ctx);
        if (ok != 1) {
            bw_err_set(err, "SyslogCAFile %s: cannot be loaded as PEM CA certificates",
                       c->syslog_ca_file ? c->syslog_ca_file : "(system)");
            ERR_clear_error();
            SSL_CTX_free(s->ctx);
            free(s);
            return NULL;
        }
    }
    return &s->base;
}
