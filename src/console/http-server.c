/* SPDX-License-Identifier: Apache-2.0 */
/* The console's HTTP server: libmicrohttpd with a thread pool.
 *
 * Request bodies are the one thing a client controls in size, so they are
 * bounded while they arrive, never after: the route is found from the
 * request line before the first body byte, a Content-Length above the
 * route's limit (MaxBatchBytes for event batches, MaxRequestBytes for the
 * rest) is answered 413 at once, and a chunked body that grows past it stops
 * being kept (the rest is read and dropped, so the connection's framing
 * stays intact) and gets the same 413.  At most limit bytes per request are
 * ever held.
 *
 * TLS is MHD's (GnuTLS) from PEM files read at start; without a certificate
 * the console speaks plain HTTP and says so (the quick start). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/core.h"
#include "console/console.h"
#include "core/log.h"

typedef struct conn_state {
    bw_req_t req;
    const bw_route_t *route;
    int method_mismatch;
    bw_buf_t body;
    size_t limit;
    int too_big;
    int answered;
} conn_state_t;

static char *tls_cert_pem, *tls_key_pem;

static void finish_response(conn_state_t *cs)
{
    bw_req_t *r = &cs->req;
    if (!r->resp)
        bw_reply_error(r, 500, "no answer");
    bw_add_security_headers(r->con, r->resp);
    if (r->no_store)
        MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (r->cookie[0])
        MHD_add_response_header(r->resp, MHD_HTTP_HEADER_SET_COOKIE, r->cookie);
    unsigned s = r->status;
    bw_console_t *con = r->con;
    if (s < 300)
        atomic_fetch_add_explicit(&con->req_2xx, 1, memory_order_relaxed);
    else if (s < 400)
        atomic_fetch_add_explicit(&con->req_3xx, 1, memory_order_relaxed);
    else if (s < 500)
        atomic_fetch_add_explicit(&con->req_4xx, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&con->req_5xx, 1, memory_order_relaxed);
}

static mhd_result queue(conn_state_t *cs)
{
    finish_response(cs);
    mhd_result ret = MHD_queue_response(cs->req.c, cs->req.status, cs->req.resp);
    MHD_destroy_response(cs->req.resp);
    cs->req.resp = NULL;
    cs->answered = 1;
    return ret;
}

static mhd_result on_request(void *cls, struct MHD_Connection *c, const char *url,
                             const char *method, const char *version, const char *upload_data,
                             size_t *upload_data_size, void **con_cls)
{
    (void)version;
    bw_console_t *con = cls;
    conn_state_t *cs = *con_cls;
    if (!cs) {
        cs = calloc(1, sizeof(*cs));
        if (!cs)
            return MHD_NO;
        *con_cls = cs;
        cs->req.con = con;
        cs->req.c = c;
        cs->req.method = method;
        cs->req.url = url;
        cs->req.get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
        cs->route = bw_route_find(method, url, &cs->req, &cs->method_mismatch);
        cs->limit = cs->route && cs->route->batch ? con->conf->max_batch_bytes
                                                  : con->conf->max_body_bytes;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > cs->limit) {
            if (cs->route && cs->route->batch)
                atomic_fetch_add_explicit(&con->batches_too_big, 1, memory_order_relaxed);
            bw_reply_error(&cs->req, 413, "body: %s bytes, more than %zu", cl, cs->limit);
            return queue(cs);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!cs->answered && !cs->too_big) {
            if (cs->body.len + *upload_data_size > cs->limit) {
                cs->too_big = 1;
                bw_buf_free(&cs->body);
                if (cs->route && cs->route->batch)
                    atomic_fetch_add_explicit(&con->batches_too_big, 1, memory_order_relaxed);
            } else {
                bw_buf_append(&cs->body, upload_data, *upload_data_size);
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (cs->answered)
        return MHD_YES;
    bw_req_t *r = &cs->req;
    if (cs->too_big) {
        bw_reply_error(r, 413, "body: more than %zu bytes", cs->limit);
        return queue(cs);
    }
    if (cs->body.oom) {
        bw_reply_error(r, 500, "out of memory");
        return queue(cs);
    }
    bw_buf_append(&cs->body, "", 1); /* NUL-terminated for the handlers */
    r->body = cs->body.p;
    r->body_len = cs->body.len - 1;
    if (!cs->route) {
        if (cs->method_mismatch)
            bw_reply_error(r, 405, "%s: method %s not allowed", url, method);
        else
            bw_reply_error(r, 404, "%s: not found", url);
        return queue(cs);
    }
    if (strncmp(url, "/api/", 5) == 0)
        r->no_store = 1;
    if (bw_auth_check(r, cs->route) == BW_OK)
        cs->route->fn(r);
    return queue(cs);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    conn_state_t *cs = *con_cls;
    if (!cs)
        return;
    if (cs->req.resp)
        MHD_destroy_response(cs->req.resp);
    bw_req_free_auth(&cs->req);
    bw_buf_free(&cs->body);
    free(cs);
    *con_cls = NULL;
}

