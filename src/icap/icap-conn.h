/* SPDX-License-Identifier: Apache-2.0 */
/* ICAP connections on a libuv loop: the I/O side of the protocol (the parser
 * is icap-parse.c, as HAProxy keeps mux_h1.c apart from h1.c). */
#ifndef BW_ICAP_CONN_H
#define BW_ICAP_CONN_H

#include <stdint.h>
#include <uv.h>

#include "core/accept.h"
#include "core/shcount.h"
#include "icap/icap-service.h"

#define BW_ICAP_MAX_LISTENERS 32

struct ssl_ctx_st;
struct bw_icap_listener;

typedef struct bw_icap_worker {
    uv_loop_t *loop;
    bw_icap_env_t *env;
    uint64_t timeout_ms;   /* idle / stalled client timeout */
    uint64_t nconns;       /* open connections of this worker */
    /* Open connections of the whole server (core/shcount.h), built by the
     * daemon: MaxConnections is a limit for the whole server, as OPTIONS
     * advertises it.  Not shared: this worker's count alone. */
    bw_shcount_t conns_all;
    uint64_t requests;     /* answered by this worker (MaxReqsPerChild); the
                              server-wide counters are env->stats */
    int draining;          /* stop: no new requests on kept-alive connections */
    /* Scan ends queued on libuv's thread pool and not yet started: the scan
     * queue that MaxQueuedScans bounds.  Pool threads decrement it (atomic). */
    uint64_t scans_waiting;
    uint64_t overloaded;   /* requests refused with 503 because of it */
    uint64_t overload_logged_ms;
    struct conn *conns;    /* open connections (icap-conn.c's list) */

    /* Listeners (icap-listen.c) and the share of MaxConnections this worker
     * holds before it stops accepting (icap-conn-limits.c). */
    struct bw_icap_listener *lst[BW_ICAP_MAX_LISTENERS];
    size_t nlst;
    int unlistened;        /* bw_icap_worker_unlisten ran */
    unsigned nworkers;     /* workers sharing MaxConnections (0 or 1: this one alone) */
    int accept_paused;     /* at its share while others have room */
    uv_timer_t balance_timer; /* while paused: has the server as a whole filled up? */
    int balance_timer_on;  /* initialised (closed by bw_icap_worker_unlisten) */
    void (*accepted)(void *data); /* after each accepted connection (MaxReqsPerChild) */
    void *accepted_data;
} bw_icap_worker_t;

/* Accepts one connection from a listening stream and starts serving it. */
void bw_icap_conn_accept(bw_icap_worker_t *w, uv_stream_t *server);
/* The same for a socket already accepted (ctx: ICAP over TLS). */
void bw_icap_conn_accept_fd(bw_icap_worker_t *w, int fd, struct ssl_ctx_st *ctx);

/* Serves the listening socket fd (shared with the other workers; closed
 * here when unlistened), TLS when ctx.  BW_OK or BW_ERR. */
int bw_icap_worker_listen(bw_icap_worker_t *w, int fd, struct ssl_ctx_st *ctx);
/* Stops accepting for good (the worker drains). */
void bw_icap_worker_unlisten(bw_icap_worker_t *w);

/* Drains (the worker is stopping or being replaced); call it repeatedly
 * until nconns is 0.  A connection busy with a request answers it with
 * "Connection: close" and closes.  A connection waiting for a request closes
 * once it has waited idle_grace_ms: closing it at once could cut a request
 * already on its way (the client would see a reset), while a client that
 * sends one within the grace gets it answered, with "Connection: close". */
void bw_icap_worker_drain(bw_icap_worker_t *w, uint64_t idle_grace_ms);

#endif
