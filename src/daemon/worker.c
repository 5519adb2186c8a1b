/* SPDX-License-Identifier: Apache-2.0 */
/* A worker process: one libuv loop serving every listener it inherited from
 * the supervisor, scans streamed inline, scan ends (which may unpack
 * archives) on libuv's thread pool.
 *
 * Order at start: build the ICAP environment (templates, engine scratch),
 * then drop privileges (privs.c), and only then accept connections.
 *
 * SIGTERM drains: the listeners close at once (the sockets stay open in the
 * supervisor and the other workers, so waiting connections are served by
 * them), kept-alive connections close after their current request, and the
 * loop ends when the last one is gone.  The supervisor bounds the drain with
 * StopTimeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "daemon/daemon.h"
#include "events/event.h"
#include "clamd/clamd.h"
#include "rscan/rscan.h"
#include "core/stats.h"
#include "icap/icap-conn.h"
#include "icap/icap-tls.h"
#include "policy/notify.h"

typedef struct worker {
    const bw_daemon_t *d;
    uv_loop_t loop;
    bw_clamd_server_t *clamd;               /* NULL: no clamd listener */
    bw_rscan_server_t *rscan;               /* NULL: no [rscan] listener */
    uv_signal_t sigterm, sigint;
    uv_timer_t drain_timer, recycle_timer;
    bw_icap_worker_t iw;
    bw_icap_env_t env;
    int stopping;
} worker_t;

/* MaxReqsPerChild: recycle (stop accepting, finish what is open, exit; the
 * supervisor starts a fresh worker).  Checked at each new connection and
 * every 100 ms, so kept-alive connections cannot postpone it forever. */
static void check_recycle(worker_t *w)
{
    uint64_t limit = w->d->dc->max_reqs_per_child;
    if (limit && w->iw.requests >= limit && !w->stopping)
        raise(SIGTERM);
}

static void on_recycle_tick(uv_timer_t *t)
{
    check_recycle(t->data);
}

static void on_icap_accepted(void *data)
{
    check_recycle(data);
}

/* clamd's RELOAD and SHUTDOWN act on the whole daemon: its supervisor. */
static void clamd_reload(void)
{
    kill(getppid(), SIGUSR1);
}

static void clamd_shutdown(void)
{
    kill(getppid(), SIGTERM);
}

static void clamd_log(int level, const char *msg)
{
    bw_log(level, "clamd: %s", msg);
}

static void rscan_log(int level, const char *msg)
{
    bw_log(level, "rscan: %s", msg);
}

/* Connections waiting for a request get this long to send one before a
 * draining worker closes them (see bw_icap_worker_drain). */
#define DRAIN_IDLE_GRACE_MS 1000

static void on_drain_tick(uv_timer_t *t)
{
    worker_t *w = t->data;
    bw_icap_worker_drain(&w->iw, DRAIN_IDLE_GRACE_MS);
    if (w->iw.nconns == 0 && (!w->clamd || bw_clamd_server_conns(w->clamd) == 0) &&
        (!w->rscan || bw_rscan_server_conns(w->rscan) == 0))
        uv_stop(&w->loop);
}

static void on_sigterm(uv_signal_t *s, int sig)
{
    worker_t *w = s->data;
    (void)sig;
    if (w->stopping)
        return;
    w->stopping = 1;
    uv_timer_stop(&w->recycle_timer);
    bw_icap_worker_unlisten(&w->iw);
    if (w->clamd)
        bw_clamd_server_drain(w->clamd);
    if (w->rscan)
        bw_rscan_server_drain(w->rscan);
    uv_timer_start(&w->drain_timer, on_drain_tick, 0, 20);
}

static FILE *report_stream(const bw_daemon_t *d)
{
    if (d->report_fd < 0)
        return NULL;
    int fd = fcntl(d->report_fd, F_DUPFD_CLOEXEC, 3);
    FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
    if (!f && fd >= 0)
        close(fd);
    return f;
}