static char *read_pem(const char *path, bw_err_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return bw_err_set(err, "%s: %s", path, strerror(errno)), NULL;
    bw_buf_t b = {0};
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0 && b.len < (1u << 20))
        bw_buf_append(&b, tmp, n);
    fclose(f);
    bw_buf_append(&b, "", 1);
    if (b.oom || b.len < 2 || !strstr(b.p, "-----BEGIN ")) {
        bw_buf_free(&b);
        return bw_err_set(err, "%s: not a PEM file", path), NULL;
    }
    return b.p;
}

/* "ADDR:PORT", "[v6]:PORT" or "*:PORT". */
static int parse_listen(const char *s, struct sockaddr_storage *ss, bw_err_t *err)
{
    char host[300];
    const char *colon = strrchr(s, ':');
    if (!colon || !colon[1] || (size_t)(colon - s) >= sizeof(host))
        return bw_err_set(err, "Listen %s: expected ADDR:PORT", s), BW_ERR;
    memcpy(host, s, colon - s);
    host[colon - s] = 0;
    char *h = host;
    size_t hl = strlen(h);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
        h[hl - 1] = 0, h++;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *ai;
    int e = getaddrinfo(!strcmp(h, "*") || !*h ? NULL : h, colon + 1, &hints, &ai);
    if (e)
        return bw_err_set(err, "Listen %s: %s", s, gai_strerror(e)), BW_ERR;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return BW_OK;
}

int bw_http_start(bw_console_t *con, bw_err_t *err)
{
    const bw_console_conf_t *cf = con->conf;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (parse_listen(cf->listen, &ss, err) != BW_OK)
        return BW_ERR;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
#ifdef MHD_USE_AUTO
    flags |= MHD_USE_AUTO;
#endif
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    con->tls = cf->tls_cert && *cf->tls_cert;
    if (con->tls) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
            return bw_err_set(err, "TlsCertificate: this libmicrohttpd has no TLS support"),
                   BW_ERR;
        if (!(tls_cert_pem = read_pem(cf->tls_cert, err)) ||
            !(tls_key_pem = read_pem(cf->tls_key, err)))
            return BW_ERR;
        flags |= MHD_USE_TLS;
    }
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &ss},
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)cf->threads, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, 60, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, 1024, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, 256, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 256 * 1024, NULL},
        {con->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, tls_cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, tls_key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    /* Every signal blocked in MHD's threads: SIGTERM and SIGHUP reach main. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    con->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, con, MHD_OPTION_ARRAY, opts,
                                MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!con->mhd)
        return bw_err_set(err, "Listen %s: cannot start the HTTP server (address in use, or a "
                               "bad certificate/key?)", cf->listen), BW_ERR;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(con->mhd, MHD_DAEMON_INFO_BIND_PORT);
    bw_log(BW_LOG_INFO, "listening on %s (port %u) over %s", cf->listen, di ? di->port : 0,
           con->tls ? "HTTPS" : "plain HTTP: no TlsCertificate (quick start); production sets "
                                "TlsCertificate and TlsKey");
    return BW_OK;
}

void bw_http_stop(bw_console_t *con)
{
    if (con->mhd)
        MHD_stop_daemon(con->mhd);
    con->mhd = NULL;
    free(tls_cert_pem);
    free(tls_key_pem);
    tls_cert_pem = tls_key_pem = NULL;
}
