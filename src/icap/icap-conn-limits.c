/* SPDX-License-Identifier: Apache-2.0 */
/* Admission under load: MaxConnections across workers, MaxQueuedScans, and
 * what becomes of a request that is refused.
 *
 * MaxConnections is the server's limit, counted over every worker in shared
 * memory (one slot each).  The workers poll the same listening sockets, and
 * one of them could end up holding nearly all the connections (a burst of
 * silent TLS clients lands wherever a worker happens to be awake), up to its
 * own descriptor limit, while another sits idle.  So a worker holding its
 * share, ceil(MaxConnections / workers), stops accepting as long as the
 * server as a whole has room: the connection stays in the kernel's queue
 * and a worker with room takes it.  Once the whole server is at
 * MaxConnections every worker accepts again, and a connection past the
 * limit gets 503 at once instead of waiting in the queue for its timeout.
 * Whether the whole server has filled up is seen in memory the other
 * workers write, so a paused worker looks again every BALANCE_TICK_MS.
 *
 * The bound is on the scans waiting for a thread of libuv's pool, because
 * that is where a request's latency hides: the loop streams bodies through
 * the matcher as they arrive, but the end of every scan (which may unpack
 * archives) queues for one of a few threads.  A refused request is answered
 * 503 with Retry-After, after its encapsulated headers and body have been
 * read and dropped unscanned: closing a socket with unread bytes makes the
 * kernel reset it, and the client could lose the answer with it.  So the
 * refusal is delivered and the connection stays usable (docs/icap-nas.md).
 */
#include <stdio.h>

#include "icap/icap-conn-t.h"

#define BALANCE_TICK_MS 50

uint64_t bw_icap_worker_total(const bw_icap_worker_t *w)
{
    return bw_shcount_shared(&w->conns_all) ? bw_shcount_total(&w->conns_all) : w->nconns;
}

static void on_balance_tick(uv_timer_t *t)
{
    bw_icap_worker_balance(t->data);
}

void bw_icap_worker_balance(bw_icap_worker_t *w)
{
    if (w->unlistened || !w->nlst)
        return;
    uint64_t max = w->env->ic->max_connections;
    uint64_t n = w->nworkers > 1 ? w->nworkers : 1;
    uint64_t share = (max + n - 1) / n;
    int pause = n > 1 && bw_shcount_shared(&w->conns_all) && w->nconns >= share && bw_icap_worker_total(w) < max;
    if (pause != w->accept_paused) {
        w->accept_paused = pause;
        bw_icap_listeners_pause(w, pause);
    }
    if (pause && !uv_is_active((uv_handle_t *)&w->balance_timer))
        uv_timer_start(&w->balance_timer, on_balance_tick, BALANCE_TICK_MS, BALANCE_TICK_MS);
    else if (!pause)
        uv_timer_stop(&w->balance_timer);
}

/* MaxQueuedScans: the scans already waiting for a thread of the pool.  A
 * request admitted now would wait behind all of them (slow unpacking ahead
 * in the queue), so past the bound the answer is 503 with Retry-After at
 * once rather than a late verdict after the client's own timeout. */
int bw_conn_overloaded(bw_icap_worker_t *w)
{
    uint64_t bound = w->env->ic->max_queued_scans;
    uint64_t waiting = __atomic_load_n(&w->scans_waiting, __ATOMIC_RELAXED);
    if (!bound || waiting < bound)
        return 0;
    w->overloaded++;
    uint64_t now = bw_clock_ms();
    if (now - w->overload_logged_ms >= 10000 || !w->overload_logged_ms) {
        w->overload_logged_ms = now;
        bw_log(BW_LOG_WARN, "overloaded: %llu scans wait for a thread (MaxQueuedScans %llu); "
                "%llu requests answered 503 so far", (unsigned long long)waiting,
                (unsigned long long)bound, (unsigned long long)w->overloaded);
    }
    return 1;
}

/* Drops a refused request's encapsulated headers and body (the preview, if
 * it has one: the client then waits for our answer), then answers. */
void bw_conn_step_discard(conn_t *c)
{
    if (c->discard_hdrs) {
        size_t k = c->in.len < c->discard_hdrs ? c->in.len : c->discard_hdrs;
        bw_buf_consume(&c->in, k);
        c->discard_hdrs -= (uint32_t)k;
        if (c->discard_hdrs)
            return;
    }
    int has_body = c->body_kind == BW_ENC_REQ_BODY || c->body_kind == BW_ENC_RES_BODY;
    while (has_body && c->in.len) {
        size_t used = 0;
        bw_icap_str_t data;
        bw_chunk_ev_t ev = bw_icap_chunk_feed(&c->chunk, c->in.p, c->in.len, &used, &data);
        bw_buf_consume(&c->in, used);
        if (ev == BW_CHUNK_DATA)
            continue;
        if (ev == BW_CHUNK_NEED_MORE)
            return;
        if (ev == BW_CHUNK_ERROR) {
            bw_conn_respond_error(c, 400);
            return;
        }
        has_body = 0; /* BW_CHUNK_END */
    }
    if (has_body)
        return;
    bw_icap_build_error(c->w->env, c->refused, c->client_close, &c->out);
    bw_conn_respond(c, c->client_close);
}
