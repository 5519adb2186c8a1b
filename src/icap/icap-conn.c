/* SPDX-License-Identifier: Apache-2.0 */
/* One ICAP connection: read, parse, stream the body into the scan, answer.
 *
 * The state machine is driven by process_input(), which runs over whatever
 * bytes are buffered until it needs more or has handed work away: to the
 * thread pool (the end of a scan, which may unpack archives) or to the
 * socket (a response being written).  The pure parsers never see the socket;
 * this file never parses bytes itself.
 *
 * Lifetimes: a connection owns its buffers, its body pipeline and its raw
 * spool; accepting, draining, closing and freeing it are icap-conn-life.c.
 */
#include "icap/icap-conn-t.h"

#include "core/stats.h"
#include "policy/groups.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/spool.h"
#include "icap/icap-body.h"
#include "icap/icap-parse.h"
#include "icap/icap-policy.h"
#include "icap/icap-tls.h"

static void process_input(conn_t *c);

static void copy_str(char *dst, size_t cap, bw_icap_str_t s)
{
    size_t n = s.n < cap - 1 ? s.n : cap - 1;
    memcpy(dst, s.p, n);
    dst[n] = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
            dst[i] = '?';
}

/* ---- output -------------------------------------------------------------- */

static void request_done(conn_t *c);

static void on_write(uv_write_t *req, int status)
{
    wreq_t *wr = (wreq_t *)req;
    conn_t *c = wr->c;
    bw_buf_free(&wr->buf);
    free(wr);
    c->writes--;
    if (status < 0 || c->closing) {
        bw_conn_close(c);
        bw_conn_free_if_done(c);
        return;
    }
    if (c->tls && !bw_tls_ready(c->tls))
        return; /* handshake bytes: an answer waiting for the handshake is still to go */
    if (c->paused && c->state == ST_BODY &&
        uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) < WRITE_QUEUE_MAX / 4) {
        c->paused = 0;
        bw_conn_start_reading(c);
        return;
    }
    if (c->state == ST_WRITE && c->writes == 0) {
        if (c->echo_active)
            bw_conn_echo_next(c);
        else
            request_done(c);
    }
}

/* Hands c->out to the socket. */
void bw_conn_flush(conn_t *c)
{
    bw_buf_t *src = &c->out;
    if (c->closing)
        return;
    if (c->tls && !(src = bw_conn_tls_seal(c))) {
        bw_conn_close(c);
        return;
    }
    if (!src->len)
        return;
    if (src->oom) {
        bw_conn_close(c);
        return;
    }
    wreq_t *wr = calloc(1, sizeof *wr);
    if (!wr) {
        bw_conn_close(c);
        return;
    }
    wr->c = c;
    wr->buf = *src;
    memset(src, 0, sizeof *src);
    uv_buf_t b = uv_buf_init(wr->buf.p, (unsigned)wr->buf.len);
    c->writes++;
    if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
        c->writes--;
        bw_buf_free(&wr->buf);
        free(wr);
        bw_conn_close(c);
    }
}

/* Sends a complete answer; the request ends when it is written. */
void bw_conn_respond(conn_t *c, int close_after)
{
    c->close_after |= close_after;
    c->state = ST_WRITE;
    bw_conn_deadline_stop(c);
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    /* A client that stops reading our answer is timed out too. */
    uv_timer_start(&c->timer, bw_conn_on_timeout, c->w->timeout_ms, c->w->timeout_ms);
    bw_conn_flush(c);
}

void bw_conn_respond_error(conn_t *c, int status)
{
    if (c->early) {
        /* An answer is already on the wire: all we can do is cut it. */
        bw_conn_close(c);
        return;
    }
    bw_buf_reset(&c->out);
    bw_icap_build_error(c->w->env, status, 1, &c->out);
    bw_conn_respond(c, 1);
}

static void start_passthrough(conn_t *c);

/* Streams the raw body back as chunks, one block per write. */
void bw_conn_echo_next(conn_t *c)
{
    uint64_t left = c->raw.size - c->echo_off;
    if (!left && c->rest_unread) {
        start_passthrough(c);
        return;
    }
    if (!left) {
        bw_buf_puts(&c->out, "0\r\n\r\n");
        c->echo_active = 0;
        bw_conn_flush(c);
        return;
    }
    uint64_t n = left > ECHO_BLOCK ? ECHO_BLOCK : left;
    if (bw_conn_put_raw_chunks(c, c->echo_off, n) != BW_OK) {
        bw_conn_close(c);
        return;
    }
    c->echo_off += n;
    bw_conn_flush(c);
}

