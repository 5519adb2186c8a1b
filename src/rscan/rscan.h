/* SPDX-License-Identifier: Apache-2.0 */
/* bulwarkd's remote-scan server (BWSCAN/1, docs/rscan.md): the API the
 * daemon's supervisor and workers use, shaped like the clamd one
 * (clamd/clamd.h).  The supervisor opens the [rscan] Listen sockets with the
 * daemon's listener code and builds the TLS context before it drops
 * privileges; each worker runs one server on its libuv loop.
 *
 *   bw_rscan_server_t *s = bw_rscan_server_new(loop, &env);
 *   bw_rscan_server_listen(s, fd, &err);      // per inherited listener
 *   ... uv_run ...
 *   bw_rscan_server_drain(s); while (bw_rscan_server_conns(s)) uv_run(ONCE);
 *   bw_rscan_server_close(s); uv_run(loop, UV_RUN_DEFAULT);
 */
#ifndef BW_RSCAN_H
#define BW_RSCAN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "bulwark/bulwark.h"
#include "core/conf-t.h"
#include "core/err.h"

typedef struct bw_rscan_conf {
    bw_conf_list_t listen;  /* Listen, char * "host:port" items (none: off) */
    char *tls_cert;         /* TlsCertificate ("" : plain TCP) */
    char *tls_key;          /* TlsKey */
    char *tls_client_ca;    /* TlsClientCA ("" : no client certificate asked) */
    uint64_t cache_entries; /* CacheEntries, per worker (0: no in-process cache) */
    char *redis_url;        /* RedisUrl ("" : no shared cache) */
    uint64_t redis_ttl_ms;  /* RedisTtl */
    uint64_t max_file_size; /* MaxFileSize */
    uint64_t timeout_ms;    /* Timeout: idle / transfer */
} bw_rscan_conf_t;

extern const bw_conf_table_t bw_rscan_conf_table;
int bw_rscan_conf_enabled(const bw_rscan_conf_t *rc);

struct ssl_ctx_st;
/* The server TLS context (certificate, key, and when TlsClientCA is set,
 * required client certificates verified against it).  NULL when no
 * TlsCertificate is configured (*err untouched) or on failure (err set). */
struct ssl_ctx_st *bw_rscan_tls_ctx_new(const bw_rscan_conf_t *rc, bw_err_t *err);
void bw_rscan_tls_ctx_free(struct ssl_ctx_st *ctx);

struct bw_stats_slot;

typedef struct bw_rscan_env {
    const bw_rscan_conf_t *rc;
    bw_engine_t *engine;          /* the worker's engine */
    struct bw_stats_slot *stats;  /* may be NULL */
    struct ssl_ctx_st *tls_ctx;   /* NULL: plain TCP */
    void (*log)(int level, const char *msg); /* 3 err, 4 warn, 6 info; may be NULL */
} bw_rscan_env_t;

typedef struct bw_rscan_server bw_rscan_server_t;

bw_rscan_server_t *bw_rscan_server_new(uv_loop_t *loop, const bw_rscan_env_t *env);
int bw_rscan_server_listen(bw_rscan_server_t *s, int fd, bw_err_t *err);
void bw_rscan_server_drain(bw_rscan_server_t *s);
size_t bw_rscan_server_conns(const bw_rscan_server_t *s);
void bw_rscan_server_close(bw_rscan_server_t *s);

/* The database version token of an engine, as BWSCAN/1 sends it and the
 * cache keys hold it: "<version>.<12 hex of the source hash>", so a reload
 * with changed signatures changes it even when the version number does not. */
void bw_rscan_db_version(const bw_engine_t *e, char *out, size_t cap);

#endif
