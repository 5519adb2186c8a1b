/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the remote-scan server shared by its files. */
#ifndef BW_RSCAN_INT_H
#define BW_RSCAN_INT_H

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "core/buf.h"
#include "core/spool.h"
#include "core/ratelog.h"
#include "rscan/rscan-cache.h"
#include "rscan/rscan-parse.h"
#include "rscan/rscan.h"

typedef struct rs_server rs_server_t;

enum rs_state {
    RS_REQ,        /* waiting for a request line */
    RS_JOB,        /* a pool job runs (Redis lookup or the end of a scan) */
    RS_CHUNK_HDR,  /* content: the next chunk header */
    RS_CHUNK_DATA, /* content: chunk bytes */
};

typedef struct rs_conn {
    rs_server_t *s;
    uv_tcp_t tcp;
    uv_timer_t timer;
    struct rs_conn *next, *prev;
    enum rs_state state;
    bw_buf_t in;        /* plaintext from the client */
    bw_buf_t out;       /* plaintext replies not yet sealed (TLS) */
    int writes;         /* uv_write requests in flight */
    int closing;        /* close once the writes are done */
    int handles;        /* handles still open (tcp, timer) */
    int reading;        /* uv_read_start in effect */
    int counted;        /* accepted: counted in the open-connections gauge */
    /* the request */
    bw_rscan_req_t req;
    uint64_t received, chunk_left;
    EVP_MD_CTX *md;
    bw_spool_t spool;   /* the content, for the pool thread that scans it */
    int spooling;       /* spool initialised */
    char bad[200];      /* content being discarded: the ERROR to answer at its end */
    /* TLS (NULL ssl: plain) */
    SSL *ssl;
    BIO *rbio, *wbio;
    int tls_ready;
} rs_conn_t;

struct rs_server {
    uv_loop_t *loop;
    bw_rscan_env_t env;
    uv_tcp_t listeners[16];
    int nlisteners;
    rs_conn_t *conns;
    size_t nconns;
    int draining, closing;
    int jobs;           /* pool jobs in flight (the server lives until they end) */
    char dbv[BW_RSCAN_DBVER_MAX];
    bw_limits_t lim;
    bw_rscan_mem_t mem;
    bw_rscan_redis_t redis;
    int has_redis;
    bw_ratelog_t redis_log;
};

int rs_tls_start(rs_conn_t *c, SSL_CTX *ctx);
void rs_tls_free(rs_conn_t *c);
int rs_tls_recv(rs_conn_t *c, const char *p, size_t n, bw_err_t *err);
int rs_tls_seal(rs_conn_t *c, bw_buf_t *plain, bw_buf_t *cipher);

#endif
