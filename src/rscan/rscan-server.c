/* SPDX-License-Identifier: Apache-2.0 */
/* The BWSCAN/1 server on a bulwarkd worker's libuv loop.
 *
 * Parser / connection split: rscan-parse.c decides what a line means; this
 * file owns the sockets, the state of a request and the pool jobs.  One
 * request at a time per connection (the protocol says so), so a connection is
 * a small state machine: a request line; then either an answer from the
 * in-process cache, or a pool job asking Redis; on a miss SEND and the
 * chunked content, hashed as it arrives and kept in a spool (memory up to
 * SPOOL_MEM, then an unlinked temporary file: never whole in memory).  Once
 * the hash is verified, the whole scan (matching, unpacking) and the Redis
 * write run on the thread pool, so one large archive never stalls the
 * loop's other connections.
 *
 * Hostile input keeps the connection in step where the framing allows it: a
 * malformed request line, an oversized offer, content longer or shorter than
 * announced, or a hash that does not match each get "ERROR <what>" and the
 * next request is read.  Only a broken chunk header or an over-long line
 * (after which no byte can be trusted to be a boundary) close the
 * connection, after the ERROR.  A verdict is cached only under a hash the
 * server computed itself.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/stats.h"
#include "rscan/rscan-int.h"

#define READ_MAX (64 * 1024)
#define SPOOL_MEM (1u << 20)

typedef struct rs_job {
    uv_work_t work;
    rs_conn_t *c;
    int kind;             /* JOB_LOOKUP, JOB_END */
    int hit;              /* LOOKUP: 1 hit, 0 miss, -1 Redis unavailable */
    bw_status_t status;
    char threat[BW_RSCAN_THREAT_MAX];
    bw_spool_t spool;     /* END: the verified content */
    char why[256];        /* Redis trouble, logged on the loop */
} rs_job_t;

enum { JOB_LOOKUP = 1, JOB_END };

static void process(rs_conn_t *c);
static void resume(rs_conn_t *c);