static int listen_all(worker_t *w, int index, unsigned slot)
{
    const bw_daemon_t *d = w->d;
    for (size_t i = 0; i < d->nlisteners; i++) {
        const bw_listener_t *l = &d->listeners[i];
        if (l->kind == BW_LST_RSCAN) {
            bw_err_t err;
            if (!w->rscan) {
                bw_rscan_env_t re = {.rc = d->rc, .engine = d->engine,
                                     .stats = bw_stats_slot(d->stats, slot), .log = rscan_log,
                                     .tls_ctx = d->rscan_tls_ctx};
                w->rscan = bw_rscan_server_new(&w->loop, &re);
            }
            if (!w->rscan || bw_rscan_server_listen(w->rscan, l->fd, &err) != BW_OK) {
                bw_log(BW_LOG_ERR, "worker %d: cannot serve %s", index, l->name);
                return BW_ERR;
            }
            continue;
        }
        if (l->kind == BW_LST_CLAMD) {
            bw_err_t err;
            if (!w->clamd) {
                bw_clamd_env_t ce = {.cc = d->cc, .engine = d->engine,
                                     .stats = bw_stats_slot(d->stats, slot), .log = clamd_log,
                                     .request_reload = clamd_reload,
                                     .request_shutdown = clamd_shutdown};
                w->clamd = bw_clamd_server_new(&w->loop, &ce);
            }
            if (!w->clamd || bw_clamd_server_listen(w->clamd, l->fd, l->is_unix, &err) != BW_OK) {
                bw_log(BW_LOG_ERR, "worker %d: cannot serve %s", index, l->name);
                return BW_ERR;
            }
            continue;
        }
        if (bw_icap_worker_listen(&w->iw, l->fd, l->kind == BW_LST_ICAPS ? d->tls_ctx : NULL) != BW_OK) {
            bw_log(BW_LOG_ERR, "worker %d: cannot listen on %s", index, l->name);
            return BW_ERR;
        }
    }
    return BW_OK;
}

int bw_worker_run(const bw_daemon_t *d, int index)
{
    worker_t *w = calloc(1, sizeof *w);
    if (!w)
        return 1;
    w->d = d;
    uv_loop_init(&w->loop);
    bw_err_t err;
    if (bw_icap_env_init(&w->env, d->ic, d->engine, &err) != BW_OK) {
        bw_log(BW_LOG_ERR, "%s", err.msg);
        return 1;
    }
    unsigned slot = d->slot_base + (unsigned)index;
    w->env.report = report_stream(d);
    w->env.st = d->st;
    w->env.groups = d->groups; /* this process's own copy since fork: own scratch */
    w->env.stats = bw_stats_slot(d->stats, slot);
    w->iw.loop = &w->loop;
    w->iw.env = &w->env;
    w->iw.timeout_ms = d->dc->timeout_ms;
    w->iw.conns_all = (bw_shcount_t){.slots = d->conn_slots, .nslots = d->nslots, .self = slot};
    w->iw.nworkers = (unsigned)d->nworkers;
    w->iw.accepted = on_icap_accepted;
    w->iw.accepted_data = w;
    if (bw_privs_drop(d, &err) != BW_OK) {
        bw_log(BW_LOG_ERR, "worker %d: %s", index, err.msg);
        return 1;
    }
    bw_devents_setup(d, "worker");
    if (listen_all(w, index, slot) != BW_OK)
        return 1;
    if (bw_notify_conf_enabled(d->nc))
        w->env.notifier = bw_notifier_new(&w->loop, d->nc);
    uv_signal_init(&w->loop, &w->sigterm);
    uv_signal_init(&w->loop, &w->sigint);
    uv_timer_init(&w->loop, &w->drain_timer);
    uv_timer_init(&w->loop, &w->recycle_timer);
    w->sigterm.data = w->sigint.data = w->drain_timer.data = w->recycle_timer.data = w;
    if (d->dc->max_reqs_per_child)
        uv_timer_start(&w->recycle_timer, on_recycle_tick, 100, 100);
    uv_signal_start(&w->sigterm, on_sigterm, SIGTERM);
    uv_signal_start(&w->sigint, on_sigterm, SIGINT);
    /* The supervisor forked us with these blocked (supervisor.c); one that
     * arrived meanwhile is delivered now, to the handlers above. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_UNBLOCK, &stop, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    if (w->env.notifier)
        bw_notifier_free(w->env.notifier); /* bounded: kills scripts past their time */
    /* Drained: close what is left so the loop and w can go. */
    if (w->clamd)
        bw_clamd_server_close(w->clamd);
    if (w->rscan)
        bw_rscan_server_close(w->rscan);
    uv_close((uv_handle_t *)&w->sigterm, NULL);
    uv_close((uv_handle_t *)&w->sigint, NULL);
    uv_close((uv_handle_t *)&w->drain_timer, NULL);
    uv_close((uv_handle_t *)&w->recycle_timer, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&w->loop) == 0 ? 0 : 1;
    if (w->env.report)
        fclose(w->env.report);
    bw_icap_env_free(&w->env);
    free(w);
    bw_event_shutdown(); /* syncs and seals this worker's segment */
    return rc;
}
