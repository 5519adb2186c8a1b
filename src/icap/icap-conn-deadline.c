/* SPDX-License-Identifier: Apache-2.0 */
/* Whole deadlines for the parts of a request a client could otherwise
 * stretch without end.
 *
 * The connection's idle timer (Timeout) restarts on every byte, so it
 * measures only silence: a client sending one byte every 0.9 s held a
 * connection for as long as it liked with Timeout = 3s, and a few hundred
 * such clients filled MaxConnections (slowloris).  What a real client sends
 * has a shape that gives each part a bound of its own, as nginx's
 * client_header_timeout and Apache's mod_reqtimeout give them:
 *
 *   - TLS handshake: over TlsHandshakeTimeout after accept.  A ClientHello
 *     dripped a byte every 8 s kept a connection open for over a minute.
 *   - ICAP head and encapsulated HTTP headers: complete HeaderTimeout after
 *     the request's first byte (a proxy sends them in one burst); else 408.
 *   - body: at least MinBodyRate bytes per second, averaged over each
 *     MinBodyRatePeriod window in which we were reading (the first window
 *     is the grace).  A window in which we stopped reading ourselves (back-
 *     pressure, a verdict pending) does not count: the rule is about the
 *     client's pace, never ours.  Slower gets 408.
 *
 * One timer per connection serves all three, in turn; c->dl_phase says
 * which it measures.  The idle timer keeps its own job.
 */
#include <stdio.h>

#include "core/ratelog.h"
#include "icap/icap-conn-t.h"
#include "icap/icap-tls.h"

static bw_ratelog_t tls_log; /* this worker's: a flood of silent clients is one line per 10 s */

static void on_deadline(uv_timer_t *t);

static void arm(conn_t *c, int phase, uint64_t ms)
{
    c->dl_phase = phase;
    if (ms)
        uv_update_time(c->w->loop); /* a deadline counts from now, not from the iteration's start */
    if (ms)
        uv_timer_start(&c->deadline, on_deadline, ms, 0);
    else
        uv_timer_stop(&c->deadline);
}

void bw_conn_deadline_tls(conn_t *c)
{
    arm(c, DL_TLS, c->w->env->ic->tls_handshake_ms);
}

void bw_conn_deadline_tls_check(conn_t *c)
{
    if (c->dl_phase == DL_TLS && c->tls && bw_tls_ready(c->tls))
        arm(c, DL_NONE, 0);
}

void bw_conn_deadline_head(conn_t *c)
{
    if (c->dl_phase == DL_HEADER || c->dl_phase == DL_TLS)
        return; /* already counting (a TLS one ends when the handshake does) */
    arm(c, DL_HEADER, c->w->env->ic->header_timeout_ms);
}

void bw_conn_deadline_body(conn_t *c)
{
    const bw_icap_conf_t *ic = c->w->env->ic;
    c->rate_mark = c->rx_bytes;
    arm(c, DL_BODY, ic->min_body_rate ? ic->min_body_rate_ms : 0);
}

void bw_conn_deadline_stop(conn_t *c)
{
    if (c->dl_phase != DL_TLS)
        arm(c, DL_NONE, 0);
}

static void on_deadline(uv_timer_t *t)
{
    conn_t *c = t->data;
    if (c->closing)
        return;
    const bw_icap_conf_t *ic = c->w->env->ic;
    switch (c->dl_phase) {
    case DL_TLS:
        if (c->tls && !bw_tls_ready(c->tls)) {
            uint64_t suppressed;
            if (bw_ratelog_allow(&tls_log, uv_now(c->w->loop), 10000, &suppressed))
                bw_log(BW_LOG_WARN, "icaps client: no TLS handshake within %llu ms "
                       "(TlsHandshakeTimeout), closed (%llu similar messages suppressed)",
                        (unsigned long long)ic->tls_handshake_ms, (unsigned long long)suppressed);
            bw_conn_close(c);
        }
        return;
    case DL_HEADER:
        if (c->state == ST_HEAD || c->state == ST_ENCAP)
            bw_conn_respond_error(c, 408); /* closes after */
        return;
    case DL_BODY: {
        if (c->state != ST_BODY && c->state != ST_DISCARD)
            return;
        uint64_t got = c->rx_bytes - c->rate_mark;
        uint64_t need = ic->min_body_rate * ic->min_body_rate_ms / 1000;
        /* AnswerMode=complete holds a client that keeps no copy until the
         * verdict: such a client may be waiting for us, not we for it. */
        int held = c->keep_raw && c->ic && c->ic->answer_mode == BW_ANSWER_COMPLETE;
        if (c->reading && !c->paused && !held && got < need) {
            bw_conn_respond_error(c, 408);
            return;
        }
        bw_conn_deadline_body(c); /* the next window */
        return;
    }
    default:
        return;
    }
}