static void slog(rs_server_t *s, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void slog(rs_server_t *s, int level, const char *fmt, ...)
{
    if (!s->env.log)
        return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->env.log(level, msg);
}

static void count(rs_server_t *s, enum bw_stat k, uint64_t n)
{
    if (s->env.stats)
        bw_stats_slot_add(s->env.stats, k, n);
}

/* ---- closing ----------------------------------------------------------- */

static void maybe_free_server(rs_server_t *s)
{
    if (s->closing && !s->nconns && !s->jobs && s->nlisteners == 0) {
        bw_rscan_mem_free(&s->mem);
        if (s->has_redis)
            bw_rscan_redis_free(&s->redis);
        free(s);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    rs_conn_t *c = h->data;
    if (--c->handles)
        return;
    rs_server_t *s = c->s;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    if (s->env.stats && c->counted)
        bw_stats_slot_conns(s->env.stats, -1);
    bw_buf_free(&c->in);
    bw_buf_free(&c->out);
    EVP_MD_CTX_free(c->md);
    if (c->spooling)
        bw_spool_free(&c->spool);
    rs_tls_free(c);
    free(c);
    maybe_free_server(s);
}

static void close_now(rs_conn_t *c)
{
    if (c->handles == 2 && !uv_is_closing((uv_handle_t *)&c->tcp)) {
        uv_close((uv_handle_t *)&c->timer, on_handle_closed);
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    }
}

#define WRITE_BACKLOG (1u << 20) /* queued reply bytes before we stop reading */

static void pause_reading(rs_conn_t *c)
{
    if (c->reading)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
}

/* Closes once nothing is in flight: a pool job holds c, so does a write. */
static void conn_close(rs_conn_t *c)
{
    c->closing = 1;
    pause_reading(c);
    if (c->state != RS_JOB && c->writes == 0)
        close_now(c);
}

/* ---- writing ----------------------------------------------------------- */

typedef struct {
    uv_write_t req;
    rs_conn_t *c;
    bw_buf_t buf;
} wreq_t;

static void on_written(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    rs_conn_t *c = w->c;
    bw_buf_free(&w->buf);
    free(w);
    c->writes--;
    if (status >= 0 && !c->closing && c->state != RS_JOB && !c->reading &&
        c->tcp.write_queue_size < WRITE_BACKLOG / 2)
        resume(c); /* a client that stopped reading our replies caught up */
    if (status < 0 && !c->closing)
        conn_close(c);
    else if (c->closing && c->writes == 0 && c->state != RS_JOB)
        close_now(c);
}

/* Sends what c->out holds (sealed by TLS when the connection has it). */
static void flush(rs_conn_t *c)
{
    wreq_t *w = calloc(1, sizeof *w);
    if (!w) {
        conn_close(c);
        return;
    }
    w->c = c;
    if (c->ssl) {
        if (rs_tls_seal(c, &c->out, &w->buf) != BW_OK)
            c->closing = 1;
    } else {
        w->buf = c->out;
        memset(&c->out, 0, sizeof c->out);
    }
    if (!w->buf.len || w->buf.oom) {
        bw_buf_free(&w->buf);
        free(w);
        return;
    }
    uv_buf_t b = uv_buf_init(w->buf.p, (unsigned)w->buf.len);
    c->writes++;
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
        c->writes--;
        bw_buf_free(&w->buf);
        free(w);
        conn_close(c);
    }
}

static void reply(rs_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(rs_conn_t *c, const char *fmt, ...)
{
    char line[BW_RSCAN_MAX_LINE];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    bw_buf_append(&c->out, line, (size_t)n);
    flush(c);
}

static void reply_verdict(rs_conn_t *c, bw_status_t st, const char *threat, int cached)
{
    char enc[3 * BW_RSCAN_THREAT_MAX + 4];
    if (!threat || !threat[0] || bw_rscan_pct_encode(threat, enc, sizeof enc) == (size_t)-1)
        snprintf(enc, sizeof enc, "-");
    reply(c, "VERDICT %s %s %s %s", bw_status_name(st), enc, c->s->dbv, cached ? "cached" : "scanned");
}

static void reply_error(rs_conn_t *c, const char *what)
{
    /* The message is ours, but it may quote the client: keep it on one line. */
    char clean[300];
    size_t i = 0;
    for (; what[i] && i < sizeof clean - 1; i++)
        clean[i] = (unsigned char)what[i] < 0x20 ? '?' : what[i];
    clean[i] = 0;
    reply(c, "ERROR %s", clean);
}

/* ---- the request ------------------------------------------------------- */

static void request_done(rs_conn_t *c)
{
    if (c->spooling)
        bw_spool_free(&c->spool);
    c->spooling = 0;
    c->state = RS_REQ;
}

static void start_content(rs_conn_t *c)
{
    rs_server_t *s = c->s;
    c->received = 0;
    c->bad[0] = 0;
    (void)s;
    if (!c->md)
        c->md = EVP_MD_CTX_new();
    if (!c->md || EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1) {
        reply_error(c, "server out of memory");
        request_done(c);
        return;
    }
    bw_spool_init(&c->spool, SPOOL_MEM);
    c->spooling = 1;
    c->state = RS_CHUNK_HDR;
    reply(c, "SEND");
}

static void after_job(uv_work_t *w, int status)
{
    rs_job_t *j = w->data;
    rs_conn_t *c = j->c;
    rs_server_t *s = c->s;
    (void)status;
    s->jobs--;
    c->state = RS_REQ;
    if (j->why[0]) {
        uint64_t sup = 0;
        if (bw_ratelog_allow(&s->redis_log, bw_clock_ms(), 10000, &sup))
            slog(s, 4, "%s; scanning without the shared cache%s", j->why,
                 sup ? " (similar messages suppressed)" : "");
    }
    if (!c->closing) {
        if (j->kind == JOB_LOOKUP) {
            if (j->hit == 1) {
                bw_rscan_mem_put(&s->mem, c->req.sha256, c->req.size, s->dbv, j->status, j->threat);
                count(s, BW_ST_RSCAN_HITS, 1);
                reply_verdict(c, j->status, j->threat, 1);
            } else {
                start_content(c);
            }
        } else {
            bw_rscan_mem_put(&s->mem, c->req.sha256, c->req.size, s->dbv, j->status, j->threat);
            if (s->env.stats)
                bw_stats_slot_verdict(s->env.stats, (int)j->status, c->req.size);
            reply_verdict(c, j->status, j->threat, 0);
        }
    }
    free(j);
    if (c->closing) {
        if (c->writes == 0)
            close_now(c);
        maybe_free_server(s);
        return;
    }
    if (s->draining && !c->in.len) {
        conn_close(c);
        return;
    }
    resume(c);
    process(c);
}

static void work_job(uv_work_t *w)
{
    rs_job_t *j = w->data;
    rs_conn_t *c = j->c;
    rs_server_t *s = c->s;
    if (j->kind == JOB_LOOKUP) {
        j->hit = bw_rscan_redis_get(&s->redis, c->req.sha256, c->req.size, s->dbv, &j->status,
                                    j->threat, sizeof j->threat, j->why, sizeof j->why);
        return;
    }
    bw_verdict_t v;
    memset(&v, 0, sizeof v);
    bw_scan_t *scan = bw_scan_begin(s->env.engine, &s->lim, c->req.name[0] ? c->req.name : "rscan");
    int rc = scan ? BW_OK : BW_ERR;
    if (scan)
        bw_scan_expect_size(scan, c->req.size);
    char *buf = scan ? malloc(READ_MAX) : NULL;
    for (uint64_t off = 0; rc == BW_OK && buf && off < j->spool.size;) {
        ssize_t n = bw_spool_pread(&j->spool, buf, READ_MAX, off);
        if (n <= 0) {
            rc = BW_ERR;
            break;
        }
        off += (uint64_t)n;
        rc = bw_scan_feed(scan, buf, (size_t)n);
        if (rc == BW_DONE)
            break; /* decided: the rest changes nothing */
    }
    free(buf);
    bw_spool_free(&j->spool);
    if (scan && (rc == BW_ERR || !buf)) {
        bw_scan_abort(scan);
        scan = NULL;
    }
    if (!scan || bw_scan_end(scan, &v) != BW_OK) {
        j->status = BW_ERROR;
        snprintf(j->threat, sizeof j->threat, "scan failed");
        return; /* an engine failure is not a verdict to share */
    }
    j->status = v.status;
    snprintf(j->threat, sizeof j->threat, "%s", bw_verdict_name(&v));
    bw_verdict_free(&v);
    if (s->has_redis && j->status != BW_ERROR && j->status != BW_TIMEOUT)
        bw_rscan_redis_put(&s->redis, c->req.sha256, c->req.size, s->dbv, j->status, j->threat,
                           j->why, sizeof j->why);
}

static int queue_job(rs_conn_t *c, int kind)
{
    rs_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return BW_ERR;
    j->c = c;
    j->kind = kind;
    j->work.data = j;
    if (kind == JOB_END) {
        j->spool = c->spool; /* the job owns it now */
        c->spooling = 0;
    }
    c->state = RS_JOB;
    if (uv_queue_work(c->s->loop, &j->work, work_job, after_job) != 0) {
        if (kind == JOB_END)
            bw_spool_free(&j->spool);
        free(j);
        c->state = RS_REQ;
        return BW_ERR;
    }
    c->s->jobs++;
    return BW_OK;
}

static void on_request(rs_conn_t *c)
{
    rs_server_t *s = c->s;
    if (c->req.kind == BW_RSCAN_REQ_PING) {
        reply(c, "PONG %s", s->dbv);
        return;
    }
    count(s, BW_ST_RSCAN_REQUESTS, 1);
    if (c->req.size > s->env.rc->max_file_size) {
        char m[160];
        snprintf(m, sizeof m, "size %llu over MaxFileSize %llu", (unsigned long long)c->req.size,
                 (unsigned long long)s->env.rc->max_file_size);
        reply_error(c, m);
        return;
    }
    bw_status_t st;
    char threat[BW_RSCAN_THREAT_MAX];
    if (bw_rscan_mem_get(&s->mem, c->req.sha256, c->req.size, s->dbv, &st, threat, sizeof threat)) {
        count(s, BW_ST_RSCAN_HITS, 1);
        reply_verdict(c, st, threat, 1);
        return;
    }
    if (s->has_redis && queue_job(c, JOB_LOOKUP) == BW_OK)
        return;
    start_content(c);
}

/* The terminating "0" chunk: check what arrived, then finish the scan. */
static void on_content_end(rs_conn_t *c)
{
    char m[200];
    if (c->bad[0]) {
        reply_error(c, c->bad);
        request_done(c);
        return;
    }
    if (c->received != c->req.size) {
        snprintf(m, sizeof m, "size mismatch: announced %llu, received %llu",
                 (unsigned long long)c->req.size, (unsigned long long)c->received);
        reply_error(c, m);
        request_done(c);
        return;
    }
    unsigned char dig[32];
    char hex[65];
    EVP_DigestFinal_ex(c->md, dig, NULL);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", dig[i]);
    if (strcmp(hex, c->req.sha256) != 0) {
        snprintf(m, sizeof m, "SHA-256 mismatch: the content hashes to %s", hex);
        reply_error(c, m);
        request_done(c);
        return;
    }
    if (queue_job(c, JOB_END) != BW_OK) {
        reply_error(c, "server busy");
        request_done(c);
    }
}

static void on_content(rs_conn_t *c, const char *p, size_t n)
{
    count(c->s, BW_ST_RSCAN_BYTES, n);
    if (c->bad[0])
        return;
    if (c->received + n > c->req.size) {
        snprintf(c->bad, sizeof c->bad, "size mismatch: more than the announced %llu bytes",
                 (unsigned long long)c->req.size);
        return;
    }
    c->received += n;
    EVP_DigestUpdate(c->md, p, n);
    if (bw_spool_write(&c->spool, p, n) != BW_OK)
        snprintf(c->bad, sizeof c->bad, "server cannot keep the content: %s", strerror(errno));
}

static void process(rs_conn_t *c)
{
    bw_err_t err;
    size_t used;
    while (!c->closing && c->state != RS_JOB && c->in.len) {
        if (c->state == RS_REQ) {
            int rc = bw_rscan_parse_request(c->in.p, c->in.len, &c->req, &used, &err);
            if (rc == BW_AGAIN)
                break;
            if (rc == BW_ERR) {
                reply_error(c, err.msg);
                if (!used) {
                    conn_close(c);
                    return;
                }
                bw_buf_consume(&c->in, used);
                continue;
            }
            bw_buf_consume(&c->in, used);
            on_request(c);
        } else if (c->state == RS_CHUNK_HDR) {
            uint64_t len;
            int rc = bw_rscan_parse_chunk(c->in.p, c->in.len, &len, &used, &err);
            if (rc == BW_AGAIN)
                break;
            if (rc == BW_ERR) {
                reply_error(c, err.msg); /* the framing is lost: close after it */
                request_done(c);
                conn_close(c);
                return;
            }
            bw_buf_consume(&c->in, used);
            if (len == 0)
                on_content_end(c);
            else {
                c->chunk_left = len;
                c->state = RS_CHUNK_DATA;
            }
        } else { /* RS_CHUNK_DATA */
            size_t n = c->in.len < c->chunk_left ? c->in.len : (size_t)c->chunk_left;
            on_content(c, c->in.p, n);
            bw_buf_consume(&c->in, n);
            c->chunk_left -= n;
            if (!c->chunk_left)
                c->state = RS_CHUNK_HDR;
        }
    }
    /* A draining worker lets a connection finish its request, no more. */
    if (!c->closing && c->s->draining && c->state == RS_REQ && !c->in.len) {
        conn_close(c);
        return;
    }
    /* Waiting for more from the client: the idle/transfer clock restarts. */
    if (!c->closing)
        uv_timer_again(&c->timer);
}

/* ---- reading ----------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h;
    (void)hint;
    b->base = malloc(READ_MAX);
    b->len = b->base ? READ_MAX : 0;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    rs_conn_t *c = st->data;
    if (n < 0) {
        free(b->base);
        conn_close(c);
        return;
    }
    if (n > 0) {
        if (c->ssl) {
            bw_err_t err;
            int rc = rs_tls_recv(c, b->base, (size_t)n, &err);
            flush(c); /* handshake records, alerts */
            if (rc == BW_ERR) {
                slog(c->s, 6, "rscan client refused: %s", err.msg);
                free(b->base);
                conn_close(c);
                return;
            }
        } else {
            bw_buf_append(&c->in, b->base, (size_t)n);
        }
    }
    free(b->base);
    if (c->in.oom) {
        conn_close(c);
        return;
    }
    /* Back-pressure: while a job runs, or while a client that does not read
     * its replies (PING after PING) lets them pile up, read no more. */
    process(c);
    if (!c->closing && (c->state == RS_JOB || c->tcp.write_queue_size > WRITE_BACKLOG))
        pause_reading(c);
}