/* ---- answers after a verdict --------------------------------------------- */

/* ---- scanning ------------------------------------------------------------ */

static void work_finish(uv_work_t *req)
{
    conn_t *c = req->data;
    __atomic_sub_fetch(&c->w->scans_waiting, 1, __ATOMIC_RELAXED); /* it has its thread */
    bw_stats_slot_scans(c->w->env->stats, -1, +1);
    if (bw_icap_body_finish(c->body, &c->verdict) != BW_OK) {
        memset(&c->verdict, 0, sizeof c->verdict);
        c->verdict.status = BW_ERROR;
    }
}

static void after_finish(uv_work_t *req, int status)
{
    conn_t *c = req->data;
    c->working = 0;
    bw_stats_slot_scans(c->w->env->stats, 0, -1);
    if (c->closing) {
        bw_conn_free_if_done(c);
        return;
    }
    if (status < 0) {
        bw_conn_respond_error(c, 500);
        return;
    }
    bw_conn_answer_verdict(c);
}

/* The body is complete (or the verdict is decided): end the scan off the loop. */
static void finish_scan(conn_t *c)
{
    c->state = ST_WORK;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    uv_timer_stop(&c->timer);
    uv_timer_stop(&c->stall);
    uv_timer_stop(&c->hold);
    bw_conn_deadline_stop(c);
    c->work.data = c;
    c->working = 1;
    __atomic_add_fetch(&c->w->scans_waiting, 1, __ATOMIC_RELAXED);
    bw_stats_slot_scans(c->w->env->stats, +1, 0);
    if (uv_queue_work(c->w->loop, &c->work, work_finish, after_finish) < 0) {
        __atomic_sub_fetch(&c->w->scans_waiting, 1, __ATOMIC_RELAXED);
        bw_stats_slot_scans(c->w->env->stats, -1, 0);
        c->working = 0;
        bw_conn_respond_error(c, 500);
    }
}

/* The verdict is due, and no more of the body may be echoed, when the scan
 * is decided, or when what it found so far already keeps the object from
 * passing as it is: a status whose action is not skip, or a curable finding
 * (cured or blocked, never echoed).  Only INFECTED stops the engine, so
 * without this a WARNING found at the start of a large body would be echoed
 * in partial mode before the verdict cut the answer. */
static int verdict_due(const conn_t *c)
{
    if (bw_icap_body_decided(c->body))
        return 1;
    bw_verdict_t so_far = {.status = bw_icap_body_found(c->body)};
    return so_far.status != BW_CLEAN && bw_icap_action_for(c->ic, &so_far) != BW_ACT_SKIP;
}

/* 1 while the client may be holding the body back until our answer starts:
 * it keeps no copy (no Allow: 204) and the preview, if any, is over. */
static int may_stall(const conn_t *c)
{
    return c->state == ST_BODY && c->keep_raw && !(c->has_preview && !c->sent_100) &&
           !verdict_due(c);
}

/* Complete mode starts the answer only when the client stops sending: a
 * client that sends the whole body gets the block page if there is one. */
static void on_stall(uv_timer_t *t)
{
    conn_t *c = t->data;
    if (!c->closing && !c->early && may_stall(c))
        bw_conn_send_early_head(c);
}

/* Partial mode: queues raw[echo_sent, end) as chunks; closes on a spool
 * read error (the answer cannot be completed then). */
static int echo_upto(conn_t *c, uint64_t end)
{
    if (bw_conn_put_raw_chunks(c, c->echo_sent, end - c->echo_sent) != BW_OK) {
        bw_conn_close(c);
        return BW_ERR;
    }
    c->echo_sent = end;
    return BW_OK;
}

/* MaxSendDelayTime: a slow body (a stream, a stalled origin) must not keep
 * its held-back bytes from the client for ever.  Everything received so far
 * goes out; what arrives next is held again. */
static void on_hold_expired(uv_timer_t *t)
{
    conn_t *c = t->data;
    if (c->closing || !c->early || c->state != ST_BODY || verdict_due(c) ||
        c->raw.size <= c->echo_sent)
        return;
    if (echo_upto(c, c->raw.size) == BW_OK)
        bw_conn_flush(c);
}

/* Partial mode: past EARLY_BYTES the head goes out and the body follows as
 * it is scanned, all but the last HoldBackSize bytes. */
