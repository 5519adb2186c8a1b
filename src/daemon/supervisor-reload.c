/* SPDX-License-Identifier: Apache-2.0 */
/* Reloads: building the next generation beside the running one and, once it
 * is complete, starting its workers and retiring the old ones (the design is
 * at the top of supervisor.c). */
#include <fcntl.h>
#include <malloc.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/stats.h"
#include "daemon/control.h"
#include "daemon/supervisor-t.h"
#include "policy/groups.h"

static void register_groups(sup_t *s, const bw_daemon_t *g)
{
    for (size_t i = 0; s->stats && i < bw_groups_count(g->groups); i++)
        bw_stats_group_slot(s->stats, bw_groups_name(g->groups, i));
}

void bw_sup_answer_waiters(int *w, int *n, int ok, const char *msg)
{
    char text[1200];
    snprintf(text, sizeof text, "%s\n", msg);
    for (int i = 0; i < *n; i++)
        bw_ctl_reply(w[i], ok, text);
    *n = 0;
}

static void reload_done(sup_t *s, int ok, const char *msg)
{
    s->last_reload = time(NULL);
    s->last_reload_ok = ok;
    snprintf(s->last_reload_msg, sizeof s->last_reload_msg, "%s", msg);
    bw_log(ok ? BW_LOG_INFO : BW_LOG_ERR, "reload: %s", msg);
    bw_devents_reload(ok, msg);
    bw_sup_answer_waiters(s->rwaiters, &s->nrwaiters, ok, msg);
    s->running = 0;
    bw_sd_notify("READY=1");
}

/* The new generation is complete: start it, then retire the current one. */
static void commit(sup_t *s, bw_daemon_t *g, const char *what)
{
    bw_daemon_t *old = s->cur;
    g->generation = old->generation + 1;
    g->slot_base = (g->generation % 2) * s->half;
    g->conn_slots = s->conn_slots;
    g->nslots = 2 * (size_t)s->half;
    g->stats = s->stats;
    register_groups(s, g);
    bw_stats_set_workers_configured(s->stats, (unsigned)g->nworkers);
    if (s->running & RELOAD_CONF)
        bw_devents_setup(g, "supervisor"); /* [events] as reloaded */
    bw_sup_start_generation(s, g);
    s->cur = g;
    uint64_t grace = old->dc ? old->dc->stop_timeout_ms : 30000;
    s->old[s->nold].gen = old;
    s->old[s->nold].deadline_ms = bw_clock_ms() + grace;
    s->nold++;
    bw_sup_signal_generation(s, old, SIGTERM);
    bw_sup_set_metrics(s, g);
    bw_sup_set_shipper(s, g);
    const bw_db_info_t *info = bw_engine_info(g->engine);
    char msg[1024];
    snprintf(msg, sizeof msg,
             "%s reloaded: generation %u, database version %llu, %llu signatures, %d worker(s)",
             what, g->generation, (unsigned long long)info->version, (unsigned long long)info->signatures,
             g->nworkers);
    reload_done(s, 1, msg);
}

/* A databases-only reload keeps the running configuration: the new
 * generation takes over the old one's parsed keys and groups (the old
 * workers have their own copies since fork) and gets the new engine. */
static int gen_with_engine(sup_t *s, bw_engine_t *engine, bw_daemon_t **out, bw_err_t *err)
{
    bw_daemon_t *old = s->cur;
    bw_daemon_t *g = calloc(1, sizeof *g);
    if (!g)
        return bw_err_set(err, "out of memory");
    *g = *old;
    g->report_fd = old->report_fd >= 0 ? fcntl(old->report_fd, F_DUPFD_CLOEXEC, 3) : -1;
    for (size_t i = 0; i < old->nlisteners; i++)
        g->listeners[i].fd = fcntl(old->listeners[i].fd, F_DUPFD_CLOEXEC, 3);
    g->engine = engine;
    /* Ownership of the configuration moves to the new generation. */
    old->st = NULL;
    old->groups = NULL;
    old->tls_ctx = NULL;
    old->rscan_tls_ctx = NULL;
    *out = g;
    return BW_OK;
}

static void finish_reload(sup_t *s, bw_engine_t *engine)
{
    bw_err_t err;
    bw_daemon_t *g = NULL;
    int rc;
    if (s->running & RELOAD_CONF)
        rc = bw_gen_build(s->conf_path, s->cur, engine ? engine : s->cur->engine, &g, &err);
    else
        rc = gen_with_engine(s, bw_engine_ref(engine), &g, &err);
    if (engine)
        bw_engine_unref(engine); /* the generation holds its own reference */
    if (rc == BW_OK && (unsigned)g->nworkers > s->half) {
        rc = bw_err_set(&err, "MaxChildren %d is above the %u worker slots of this run (restart "
                              "bulwarkd to raise it)", g->nworkers, s->half);
        bw_gen_free(g);
    }
    if (rc != BW_OK) {
        reload_done(s, 0, err.msg);
        return;
    }
    commit(s, g, s->running & RELOAD_CONF ? "configuration" : "databases");
}

void bw_sup_try_start_reload(sup_t *s)
{
    if (s->stopping || s->running || !s->pending || s->nold > 0)
        return;
    s->running = s->pending;
    s->pending = 0;
    memcpy(s->rwaiters, s->waiters, sizeof s->waiters);
    s->nrwaiters = s->nwaiters;
    s->nwaiters = 0;
    bw_sd_notify("RELOADING=1");
    bw_err_t err;
    const bw_daemon_conf_t *dc = s->cur->dc;
    bw_conf_state_t *peek = NULL;
    int need_engine = (s->running & RELOAD_BASES) != 0;
    if (s->running & RELOAD_CONF) {
        if (bw_gen_conf_peek(s->conf_path, &peek, &err) != BW_OK) {
            reload_done(s, 0, err.msg);
            return;
        }
        dc = bw_conf_get(peek, &bw_daemon_conf_table, NULL);
        if (!bw_gen_same_bases(dc, s->cur->dc))
            need_engine = 1;
    }
    if (!need_engine) {
        bw_conf_free(peek);
        finish_reload(s, NULL);
        return;
    }
    s->loader = bw_loader_start(dc, &err);
    bw_conf_free(peek);
    if (!s->loader)
        reload_done(s, 0, err.msg);
    /* else: the loader's pipe becomes readable when the compile is done */
}

void bw_sup_request_reload(sup_t *s, int what, int client)
{
    s->pending |= what;
    if (client >= 0) {
        if (s->nwaiters < MAX_WAITERS)
            s->waiters[s->nwaiters++] = client;
        else
            bw_ctl_reply(client, 0, "too many reloads waiting\n");
    }
    bw_sup_try_start_reload(s);
}

void bw_sup_on_loader(sup_t *s)
{
    bw_err_t err;
    bw_engine_t *e = NULL;
    int rc = bw_loader_finish(s->loader, &e, &err);
    s->loader = NULL;
    if (rc != BW_OK) {
        reload_done(s, 0, err.msg);
        return;
    }
    finish_reload(s, e);
}