static void on_timeout(uv_timer_t *t)
{
    rs_conn_t *c = t->data;
    if (c->state == RS_JOB)
        return; /* our own work, not the client's silence */
    if (c->state != RS_REQ)
        reply_error(c, "timed out waiting for content");
    conn_close(c);
}

/* After a job, reading resumes (process is re-entered from after_job). */
static void resume(rs_conn_t *c)
{
    if (!c->closing && !c->reading && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = 1;
}

static void on_connection(uv_stream_t *l, int status)
{
    rs_server_t *s = l->data;
    if (status < 0 || s->draining)
        return;
    rs_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->s = s;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    /* Another worker may have taken it (the listeners are shared). */
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0 ||
        (s->env.tls_ctx && rs_tls_start(c, s->env.tls_ctx) != BW_OK)) {
        close_now(c);
        return;
    }
    if (s->env.stats) {
        c->counted = 1;
        bw_stats_slot_conns(s->env.stats, 1);
        bw_stats_slot_add(s->env.stats, BW_ST_CONNECTIONS, 1);
    }
    uint64_t to = s->env.rc->timeout_ms;
    uv_timer_start(&c->timer, on_timeout, to, to);
    resume(c);
}

/* ---- the server -------------------------------------------------------- */

void bw_rscan_db_version(const bw_engine_t *e, char *out, size_t cap)
{
    const bw_db_info_t *i = e ? bw_engine_info(e) : NULL;
    snprintf(out, cap, "%llu.%.12s", i ? (unsigned long long)i->version : 0ULL,
             i && i->source_hash[0] ? i->source_hash : "000000000000");
}