static void stream_progress(conn_t *c)
{
    const bw_icap_conf_t *ic = c->ic;
    if (!may_stall(c) && !(c->early && c->state == ST_BODY && !verdict_due(c)))
        return;
    if (ic->answer_mode == BW_ANSWER_COMPLETE && !(c->allow & BW_ICAP_ALLOW_206)) {
        /* The whole verdict first, unless the client stalls (the timer).
         * A client that offered 206 but not 204 (Squid above 64 KiB) keeps
         * the body it sent for the 206 and stops at its buffer's end; an
         * answer head alone does not reliably restart it (Squid 5), only
         * body data does.  So such a client is answered as in partial
         * mode, holding back the tail: it can never wait for a verdict. */
        if (!c->early)
            uv_timer_start(&c->stall, on_stall, STALL_MS, 0);
        return;
    }
    if (!c->early) {
        if (c->body_bytes < EARLY_BYTES)
            return;
        bw_conn_send_early_head(c);
    }
    if (c->raw.size > c->echo_sent + ic->hold_back && echo_upto(c, c->raw.size - ic->hold_back) != BW_OK)
        return;
    if (c->raw.size > c->echo_sent && ic->max_send_delay_ms && !uv_is_active((uv_handle_t *)&c->hold))
        uv_timer_start(&c->hold, on_hold_expired, ic->max_send_delay_ms, 0);
    bw_conn_flush(c);
    if (!c->closing && c->reading &&
        uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > WRITE_QUEUE_MAX) {
        uv_read_stop((uv_stream_t *)&c->tcp); /* back-pressure: on_write resumes */
        c->reading = 0;
        c->paused = 1;
    }
}

/* A verdict that let the object pass came before its body ended (a limit
 * decided it: MaxFileSize, MaxScanSize...), and everything received so far
 * has been echoed.  The rest must follow, or the client would take a
 * truncated object for the whole one: it is echoed as it arrives, unscanned
 * as the verdict says, and the last chunk ends the answer. */
static void start_passthrough(conn_t *c)
{
    c->echo_active = 0;
    c->rest_unread = 0;
    c->passthrough = 1;
    c->close_after = 0; /* the body will be read to its end: the connection stays usable */
    c->state = ST_BODY;
    bw_conn_start_reading(c);
    process_input(c); /* bytes already buffered */
}

static void passthrough_piece(conn_t *c, const char *p, size_t n)
{
    c->body_bytes += n;
    bw_icap_chunk_out(&c->out, p, n);
    bw_conn_flush(c);
    if (!c->closing && c->reading &&
        uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > WRITE_QUEUE_MAX) {
        uv_read_stop((uv_stream_t *)&c->tcp); /* back-pressure: on_write resumes */
        c->reading = 0;
        c->paused = 1;
    }
}

static void body_piece(conn_t *c, const char *p, size_t n)
{
    if (c->passthrough) {
        passthrough_piece(c, p, n);
        return;
    }
    c->body_bytes += n;
    if ((c->keep_raw || bw_icap_may_quarantine(c->ic)) && bw_spool_write(&c->raw, p, n) != BW_OK) {
        bw_conn_respond_error(c, 500);
        return;
    }
    const bw_icap_conf_t *ic = c->ic;
    if (ic->max_req_length && c->body_bytes > ic->max_req_length) {
        c->too_large = 1;
        c->body_done = 1;
    }
    if (!c->body_done && bw_icap_body_feed(c->body, p, n) == BW_DONE)
        c->body_done = 1;
    if (c->state != ST_BODY || c->closing || (c->has_preview && !c->sent_100))
        return;
    if (verdict_due(c) && (c->early || (c->keep_raw && c->body_bytes >= EARLY_BYTES))) {
        /* Decided while the client may stall on us, or after the answer
         * started: answer now (block page, or the cut).  A pass verdict
         * echoes the rest as it comes (start_passthrough); otherwise the
         * unread rest of the body means the connection closes after. */
        c->close_after = 1;
        c->rest_unread = 1;
        finish_scan(c);
        return;
    }
    stream_progress(c);
}

/* Body bytes are taken in pieces no longer than half the hold-back, so a
 * detection always comes before the bytes that complete it are echoed. */
