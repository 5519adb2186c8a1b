/* SPDX-License-Identifier: Apache-2.0 */
/* The ICAP listeners of one worker: each listening socket (shared by every
 * worker, opened by the supervisor) is served through a core acceptor
 * (core/accept.c), which backs off when descriptors run out and which
 * icap-conn-limits.c pauses while this worker holds its share of
 * MaxConnections.  One connection is accepted per wake-up, so connections
 * spread across the workers polling the same socket. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "icap/icap-conn-t.h"

typedef struct bw_icap_listener {
    bw_acceptor_t acc; /* first: the acceptor's callbacks find the listener */
    bw_icap_worker_t *w;
    struct ssl_ctx_st *tls;
    int fd;
} listener_t;

static void accept_log(int level, const char *msg)
{
    bw_log(level, "%s", msg);
}

static void on_accepted(bw_acceptor_t *a, int fd)
{
    listener_t *l = (listener_t *)a;
    bw_icap_worker_t *w = l->w;
    if (w->unlistened) {
        close(fd);
        return;
    }
    bw_icap_conn_accept_fd(w, fd, l->tls);
    if (w->accepted)
        w->accepted(w->accepted_data);
}

static void on_closed(bw_acceptor_t *a)
{
    listener_t *l = (listener_t *)a;
    if (l->fd >= 0)
        close(l->fd);
    free(l);
}

int bw_icap_worker_listen(bw_icap_worker_t *w, int fd, struct ssl_ctx_st *ctx)
{
    if (w->nlst >= BW_ICAP_MAX_LISTENERS)
        return BW_ERR;
    listener_t *l = calloc(1, sizeof *l);
    if (!l)
        return BW_ERR;
    l->w = w;
    l->tls = ctx;
    l->fd = -1; /* the caller's until it is ours */
    if (bw_acceptor_start(&l->acc, w->loop, fd, ctx ? "icaps" : "icap", 1, on_accepted, accept_log,
                          l) != 0) {
        if (l->acc.handles)
            l->acc.on_closed = on_closed; /* freed once its handles are closed */
        else
            free(l);
        return BW_ERR;
    }
    l->fd = fd;
    w->lst[w->nlst++] = l;
    if (!w->balance_timer_on) {
        uv_timer_init(w->loop, &w->balance_timer);
        w->balance_timer.data = w;
        w->balance_timer_on = 1;
    }
    if (w->accept_paused)
        bw_acceptor_pause(&l->acc);
    return BW_OK;
}

void bw_icap_worker_unlisten(bw_icap_worker_t *w)
{
    if (w->unlistened)
        return;
    w->unlistened = 1;
    for (size_t i = 0; i < w->nlst; i++)
        bw_acceptor_close(&w->lst[i]->acc, on_closed);
    w->nlst = 0;
    if (w->balance_timer_on)
        uv_close((uv_handle_t *)&w->balance_timer, NULL);
}

/* Used by icap-conn-limits.c. */
void bw_icap_listeners_pause(bw_icap_worker_t *w, int pause)
{
    for (size_t i = 0; i < w->nlst; i++) {
        if (pause)
            bw_acceptor_pause(&w->lst[i]->acc);
        else
            bw_acceptor_resume(&w->lst[i]->acc);
    }
}