bw_rscan_server_t *bw_rscan_server_new(uv_loop_t *loop, const bw_rscan_env_t *env)
{
    rs_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->loop = loop;
    s->env = *env;
    bw_limits_default(&s->lim);
    if (s->lim.max_file_size < env->rc->max_file_size)
        s->lim.max_file_size = env->rc->max_file_size;
    bw_rscan_db_version(env->engine, s->dbv, sizeof s->dbv);
    if (bw_rscan_mem_init(&s->mem, (size_t)env->rc->cache_entries) != 0) {
        free(s);
        return NULL;
    }
    if (env->rc->redis_url && env->rc->redis_url[0]) {
        char why[300];
        if (bw_rscan_redis_init(&s->redis, env->rc->redis_url, env->rc->redis_ttl_ms, why,
                                sizeof why) == 0)
            s->has_redis = 1;
        else
            slog(s, 3, "%s; no shared cache", why);
    }
    return (bw_rscan_server_t *)s;
}

int bw_rscan_server_listen(bw_rscan_server_t *srv, int fd, bw_err_t *err)
{
    rs_server_t *s = (rs_server_t *)srv;
    if (s->nlisteners >= 16)
        return bw_err_set(err, "rscan: too many listeners");
    uv_tcp_t *l = &s->listeners[s->nlisteners];
    uv_tcp_init(s->loop, l);
    l->data = s;
    int rc = uv_tcp_open(l, fd);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)l, 511, on_connection);
    s->nlisteners++;
    if (rc != 0)
        return bw_err_set(err, "rscan: listen: %s", uv_strerror(rc));
    return BW_OK;
}