static void body_data(conn_t *c, const char *p, size_t n)
{
    size_t piece = c->ic->hold_back / 2;
    if (piece < 4096)
        piece = 4096;
    while (n && c->state == ST_BODY && !c->closing) {
        size_t k = n < piece ? n : piece;
        body_piece(c, p, k);
        p += k;
        n -= k;
    }
    if (n && c->rest_unread && c->keep_raw && !c->closing) {
        /* The verdict was decided inside this chunk: what is left of it is
         * kept (unscanned) for an echo that may have to include it. */
        c->body_bytes += n;
        if (bw_spool_write(&c->raw, p, n) != BW_OK)
            bw_conn_close(c);
    }
}

/* ---- request head and encapsulated headers -------------------------------- */

static void start_request(conn_t *c, const bw_icap_req_t *req)
{
    c->t_start = bw_clock_ms();
    c->ic = c->w->env->ic;
    c->group = NULL;
    c->method = req->method;
    c->allow = req->allow;
    c->has_preview = req->has_preview;
    c->client_close = req->conn_close;
    c->encap = req->encap;
    c->body_kind = bw_icap_encap_body(&req->encap);
    const bw_icap_conf_t *ic = c->ic;
    int ip = bw_hdr_find(req->headers, req->nheaders, ic->client_ip_header, 0);
    if (ip >= 0)
        copy_str(c->client_ip, sizeof c->client_ip, req->headers[ip].value);
    int u = bw_hdr_find(req->headers, req->nheaders, ic->user_header, 0);
    if (u < 0)
        u = bw_hdr_find(req->headers, req->nheaders, "X-Authenticated-User", 0);
    if (u >= 0) {
        copy_str(c->user, sizeof c->user, req->headers[u].value);
        bw_conn_user_decode(c->user);
    }
}

