/* SPDX-License-Identifier: Apache-2.0 */
/* /metrics (Prometheus text format 0.0.4) and the retention thread.
 *
 * Counters are relaxed atomics bumped by the request threads; the gauges
 * (stored events, nodes) are read from the store at scrape time. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulwark/core.h"
#include "console/console.h"
#include "core/log.h"

#define LOAD(x) ((unsigned long long)atomic_load_explicit(&con->x, memory_order_relaxed))

void bw_h_metrics(bw_req_t *r)
{
    bw_console_t *con = r->con;
    bw_err_t err = {{0}};
    long long nodes = 0, revoked = 0;
    json_t *n = bw_store_nodes(con->store, &err);
    size_t i;
    json_t *x;
    json_array_foreach(n, i, x)
    {
        nodes++;
        revoked += json_is_true(json_object_get(x, "revoked"));
    }
    json_decref(n);
    bw_buf_t b = {0};
#define C(name, help, v)                                                                      \
    bw_buf_printf(&b, "# HELP " name " " help "\n# TYPE " name " counter\n" name " %llu\n", v)
#define G(name, help, v)                                                                      \
    bw_buf_printf(&b, "# HELP " name " " help "\n# TYPE " name " gauge\n" name " %lld\n",     \
                  (long long)(v))
    bw_buf_printf(&b, "# HELP bulwark_console_http_requests_total HTTP requests answered, by "
                      "status class\n# TYPE bulwark_console_http_requests_total counter\n");
    bw_buf_printf(&b, "bulwark_console_http_requests_total{code=\"2xx\"} %llu\n", LOAD(req_2xx));
    bw_buf_printf(&b, "bulwark_console_http_requests_total{code=\"3xx\"} %llu\n", LOAD(req_3xx));
    bw_buf_printf(&b, "bulwark_console_http_requests_total{code=\"4xx\"} %llu\n", LOAD(req_4xx));
    bw_buf_printf(&b, "bulwark_console_http_requests_total{code=\"5xx\"} %llu\n", LOAD(req_5xx));
    C("bulwark_console_events_ingested_total", "events stored (new ids)", LOAD(ev_accepted));
    C("bulwark_console_events_duplicates_total", "events received again and skipped",
      LOAD(ev_dups));
    C("bulwark_console_batches_total", "event batches stored", LOAD(batches_ok));
    C("bulwark_console_batches_refused_total", "event batches refused as malformed (400)",
      LOAD(batches_refused));
    C("bulwark_console_batches_too_big_total", "event batches refused as too big (413)",
      LOAD(batches_too_big));
    C("bulwark_console_logins_total", "successful sign-ins", LOAD(logins_ok));
    C("bulwark_console_login_failures_total", "failed sign-ins", LOAD(logins_failed));
    C("bulwark_console_login_lockouts_total", "sign-ins refused because of a lock-out",
      LOAD(logins_locked));
    C("bulwark_console_node_auth_failures_total", "node requests with an unknown or revoked "
                                                  "credential", LOAD(node_auth_failed));
    C("bulwark_console_csrf_refused_total", "writes refused for a missing or wrong CSRF token",
      LOAD(csrf_refused));
    C("bulwark_console_retention_deleted_total", "events deleted by retention",
      LOAD(retention_deleted));
    G("bulwark_console_events_stored", "events in the store", bw_store_event_count(con->store));
    G("bulwark_console_nodes", "enrolled nodes (revoked included)", nodes);
    G("bulwark_console_nodes_revoked", "revoked nodes", revoked);
    G("bulwark_console_uptime_seconds", "seconds since start",
      (bw_now_us() - con->started_us) / 1000000);
    if (b.oom) {
        bw_buf_free(&b);
        bw_reply_error(r, 500, "out of memory");
        return;
    }
    bw_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.p);
}

static pthread_t ret_thread;
static pthread_mutex_t ret_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ret_cv;
static int ret_stop, ret_running;

static void *retention_loop(void *p)
{
    bw_console_t *con = p;
    const bw_console_conf_t *cf = con->conf;
    pthread_mutex_lock(&ret_mu);
    while (!ret_stop) {
        pthread_mutex_unlock(&ret_mu);
        int64_t deleted = 0;
        bw_err_t err = {{0}};
        if (bw_store_retain(con->store, (int64_t)cf->retention_days * 86400,
                            (int64_t)cf->retention_max_events, &deleted, &err) != BW_OK)
            bw_log(BW_LOG_WARN, "retention: %s", err.msg);
        else if (deleted) {
            atomic_fetch_add_explicit(&con->retention_deleted, (uint64_t)deleted,
                                      memory_order_relaxed);
            bw_log(BW_LOG_INFO, "retention: deleted %lld events", (long long)deleted);
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += (time_t)(cf->retention_interval_ms / 1000);
        ts.tv_nsec += (long)(cf->retention_interval_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000)
            ts.tv_sec++, ts.tv_nsec -= 1000000000;
        pthread_mutex_lock(&ret_mu);
        while (!ret_stop && pthread_cond_timedwait(&ret_cv, &ret_mu, &ts) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&ret_mu);
    return NULL;
}

int bw_retention_start(bw_console_t *con, bw_err_t *err)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&ret_cv, &a);
    pthread_condattr_destroy(&a);
    int e = pthread_create(&ret_thread, NULL, retention_loop, con);
    if (e)
        return bw_err_set(err, "retention thread: %s", strerror(e)), BW_ERR;
    ret_running = 1;
    return BW_OK;
}

void bw_retention_stop(void)
{
    if (!ret_running)
        return;
    pthread_mutex_lock(&ret_mu);
    ret_stop = 1;
    pthread_cond_signal(&ret_cv);
    pthread_mutex_unlock(&ret_mu);
    pthread_join(ret_thread, NULL);
    ret_running = 0;
}
