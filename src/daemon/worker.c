/* A worker process: one libuv loop serving every listener, scans streamed
 * inline, scan ends (which may unpack archives) on libuv's thread pool.
 *
 * SIGTERM drains: the listeners close at once, kept-alive connections close
 * after their current request, and the loop ends when the last one is gone.
 * SIGHUP reopens the report log, for logrotate.
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
#include "core/stats.h"
#include "icap/icap-conn.h"
#include "policy/notify.h"

#define MAX_LISTENERS 32

typedef struct worker {
    const bw_daemon_t *d;
    uv_loop_t loop;
    uv_tcp_t listeners[MAX_LISTENERS];
    size_t nlisteners;
    uv_signal_t sigterm, sighup, sigint;
    uv_timer_t drain_timer;
    bw_icap_worker_t iw;
    bw_icap_env_t env;
    int stopping;
} worker_t;

static void on_connection(uv_stream_t *server, int status)
{
    worker_t *w = server->data;
    if (status < 0)
        return;
    bw_icap_conn_accept(&w->iw, server);
    uint64_t limit = w->d->dc->max_reqs_per_child;
    if (limit && w->iw.requests >= limit && !w->stopping) {
        /* Recycle: stop accepting, finish what is open, exit; the
         * supervisor starts a fresh worker. */
        raise(SIGTERM);
    }
}

static void on_drain_tick(uv_timer_t *t)
{
    worker_t *w = t->data;
    if (w->iw.nconns == 0)
        uv_stop(&w->loop);
}

static void on_sigterm(uv_signal_t *s, int sig)
{
    worker_t *w = s->data;
    (void)sig;
    if (w->stopping)
        return;
    w->stopping = 1;
    w->iw.draining = 1;
    for (size_t i = 0; i < w->nlisteners; i++)
        uv_close((uv_handle_t *)&w->listeners[i], NULL);
    uv_timer_start(&w->drain_timer, on_drain_tick, 0, 50);
}

static FILE *open_report(const char *path)
{
    if (!path || !path[0])
        return NULL;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        bw_log(BW_LOG_ERR, "ReportFileName %s: %s", path, strerror(errno));
        return NULL;
    }
    FILE *f = fdopen(fd, "a");
    if (!f)
        close(fd);
    return f;
}

static void on_sighup(uv_signal_t *s, int sig)
{
    worker_t *w = s->data;
    (void)sig;
    FILE *nf = open_report(w->d->dc->report_file);
    if (w->env.report)
        fclose(w->env.report);
    w->env.report = nf;
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
    w->env.report = open_report(d->dc->report_file);
    w->env.st = d->st;
    w->env.groups = d->groups; /* this process's own copy since fork: own scratch */
    w->env.stats = d->stats;
    w->env.worker = (unsigned)index;
    w->iw.loop = &w->loop;
    w->iw.env = &w->env;
    w->iw.timeout_ms = d->dc->timeout_ms;
    w->iw.conn_slots = d->conn_slots;
    w->iw.nslots = (size_t)d->nworkers;
    w->iw.slot = (size_t)index;
    const bw_conf_list_t *ls = &d->dc->listen;
    for (size_t i = 0; i < ls->n && i < MAX_LISTENERS; i++) {
        const char *addr = BW_CONF_LIST_AT(ls, char *, i);
        int fd = bw_listen_open(addr, &err);
        if (fd < 0) {
            bw_log(BW_LOG_ERR, "worker %d: %s", index, err.msg);
            return 1;
        }
        uv_tcp_t *l = &w->listeners[w->nlisteners++];
        uv_tcp_init(&w->loop, l);
        l->data = w;
        if (uv_tcp_open(l, fd) || uv_listen((uv_stream_t *)l, 511, on_connection)) {
            bw_log(BW_LOG_ERR, "worker %d: cannot listen on %s", index, addr);
            return 1;
        }
    }
    if ((d->nc->script && d->nc->script[0]) || (d->nc->webhook_url && d->nc->webhook_url[0]))
        w->env.notifier = bw_notifier_new(&w->loop, d->nc);
    uv_signal_init(&w->loop, &w->sigterm);
    uv_signal_init(&w->loop, &w->sigint);
    uv_signal_init(&w->loop, &w->sighup);
    uv_timer_init(&w->loop, &w->drain_timer);
    w->sigterm.data = w->sigint.data = w->sighup.data = w->drain_timer.data = w;
    uv_signal_start(&w->sigterm, on_sigterm, SIGTERM);
    uv_signal_start(&w->sigint, on_sigterm, SIGINT);
    uv_signal_start(&w->sighup, on_sighup, SIGHUP);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    if (w->env.notifier)
        bw_notifier_free(w->env.notifier); /* bounded: kills scripts past their time */
    /* Drained: close what is left so the loop and w can go. */
    uv_close((uv_handle_t *)&w->sigterm, NULL);
    uv_close((uv_handle_t *)&w->sigint, NULL);
    uv_close((uv_handle_t *)&w->sighup, NULL);
    uv_close((uv_handle_t *)&w->drain_timer, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&w->loop) == 0 ? 0 : 1;
    if (w->env.report)
        fclose(w->env.report);
    bw_icap_env_free(&w->env);
    free(w);
    return rc;
}
