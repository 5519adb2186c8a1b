/* SPDX-License-Identifier: Apache-2.0 */
/* A connection's life outside the protocol: accepted (and counted against
 * MaxConnections), reset between requests, drained when the worker stops,
 * closed (with a TLS close_notify first) and freed once its five libuv
 * handles are closed, no write is in flight and no thread-pool job holds it.
 * The protocol itself is icap-conn.c. */
#include "icap/icap-conn-t.h"

#include <stdlib.h>
#include <unistd.h>

#include "core/stats.h"
#include "core/spool.h"
#include "icap/icap-body.h"
#include "icap/icap-tls.h"

void bw_conn_request_reset(conn_t *c)
{
    bw_icap_body_free(c->body);
    c->body = NULL;
    bw_spool_free(&c->raw);
    bw_verdict_free(&c->verdict);
    bw_buf_reset(&c->hdrs);
    c->state = ST_HEAD;
    c->last_len = 0;
    c->method = BW_ICAP_UNKNOWN;
    c->svc = BW_SVC_NONE;
    c->allow = 0;
    c->has_preview = c->client_close = c->has_req = c->has_res = 0;
    c->sent_100 = c->body_done = c->keep_raw = c->too_large = c->excluded = 0;
    c->refused = 0;
    c->discard_hdrs = 0;
    c->rest_unread = c->passthrough = 0;
    c->body_bytes = 0;
    c->client_ip[0] = c->user[0] = c->url[0] = 0;
    c->echo_active = 0;
    c->echo_off = 0;
    c->early = 0;
    c->echo_sent = 0;
    c->paused = 0;
    bw_icap_chunk_reset(&c->chunk);
    bw_conn_deadline_stop(c);
}

void bw_conn_free_if_done(conn_t *c)
{
    if (c->handles || c->writes || c->working)
        return;
    bw_conn_request_reset(c);
    bw_buf_free(&c->in);
    bw_buf_free(&c->out);
    bw_buf_free(&c->hdrs);
    if (c->tls)
        bw_conn_tls_free(c);
    c->w->nconns--;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->w->env->stats)
        bw_stats_slot_conns(c->w->env->stats, -1);
    bw_icap_worker_t *w = c->w;
    bw_shcount_add(&w->conns_all, -1);
    free(c);
    bw_icap_worker_balance(w);
}

static void on_handle_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    c->handles--;
    bw_conn_free_if_done(c);
}

void bw_conn_close_handles(conn_t *c)
{
    if (c->handles_closing)
        return;
    c->handles_closing = 1;
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->stall, on_handle_closed);
    uv_close((uv_handle_t *)&c->hold, on_handle_closed);
    uv_close((uv_handle_t *)&c->deadline, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

void bw_conn_close(conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    /* A TLS peer is told with close_notify, so that it can tell our end of
     * the answer from a cut (OpenSSL 3 clients report an EOF without it). */
    if (c->tls && bw_conn_tls_goodbye(c))
        return;
    bw_conn_close_handles(c);
}

void bw_icap_worker_drain(bw_icap_worker_t *w, uint64_t idle_grace_ms)
{
    w->draining = 1;
    uint64_t now = uv_now(w->loop);
    for (conn_t *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (c->closing)
            continue;
        if (c->state == ST_HEAD && c->in.len == 0 && !c->writes) {
            if (now - c->idle_since >= idle_grace_ms)
                bw_conn_close(c); /* idle between requests */
        } else {
            c->close_after = 1; /* its answer says so; then it closes */
        }
    }
}

static void conn_accept(bw_icap_worker_t *w, uv_stream_t *server, int fd,
                        struct ssl_ctx_st *tls_ctx)
{
    conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        if (fd >= 0)
            close(fd);
        return;
    }
    c->w = w;
    c->idle_since = uv_now(w->loop);
    w->nconns++;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    if (w->env->stats) {
        bw_stats_slot_add(w->env->stats, BW_ST_CONNECTIONS, 1);
        bw_stats_slot_conns(w->env->stats, +1);
    }
    bw_shcount_add(&w->conns_all, +1);
    uint64_t open_now = bw_icap_worker_total(w);
    uv_tcp_init(w->loop, &c->tcp);
    uv_timer_init(w->loop, &c->timer);
    uv_timer_init(w->loop, &c->stall);
    uv_timer_init(w->loop, &c->hold);
    uv_timer_init(w->loop, &c->deadline);
    c->tcp.data = c->timer.data = c->stall.data = c->hold.data = c->deadline.data = c;
    c->handles = 5;
    bw_icap_chunk_reset(&c->chunk);
    bw_spool_init(&c->raw, BW_SPOOL_MEM_DEFAULT); /* fd -1: freeing it closes nothing */
    int rc = server ? uv_accept(server, (uv_stream_t *)&c->tcp) : uv_tcp_open(&c->tcp, fd);
    if (rc != 0) {
        if (!server)
            close(fd); /* not the handle's: it did not take it */
        bw_conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (tls_ctx && bw_conn_tls_start(c, tls_ctx) != BW_OK) {
        bw_conn_close(c);
        return;
    }
    if (tls_ctx)
        bw_conn_deadline_tls(c);
    bw_icap_worker_balance(w);
    if (open_now > w->env->ic->max_connections) {
        bw_icap_build_error(w->env, 503, 1, &c->out);
        c->state = ST_WRITE;
        c->close_after = 1;
        if (c->tls)
            bw_conn_start_reading(c); /* the 503 goes out once the handshake is done */
        bw_conn_flush(c);
        return;
    }
    bw_conn_start_reading(c);
}

void bw_icap_conn_accept(bw_icap_worker_t *w, uv_stream_t *server)
{
    conn_accept(w, server, -1, NULL);
}

void bw_icap_conn_accept_tls(bw_icap_worker_t *w, uv_stream_t *server, struct ssl_ctx_st *ctx)
{
    conn_accept(w, server, -1, ctx);
}

void bw_icap_conn_accept_fd(bw_icap_worker_t *w, int fd, struct ssl_ctx_st *ctx)
{
    conn_accept(w, NULL, fd, ctx);
}