/* The URL of the scanned object, for logs and block pages. */
static void note_url(conn_t *c)
{
    if (!c->has_req)
        return;
    const bw_http_msg_t *m = &c->reqmsg;
    if (m->target.n && m->target.p[0] == '/') {
        int h = bw_hdr_find(m->headers, m->nheaders, "Host", 0);
        bw_icap_str_t host = h >= 0 ? m->headers[h].value : (bw_icap_str_t){"", 0};
        snprintf(c->url, sizeof c->url, "http://%.*s%.*s", (int)host.n, host.p, (int)m->target.n,
                 m->target.p);
        /* A folded Host header can carry CR LF: the URL goes into the report
         * log, one line per object, so no control byte may reach it. */
        for (char *p = c->url; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
    } else {
        copy_str(c->url, sizeof c->url, m->target);
    }
}

static const char *url_basename(const char *url)
{
    const char *q = strchr(url, '?');
    size_t n = q ? (size_t)(q - url) : strlen(url);
    static __thread char name[256];
    size_t i = n;
    while (i && url[i - 1] != '/')
        i--;
    snprintf(name, sizeof name, "%.*s", (int)(n - i), url + i);
    return name; /* "" when unknown: the body names it "object" */
}

static int begin_body(conn_t *c)
{
    const bw_icap_conf_t *ic = c->ic;
    bw_limits_t lim;
    bw_limits_default(&lim);
    lim.scan_archives = ic->scan_archives;
    lim.max_scan_ms = (uint32_t)ic->max_scan_time_ms;
    lim.max_depth = (uint32_t)ic->max_nesting_level;
    lim.max_files = (uint32_t)ic->max_files;
    lim.max_file_size = ic->max_file_size;
    lim.max_scan_bytes = ic->max_scan_size;
    const bw_http_msg_t *msg = bw_conn_body_msg(c);
    c->body = bw_icap_body_new(c->w->env->engine, &lim, c->method == BW_ICAP_REQMOD, msg,
                               url_basename(c->url));
    if (!c->body)
        return BW_ERR;
    /* Keep the original only when the answer may have to echo it. */
    c->keep_raw = !((ic->allow204 && (c->allow & BW_ICAP_ALLOW_204)) ||
                    (ic->allow206 && (c->allow & BW_ICAP_ALLOW_206) && !c->has_preview));
    bw_spool_init(&c->raw, BW_SPOOL_MEM_DEFAULT);
    return BW_OK;
}

static int parse_encap_headers(conn_t *c)
{
    bw_icap_str_t rq = {0}, rs = {0};
    bw_icap_perr_t pe;
    if (bw_icap_encap_split(&c->encap, c->hdrs.p, c->hdrs.len, &rq, &rs, &pe) != BW_OK)
        return BW_ERR;
    if (rq.n) {
        if (bw_http_parse_block(rq.p, rq.n, 0, &c->reqmsg, &pe) != BW_OK)
            return BW_ERR;
        c->has_req = 1;
    }
    if (rs.n) {
        if (bw_http_parse_block(rs.p, rs.n, 1, &c->resmsg, &pe) != BW_OK)
            return BW_ERR;
        c->has_res = 1;
    }
    note_url(c);
    return BW_OK;
}

/* ---- the state machine ----------------------------------------------------- */

static void step_head(conn_t *c)
{
    bw_icap_req_t *req = malloc(sizeof *req);
    bw_icap_perr_t pe;
    if (!req) {
        bw_conn_respond_error(c, 500);
        return;
    }
    int n = bw_icap_parse_head(c->in.p, c->in.len, c->last_len, req, &pe);
    if (n == BW_AGAIN) {
        c->last_len = c->in.len;
        free(req);
        if (c->in.len > BW_ICAP_MAX_HEAD)
            bw_conn_respond_error(c, 400);
        return;
    }
    if (n < 0) {
        free(req);
        bw_conn_respond_error(c, pe.status ? pe.status : 400);
        return;
    }
    if (req->method == BW_ICAP_UNKNOWN) {
        free(req);
        bw_conn_respond_error(c, 501);
        return;
    }
    start_request(c, req);
    c->svc = bw_icap_service_lookup(c->w->env, &req->uri.path);
    const char *why;
    int bad = c->svc == BW_SVC_NONE ? 404 : !bw_icap_service_allows(c->svc, req->method) ? 405
              : bw_icap_encap_check(&req->encap, req->method, &why) != BW_OK ? 400 : 0;
    free(req);
    bw_buf_consume(&c->in, (size_t)n);
    c->last_len = 0;
    if (bad) {
        bw_conn_respond_error(c, bad);
        return;
    }
    if (c->method != BW_ICAP_OPTIONS && bw_conn_overloaded(c->w)) {
        /* Refused without scanning: the client may retry or, as a NAS set
         * to fail open, let the file through (docs/icap-nas.md). */
        c->refused = 503;
        c->discard_hdrs = bw_icap_encap_hdr_len(&c->encap);
        c->state = ST_DISCARD;
        bw_conn_deadline_body(c); /* what is dropped must still come at MinBodyRate */
        return;
    }
    if (c->method == BW_ICAP_OPTIONS) {
        /* An opt-body, if any, is not ours to interpret: we close after. */
        int close = c->client_close || c->body_kind == BW_ENC_OPT_BODY;
        bw_icap_build_options(c->w->env, c->svc, close, &c->out);
        bw_conn_respond(c, close);
        return;
    }
    c->state = ST_ENCAP;
}

static void step_encap(conn_t *c)
{
    uint32_t need = bw_icap_encap_hdr_len(&c->encap);
    if (c->in.len < need)
        return;
    bw_buf_append(&c->hdrs, c->in.p, need);
    bw_buf_consume(&c->in, need);
    if (c->hdrs.oom || parse_encap_headers(c) != BW_OK) {
        bw_conn_respond_error(c, 400);
        return;
    }
    /* The request's group, by client address and URL, picks its settings. */
    bw_icap_env_t *env = c->w->env;
    if (env->groups) {
        c->group = bw_groups_match(env->groups, c->client_ip[0] ? c->client_ip : NULL,
                                   c->url[0] ? c->url : NULL);
        const bw_icap_conf_t *gic = c->group && env->st
                                        ? bw_conf_get(env->st, &bw_icap_conf_table, c->group) : NULL;
        if (gic)
            c->ic = gic;
    }
    if (begin_body(c) != BW_OK) {
        bw_conn_respond_error(c, 500);
        return;
    }
    const bw_http_msg_t *msg = bw_conn_body_msg(c);
    if (bw_icap_header_policy(c->w->env, c->ic, msg, c->method != BW_ICAP_REQMOD,
                              c->url[0] ? c->url : NULL, c->body)) {
        /* Excluded: nothing is scanned, and with a preview the 204 comes
         * before the rest of the body crosses the wire. */
        c->excluded = 1;
        c->body_done = 1;
    }
    uint64_t clen;
    if (msg && c->ic->max_req_length && bw_http_content_length(msg, &clen) == BW_OK &&
        clen > c->ic->max_req_length) {
        /* Known too large from the headers: decided before the body crosses. */
        c->too_large = 1;
        c->body_done = 1;
    }
    if (c->body_kind == BW_ENC_NULL_BODY) {
        finish_scan(c);
        return;
    }
    c->state = ST_BODY;
    bw_conn_deadline_body(c);
}

static void step_body(conn_t *c)
{
    while (c->state == ST_BODY && c->in.len) {
        size_t used = 0;
        bw_icap_str_t data;
        bw_chunk_ev_t ev = bw_icap_chunk_feed(&c->chunk, c->in.p, c->in.len, &used, &data);
        if (ev == BW_CHUNK_DATA) {
            body_data(c, data.p, data.n);
            bw_buf_consume(&c->in, used);
            continue;
        }
        bw_buf_consume(&c->in, used);
        if (ev == BW_CHUNK_NEED_MORE)
            return;
        if (ev == BW_CHUNK_ERROR) {
            bw_conn_respond_error(c, 400);
            return;
        }
        /* BW_CHUNK_END */
        if (c->passthrough) {
            bw_buf_puts(&c->out, "0\r\n\r\n");
            bw_conn_respond(c, 0);
            return;
        }
        if (c->has_preview && !c->sent_100 && !c->chunk.ieof) {
            if (c->body_done || verdict_due(c)) {
                finish_scan(c); /* decided within the preview */
                return;
            }
            bw_buf_puts(&c->out, "ICAP/1.0 100 Continue\r\n\r\n");
            bw_conn_flush(c);
            c->sent_100 = 1;
            bw_icap_chunk_reset(&c->chunk);
            continue;
        }
        finish_scan(c);
        return;
    }
}

static void process_input(conn_t *c)
{
    for (;;) {
        if (c->closing)
            return;
        enum conn_state before = c->state;
        size_t len = c->in.len;
        switch (c->state) {
        case ST_HEAD:
            if (!c->in.len)
                return;
            bw_conn_deadline_head(c); /* from the request's first byte */
            if (c->w->draining)
                c->close_after = 1; /* this answer tells the client we close */
            step_head(c);
            break;
        case ST_ENCAP:
            step_encap(c);
            break;
        case ST_BODY:
            step_body(c);
            break;
        case ST_DISCARD:
            bw_conn_step_discard(c);
            break;
        default:
            return;
        }
        if (c->state == before && c->in.len == len)
            return; /* needs more bytes */
    }
}

/* ---- reading ------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn_t *c = h->data;
    (void)suggested;
    if (c->tls) {
        *buf = bw_conn_tls_rbuf(c); /* decrypted into c->in by on_read */
        return;
    }
    size_t want = c->in.len + 65536;
    if (c->in.cap < want) {
        char *np = realloc(c->in.p, want);
        if (np) {
            c->in.p = np;
            c->in.cap = want;
        }
    }
    if (c->in.cap - c->in.len == 0) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init(c->in.p + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

void bw_conn_on_timeout(uv_timer_t *t)
{
    conn_t *c = t->data;
    if (c->closing)
        bw_conn_close_handles(c); /* a TLS peer that never took its close_notify */
    else if (c->state == ST_HEAD && c->in.len == 0)
        bw_conn_close(c); /* an idle kept-alive connection */
    else if (c->state == ST_HEAD || c->state == ST_ENCAP || c->state == ST_BODY ||
             c->state == ST_DISCARD)
        bw_conn_respond_error(c, 408);
    else if (c->state == ST_WRITE)
        bw_conn_close(c);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    if (n < 0) {
        bw_conn_close(c); /* EOF or error: a request in flight is abandoned */
        return;
    }
    if (n == 0 || c->closing)
        return;
    c->rx_bytes += (uint64_t)n;
    if (!c->tls) {
        c->in.len += (size_t)n;
    } else if (bw_conn_tls_on_read(c, buf->base, (size_t)n) != BW_OK) {
        bw_conn_close(c); /* a failed handshake or record, or the peer's close_notify */
        return;
    } else {
        bw_conn_deadline_tls_check(c);
    }
    uv_timer_again(&c->timer);
    process_input(c);
}

void bw_conn_start_reading(conn_t *c)
{
    if (c->reading || c->closing)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = 1;
    if (c->state == ST_BODY)
        bw_conn_deadline_body(c); /* a window we were not reading in does not count */
    uv_timer_start(&c->timer, bw_conn_on_timeout, c->w->timeout_ms, c->w->timeout_ms);
}

static void request_done(conn_t *c)
{
    int close = c->close_after || c->client_close || c->w->draining;
    bw_conn_request_reset(c);
    c->close_after = 0;
    c->idle_since = uv_now(c->w->loop);
    if (close) {
        bw_conn_close(c);
        return;
    }
    bw_conn_start_reading(c);
    process_input(c); /* a pipelined request may already be buffered */
}
