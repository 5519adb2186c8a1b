/* SPDX-License-Identifier: Apache-2.0 */
/* The BWSCAN/1 client (docs/rscan.md): one blocking connection to a Bulwark
 * scanning server, used by the agent's scanning threads and `bulwark rscan`.
 * The file is hashed by pread and offered by its SHA-256 and size first; the
 * content travels only when the server's shared cache misses, streamed in
 * chunks, never whole in memory.  Every socket operation is bounded by
 * timeout_ms.  A connection is not shared by threads. */
#ifndef BW_RSCAN_CLIENT_H
#define BW_RSCAN_CLIENT_H

#include <stdint.h>

#include "bulwark/core.h"
#include "core/err.h"

typedef struct bw_rscan_client bw_rscan_client_t; /* one connection; not shared by threads */

typedef struct bw_rscan_opts {
    const char *host;
    const char *port;
    const char *ca_file;            /* TLS: CA that signed the server's certificate */
    const char *cert_file, *key_file; /* TLS: the client's certificate (client auth) */
    int tls;                        /* 0: plain TCP (loopback tests) */
    unsigned timeout_ms;            /* per socket operation; 0 means 10000 */
} bw_rscan_opts_t;

int bw_rscan_connect(const bw_rscan_opts_t *o, bw_rscan_client_t **out, bw_err_t *err);
/* Scans the open file fd of `size` bytes: hashes it (pread), sends SCAN, streams on SEND.
 * Fills status, threat name (caller frees; NULL when none) and whether it was answered
 * from the cache.  BW_OK, or BW_ERR with err set (then the connection is unusable
 * unless the server answered ERROR: the server's words are in err). */
int bw_rscan_scan_fd(bw_rscan_client_t *c, int fd, uint64_t size, const char *name,
                     bw_status_t *status, char **threat, int *cached, bw_err_t *err);
/* PING: fills the server's database version (caller frees). Backward-compatible addition. */
int bw_rscan_ping(bw_rscan_client_t *c, char **db_version, bw_err_t *err);
void bw_rscan_close(bw_rscan_client_t *c);

#endif
