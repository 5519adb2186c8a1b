/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's events (docs/events.md): each process's spool writer, set up
 * from [events] (the supervisor at start and after a configuration reload,
 * each worker after it dropped privileges: its segments are then its own
 * user's, in the directory dirs.c prepared), and the daemon's own events:
 * daemon.started, daemon.stopped, reload.done, reload.failed, worker.died. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "daemon/daemon.h"
#include "events/event.h"

void bw_devents_setup(const bw_daemon_t *d, const char *who)
{
    bw_err_t err;
    if (!d->ec)
        return;
    if (bw_event_setup(d->ec, &err) != BW_OK)
        bw_log(BW_LOG_ERR, "%s: events are off in this process: %s", who, err.msg);
}

static void emit(const char *type, bw_event_severity_t sev, const char *msg, const char *error)
{
    if (!bw_event_enabled())
        return;
    json_t *ev = bw_event_new("daemon", type, sev);
    bw_event_set_str(ev, "message", msg);
    bw_event_set_str(ev, "error", error);
    bw_event_emit(ev);
}

void bw_devents_started(const bw_daemon_t *d)
{
    char msg[256];
    snprintf(msg, sizeof msg, "bulwarkd %s started with %d worker(s)", BW_VERSION, d->nworkers);
    if (!bw_event_enabled())
        return;
    json_t *ev = bw_event_new("daemon", "daemon.started", BW_SEV_INFO);
    bw_event_set_str(ev, "message", msg);
    const bw_db_info_t *info = d->engine ? bw_engine_info(d->engine) : NULL;
    if (info) {
        json_t *db = bw_event_sub(ev, "db");
        bw_event_set_int(db, "version", (int64_t)info->version);
        bw_event_set_int(db, "signatures", (int64_t)info->signatures);
    }
    bw_event_emit(ev);
}

void bw_devents_stopped(void)
{
    emit("daemon.stopped", BW_SEV_INFO, "bulwarkd stopped", NULL);
    bw_event_shutdown();
}

void bw_devents_reload(int ok, const char *msg)
{
    if (ok)
        emit("reload.done", BW_SEV_INFO, msg, NULL);
    else
        emit("reload.failed", BW_SEV_HIGH, "reload failed; the running configuration and "
             "databases stay", msg);
}

void bw_devents_worker_died(int index, int pid, int status)
{
    char msg[256];
    if (WIFSIGNALED(status))
        snprintf(msg, sizeof msg, "worker %d (pid %d) killed by signal %d (%s)", index, pid,
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(msg, sizeof msg, "worker %d (pid %d) exited with status %d", index, pid,
                 WEXITSTATUS(status));
    emit("worker.died", BW_SEV_HIGH, msg, NULL);
}