static void on_listener_closed(uv_handle_t *h)
{
    rs_server_t *s = h->data;
    s->nlisteners--;
    maybe_free_server(s);
}

static void unlisten(rs_server_t *s)
{
    for (int i = 0; i < 16; i++) {
        uv_handle_t *h = (uv_handle_t *)&s->listeners[i];
        if (h->loop && !uv_is_closing(h) && h->type == UV_TCP)
            uv_close(h, on_listener_closed);
    }
}

void bw_rscan_server_drain(bw_rscan_server_t *srv)
{
    rs_server_t *s = (rs_server_t *)srv;
    if (s->draining)
        return;
    s->draining = 1;
    unlisten(s);
    for (rs_conn_t *c = s->conns, *n; c; c = n) {
        n = c->next;
        if (c->state == RS_REQ && !c->in.len)
            conn_close(c);
    }
}

size_t bw_rscan_server_conns(const bw_rscan_server_t *srv)
{
    return ((const rs_server_t *)srv)->nconns;
}

void bw_rscan_server_close(bw_rscan_server_t *srv)
{
    rs_server_t *s = (rs_server_t *)srv;
    bw_rscan_server_drain(srv);
    s->closing = 1;
    for (rs_conn_t *c = s->conns; c; c = c->next)
        conn_close(c);
    maybe_free_server(s);
}
