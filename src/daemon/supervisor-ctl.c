/* The control socket's verbs (the plumbing is control.c). */
#include <sys/socket.h>
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

static void fmt_duration(char *out, size_t cap, uint64_t s)
{
    if (s >= 86400)
        snprintf(out, cap, "%llud %lluh %llum", (unsigned long long)(s / 86400),
                 (unsigned long long)(s % 86400 / 3600), (unsigned long long)(s % 3600 / 60));
    else if (s >= 3600)
        snprintf(out, cap, "%lluh %llum %llus", (unsigned long long)(s / 3600),
                 (unsigned long long)(s % 3600 / 60), (unsigned long long)(s % 60));
    else
        snprintf(out, cap, "%llum %llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
}

static char *status_text(sup_t *s)
{
    bw_stats_snapshot_t snap;
    memset(&snap, 0, sizeof snap);
    if (s->stats)
        bw_stats_read(s->stats, &snap);
    const bw_db_info_t *info = bw_engine_info(s->cur->engine);
    char up[64], when[64] = "never";
    fmt_duration(up, sizeof up, (uint64_t)(time(NULL) - s->started));
    if (s->last_reload) {
        struct tm tm;
        localtime_r(&s->last_reload, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    }
    char pids[512] = "";
    size_t pl = 0;
    for (size_t i = 0; i < s->nkids && pl < sizeof pids - 16; i++)
        if (s->kids[i].gen == s->cur && s->kids[i].pid > 0)
            pl += (size_t)snprintf(pids + pl, sizeof pids - pl, "%s%d", pl ? " " : "",
                                   (int)s->kids[i].pid);
    unsigned draining = 0;
    for (size_t i = 0; i < s->nold; i++)
        draining += bw_sup_alive_of(s, s->old[i].gen);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fprintf(f, "version: bulwarkd %s\n", BW_VERSION);
    fprintf(f, "pid: %d\n", (int)getpid());
    fprintf(f, "uptime: %s\n", up);
    fprintf(f, "configuration: %s (generation %u)\n", s->conf_path, s->cur->generation);
    fprintf(f, "database version: %llu\n", (unsigned long long)info->version);
    fprintf(f, "signatures: %llu\n", (unsigned long long)info->signatures);
    fprintf(f, "workers: %u of %d running (%s)%s\n", bw_sup_alive_of(s, s->cur), s->cur->nworkers, pids,
            draining ? "" : "");
    if (draining)
        fprintf(f, "workers draining: %u\n", draining);
    fprintf(f, "connections: %llu open\n", (unsigned long long)snap.connections_open);
    fprintf(f, "requests: %llu total, %.2f/s over the last minute\n",
            (unsigned long long)snap.v[BW_ST_REQUESTS], (double)snap.requests_per_minute / 60.0);
    if (s->last_reload)
        fprintf(f, "last reload: %s %s: %s\n", when, s->last_reload_ok ? "ok" : "FAILED",
                s->last_reload_msg);
    else
        fprintf(f, "last reload: never\n");
    if (s->running || s->pending)
        fprintf(f, "reload: in progress\n");
    fclose(f);
    return out;
}

void bw_sup_on_control(sup_t *s)
{
    int c = accept4(s->ctlfd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return;
    char line[BW_CTL_MAX_LINE];
    if (bw_ctl_read_line(c, line, sizeof line, 2000) < 0) {
        bw_ctl_reply(c, 0, "expected one command line (status, stats, reload, reload-bases, stop)\n");
        return;
    }
    if (strcmp(line, "status") == 0) {
        char *t = status_text(s);
        bw_ctl_reply(c, t != NULL, t ? t : "out of memory\n");
        free(t);
    } else if (strcmp(line, "stats") == 0) {
        char *t = s->stats ? bw_stats_text(s->stats) : NULL;
        bw_ctl_reply(c, t != NULL, t ? t : "statistics are not available\n");
        free(t);
    } else if (strcmp(line, "reload") == 0) {
        bw_sup_request_reload(s, RELOAD_CONF, c);
    } else if (strcmp(line, "reload-bases") == 0) {
        bw_sup_request_reload(s, RELOAD_BASES, c);
    } else if (strcmp(line, "stop") == 0) {
        char t[64];
        snprintf(t, sizeof t, "stopping (pid %d)\n", (int)getpid());
        bw_ctl_reply(c, 1, t);
        raise(SIGTERM);
    } else if (strcmp(line, "ping") == 0) {
        bw_ctl_reply(c, 1, "pong\n");
    } else {
        char t[BW_CTL_MAX_LINE + 64];
        snprintf(t, sizeof t, "unknown command '%.64s' (status, stats, reload, reload-bases, stop)\n",
                 line);
        bw_ctl_reply(c, 0, t);
    }
}

