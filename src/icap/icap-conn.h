/* ICAP connections on a libuv loop: the I/O side of the protocol (the parser
 * is icap-parse.c, as HAProxy keeps mux_h1.c apart from h1.c). */
#ifndef BW_ICAP_CONN_H
#define BW_ICAP_CONN_H

#include <stdint.h>
#include <uv.h>

#include "icap/icap-service.h"

typedef struct bw_icap_worker {
    uv_loop_t *loop;
    bw_icap_env_t *env;
    uint64_t timeout_ms;   /* idle / stalled client timeout */
    uint64_t nconns;       /* open connections of this worker */
    /* Open connections of every worker, one slot each, in memory shared by
     * the worker processes (NULL: this worker's count alone).  MaxConnections
     * is a limit for the whole server, as OPTIONS advertises it. */
    uint64_t *conn_slots;
    size_t nslots, slot;
    uint64_t requests;     /* answered by this worker (MaxReqsPerChild); the
                              server-wide counters are env->stats */
    int draining;          /* stop: no new requests on kept-alive connections */
} bw_icap_worker_t;

/* Accepts one connection from a listening stream and starts serving it. */
void bw_icap_conn_accept(bw_icap_worker_t *w, uv_stream_t *server);

#endif
