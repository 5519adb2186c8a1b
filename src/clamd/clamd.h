/* SPDX-License-Identifier: Apache-2.0 */
/* bulwarkd's clamd protocol: the API the daemon's supervisor and workers use.
 *
 * The supervisor opens the listeners once (as root, before dropping
 * privileges and forking); each worker runs one server on its libuv loop over
 * the inherited descriptors.  Everything below the daemon stays unaware of
 * processes and signals: RELOAD and SHUTDOWN only call the env's callbacks.
 *
 *   // supervisor, before fork
 *   int fds[16], unix_[16]; size_t n;
 *   bw_clamd_open_listeners(cc, fds, unix_, 16, &n, &err);
 *   // worker
 *   bw_clamd_server_t *s = bw_clamd_server_new(loop, &env);
 *   for (i < n) bw_clamd_server_listen(s, fds[i], unix_[i], &err);
 *   ... uv_run ...
 *   bw_clamd_server_drain(s);              // SIGTERM: finish what is in flight
 *   while (bw_clamd_server_conns(s)) uv_run(loop, UV_RUN_ONCE);
 *   bw_clamd_server_close(s); uv_run(loop, UV_RUN_DEFAULT);
 */
#ifndef BW_CLAMD_H
#define BW_CLAMD_H

#include <stddef.h>
#include <uv.h>

#include "bulwark/bulwark.h"
#include "clamd/clamd-conf.h"
#include "core/err.h"

typedef struct bw_clamd_conf bw_clamd_conf_t; /* the [clamd] keys (clamd-conf.h) */
extern const bw_conf_table_t bw_clamd_conf_table;

/* Opens every clamd listener of the configuration (TCPAddr x TCPSocket,
 * LocalSocket with its mode and group), bound and listening, O_NONBLOCK and
 * close-on-exec.  Called once by the supervisor before it forks; *n = 0 when
 * clamd is not configured.  BW_OK, or BW_ERR with "TCPAddr 1.2.3.4 port 3310:
 * Address already in use"-style text and nothing left open. */
int bw_clamd_open_listeners(const bw_clamd_conf_t *cc, int *fds, int *is_unix, size_t max,
                            size_t *n, bw_err_t *err);
/* Removes the LocalSocket file, if this configuration has one (at exit). */
void bw_clamd_unlink_socket(const bw_clamd_conf_t *cc);

struct bw_stats_slot;

typedef struct bw_clamd_env {
    const bw_clamd_conf_t *cc;
    bw_engine_t *engine;           /* the worker's engine; valid for the server's life */
    struct bw_stats_slot *stats;   /* where this server counts (core/stats.h); may be NULL */
    void (*log)(int level, const char *msg); /* level 3 err, 4 warn, 6 info; may be NULL */
    void (*request_reload)(void);  /* RELOAD: returns at once, the daemon reloads in the background */
    void (*request_shutdown)(void);/* SHUTDOWN */
} bw_clamd_env_t;

typedef struct bw_clamd_server bw_clamd_server_t;

/* A server on `loop`; env is copied.  NULL on allocation failure. */
bw_clamd_server_t *bw_clamd_server_new(uv_loop_t *loop, const bw_clamd_env_t *env);
/* Serves a listening socket from bw_clamd_open_listeners (this process's copy
 * of it; the server closes it when it stops listening). */
int bw_clamd_server_listen(bw_clamd_server_t *s, int fd, int is_unix, bw_err_t *err);
/* Stops accepting; commands in flight finish; idle connections close now,
 * sessions after their current command. */
void bw_clamd_server_drain(bw_clamd_server_t *s);
/* Open connections. */
size_t bw_clamd_server_conns(const bw_clamd_server_t *s);
/* Closes every handle; the server frees itself from the close callbacks (and
 * after the thread-pool jobs still running), so the caller runs the loop once
 * more after. */
void bw_clamd_server_close(bw_clamd_server_t *s);

#endif
