/* SPDX-License-Identifier: Apache-2.0 */
/* The clamd server of one worker: its listeners, its connections, and the
 * settings every connection reads (limits, allow-lists, the VERSION text),
 * prepared once here so a connection never recomputes them.
 *
 * Listening sockets are shared by every worker (opened once by the
 * supervisor); each worker polls them and accept4()s until EAGAIN, so an idle
 * worker takes the connection and a busy one loses the race.  Accepting goes
 * through core/accept.c: a worker holding MaxQueue connections pauses its
 * listeners, and one out of descriptors backs off instead of spinning.
 *
 * Lifetime: the server counts its open listeners and connections (refs);
 * after bw_clamd_server_close() the last close callback, or the last job of
 * the last connection, frees it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clamd/clamd-int.h"
#include "core/stats.h"

#define ACCEPTS_PER_EVENT 64

void bw_clamd_log(server_t *s, int level, const char *fmt, ...)
{
    if (!s->env.log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->env.log(level, msg);
}

void bw_clamd_count(server_t *s, const bw_verdict_t *v)
{
    bw_stats_slot_t *st = s->env.stats;
    if (!st)
        return;
    bw_stats_slot_verdict(st, (int)v->status, v->bytes_scanned);
}

static void server_free(server_t *s)
{
    for (size_t i = 0; i < s->nlst; i++)
        free(s->lst[i]);
    bw_clamd_allow_free(&s->allow_tcp);
    bw_clamd_allow_free(&s->allow_local);
    free(s);
}

void bw_clamd_server_unref(server_t *s)
{
    if (--s->refs == 0 && s->closing)
        server_free(s);
}

bw_clamd_server_t *bw_clamd_server_new(uv_loop_t *loop, const bw_clamd_env_t *env)
{
    server_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->loop = loop;
    s->env = *env;
    const bw_clamd_conf_t *cc = env->cc;
    bw_limits_default(&s->lim);
    s->lim.max_scan_bytes = cc->max_scan_size;
    s->lim.max_file_size = cc->max_file_size;
    s->lim.max_depth = (uint32_t)cc->max_recursion;
    s->lim.max_files = (uint32_t)cc->max_files;
    s->lim.max_scan_ms = cc->max_scan_time_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)cc->max_scan_time_ms;
    s->lim.scan_archives = cc->scan_archive;
    if (bw_clamd_allow_init(&s->allow_tcp, &cc->scan_allow, "ScanPathAllow") != BW_OK ||
        bw_clamd_allow_init(&s->allow_local, &cc->local_allow, "LocalScanPathAllow") != BW_OK) {
        server_free(s);
        return NULL;
    }
    const char *tp = getenv("UV_THREADPOOL_SIZE");
    int n = tp ? atoi(tp) : 0;
    s->pool_size = n > 0 ? (unsigned)(n > 1024 ? 1024 : n) : 4; /* libuv's default */
    bw_clamd_version_init(s);
    return s;
}

static void on_listener_closed(bw_acceptor_t *a)
{
    listener_t *l = (listener_t *)a;
    server_t *s = l->s;
    close(l->fd);
    l->fd = -1;
    bw_clamd_server_unref(s); /* l itself is freed with the server */
}

static void close_listeners(server_t *s)
{
    for (size_t i = 0; i < s->nlst; i++) {
        listener_t *l = s->lst[i];
        if (l->closed)
            continue;
        l->closed = 1;
        bw_acceptor_close(&l->acc, on_listener_closed);
    }
}

/* MaxQueue: at the bound this worker stops accepting (clamd's accept
 * thread blocks the same way): further connections wait in the listen
 * queue, where another worker with room may take them, instead of each
 * costing a descriptor and a buffer here. */
void bw_clamd_server_check_full(server_t *s)
{
    uint64_t max = s->env.cc->max_queue;
    int full = max && s->nconns >= max;
    if (full == s->full)
        return;
    s->full = full;
    for (size_t i = 0; i < s->nlst; i++) {
        listener_t *l = s->lst[i];
        if (l->closed)
            continue;
        if (full)
            bw_acceptor_pause(&l->acc);
        else
            bw_acceptor_resume(&l->acc);
    }
    if (full) {
        uint64_t suppressed;
        if (bw_ratelog_allow(&s->full_log, uv_now(s->loop), 10000, &suppressed))
            bw_clamd_log(s, 4, "MaxQueue %llu connections open: not accepting until one closes "
                         "(%llu similar messages suppressed)", (unsigned long long)max,
                         (unsigned long long)suppressed);
    }
}

static void on_accepted(bw_acceptor_t *a, int fd)
{
    listener_t *l = (listener_t *)a;
    server_t *s = l->s;
    if (s->draining || s->closing) {
        close(fd);
        return;
    }
    bw_clamd_conn_accept(s, fd, l->is_unix);
    bw_clamd_server_check_full(s);
}

static void free_listener(bw_acceptor_t *a)
{
    free(a);
}

static server_t *log_server; /* the worker's one clamd server, for the acceptor's log lines */

static void accept_log(int level, const char *msg)
{
    if (log_server)
        bw_clamd_log(log_server, level, "%s", msg);
}

int bw_clamd_server_listen(bw_clamd_server_t *s, int fd, int is_unix, bw_err_t *err)
{
    if (s->nlst >= BW_CLAMD_MAX_LISTENERS)
        return bw_err_set(err, "clamd: more than %d listeners", BW_CLAMD_MAX_LISTENERS);
    listener_t *l = calloc(1, sizeof *l);
    if (!l)
        return bw_err_set(err, "clamd: out of memory");
    log_server = s;
    int rc = bw_acceptor_start(&l->acc, s->loop, fd, NULL, ACCEPTS_PER_EVENT, on_accepted,
                               accept_log, l);
    if (rc) {
        if (l->acc.handles)
            l->acc.on_closed = free_listener; /* closing: freed once its handles are */
        else
            free(l);
        return bw_err_set(err, "clamd: cannot poll listener fd %d: %s", fd, uv_strerror(rc));
    }
    l->fd = fd;
    l->is_unix = is_unix;
    l->s = s;
    s->refs++;
    s->lst[s->nlst++] = l;
    return BW_OK;
}

void bw_clamd_server_drain(bw_clamd_server_t *s)
{
    if (s->draining)
        return;
    s->draining = 1;
    close_listeners(s);
    conn_t *next;
    for (conn_t *c = s->conns; c; c = next) {
        next = c->next; /* draining may close (never free) it */
        bw_clamd_conn_drain(c);
    }
}

size_t bw_clamd_server_conns(const bw_clamd_server_t *s)
{
    return s->nconns;
}

void bw_clamd_server_close(bw_clamd_server_t *s)
{
    if (s->closing)
        return;
    s->draining = 1;
    s->closing = 1;
    close_listeners(s);
    conn_t *next;
    for (conn_t *c = s->conns; c; c = next) {
        next = c->next;
        bw_clamd_conn_close(c);
    }
    if (s->refs == 0)
        server_free(s);
}
