/* SPDX-License-Identifier: Apache-2.0 */
/* The control socket's verbs (the plumbing is control.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/stats.h"
#include "daemon/control.h"
#include "daemon/supervisor-t.h"
#include "rscan/rscan.h"

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
    if (info->build_time[0])
        fprintf(f, "database time: %s\n", info->build_time);
    fprintf(f, "signatures: %llu\n", (unsigned long long)info->signatures);
    fprintf(f, "workers: %u of %d running (%s)%s\n", bw_sup_alive_of(s, s->cur), s->cur->nworkers, pids,
            draining ? "" : "");
    if (draining)
        fprintf(f, "workers draining: %u\n", draining);
    fprintf(f, "connections: %llu open\n", (unsigned long long)snap.connections_open);
    fprintf(f, "requests: %llu total, %.2f/s over the last minute\n",
            (unsigned long long)snap.v[BW_ST_REQUESTS], (double)snap.requests_per_minute / 60.0);
    if (s->cur->rc && s->cur->rc->listen.n)
        fprintf(f, "rscan: %llu requests, %llu cache hits, %llu content bytes received\n",
                (unsigned long long)snap.v[BW_ST_RSCAN_REQUESTS],
                (unsigned long long)snap.v[BW_ST_RSCAN_HITS],
                (unsigned long long)snap.v[BW_ST_RSCAN_BYTES]);
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

/* ---- clients -------------------------------------------------------------- */

/* The control socket is served by the supervisor's one poll loop, so no
 * client may hold it: each accepted client gets a slot and CTL_DEADLINE_MS
 * to send its command line, and is read only when poll says it has
 * something.  Slots are few (the socket is root's: only a broken or hostile
 * local process fills them); when they are all taken the oldest client is
 * dropped, so the newest one (an operator's `bulwark ctl status`) is always
 * heard. */

void bw_sup_ctl_init(sup_t *s)
{
    for (int i = 0; i < MAX_CTL_CONNS; i++)
        s->ctl[i].fd = -1;
}

static void ctl_drop(ctl_conn_t *c, const char *why)
{
    bw_ctl_reply(c->fd, 0, why); /* closes; the socket is non-blocking */
    c->fd = -1;
}

static void dispatch(sup_t *s, int c, const char *line)
{
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

#define EXPECTED "expected one command line (status, stats, reload, reload-bases, stop)\n"

void bw_sup_on_control(sup_t *s)
{
    for (int k = 0; k < MAX_CTL_CONNS; k++) { /* what is queued now, boundedly */
        int c = accept4(s->ctlfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0)
            return;
        ctl_conn_t *slot = NULL, *oldest = NULL;
        for (int i = 0; i < MAX_CTL_CONNS; i++) {
            if (s->ctl[i].fd < 0) {
                slot = &s->ctl[i];
                break;
            }
            if (!oldest || s->ctl[i].accepted_ms < oldest->accepted_ms)
                oldest = &s->ctl[i];
        }
        if (!slot) {
            ctl_drop(oldest, "too many control clients; the oldest is dropped\n");
            slot = oldest;
        }
        uint64_t now = bw_clock_ms();
        *slot = (ctl_conn_t){.fd = c, .deadline_ms = now + CTL_DEADLINE_MS, .accepted_ms = now};
    }
}

int bw_sup_ctl_pollfds(const sup_t *s, struct pollfd *p)
{
    int n = 0;
    for (int i = 0; i < MAX_CTL_CONNS; i++)
        if (s->ctl[i].fd >= 0)
            p[n++] = (struct pollfd){s->ctl[i].fd, POLLIN, 0};
    return n;
}

/* Reads what is there; dispatches a whole line. */
static void on_client(sup_t *s, ctl_conn_t *c)
{
    for (;;) {
        ssize_t r = read(c->fd, c->line + c->n, sizeof c->line - 1 - c->n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return;
        if (r <= 0) { /* gone, or closed its side without a whole line */
            ctl_drop(c, EXPECTED);
            return;
        }
        c->n += (size_t)r;
        c->line[c->n] = '\0';
        char *nl = memchr(c->line, '\n', c->n);
        if (!nl) {
            if (c->n >= sizeof c->line - 1)
                ctl_drop(c, EXPECTED);
            continue;
        }
        *nl = '\0';
        if (nl > c->line && nl[-1] == '\r')
            nl[-1] = '\0';
        int fd = c->fd;
        char line[BW_CTL_MAX_LINE];
        memcpy(line, c->line, sizeof line);
        c->fd = -1; /* the verb owns fd now (a reload keeps it) */
        dispatch(s, fd, line);
        return;
    }
}

void bw_sup_ctl_on_clients(sup_t *s, const struct pollfd *p, int n)
{
    for (int k = 0; k < n; k++) {
        if (!p[k].revents)
            continue;
        for (int i = 0; i < MAX_CTL_CONNS; i++)
            if (s->ctl[i].fd == p[k].fd) {
                on_client(s, &s->ctl[i]);
                break;
            }
    }
}

int bw_sup_ctl_expire(sup_t *s)
{
    uint64_t now = bw_clock_ms(), next = UINT64_MAX;
    for (int i = 0; i < MAX_CTL_CONNS; i++) {
        ctl_conn_t *c = &s->ctl[i];
        if (c->fd < 0)
            continue;
        if (now >= c->deadline_ms)
            ctl_drop(c, "no command line within 2 s\n");
        else if (c->deadline_ms < next)
            next = c->deadline_ms;
    }
    return next == UINT64_MAX ? -1 : (int)(next - now);
}

void bw_sup_ctl_close_all(sup_t *s)
{
    for (int i = 0; i < MAX_CTL_CONNS; i++)
        if (s->ctl[i].fd >= 0) {
            close(s->ctl[i].fd);
            s->ctl[i].fd = -1;
        }
}

/* ---- the shipper's channel (shipper.c says why) ----------------------------- */

/* One request: a command and, in SCM_RIGHTS, the socket that gets the
 * answer.  Only the verbs the shipper needs; anything else is refused. */
void bw_sup_on_shipper(sup_t *s)
{
    for (int k = 0; k < 8; k++) {
        char line[64];
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {line, sizeof line - 1};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                           .msg_controllen = sizeof cbuf};
        ssize_t r = recvmsg(s->ship_fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return;
        if (r == 0) { /* the shipper is gone; its exit is reaped elsewhere */
            close(s->ship_fd);
            s->ship_fd = -1;
            return;
        }
        line[r] = '\0';
        int fd = -1;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
                cm->cmsg_len >= CMSG_LEN(sizeof(int)))
                memcpy(&fd, CMSG_DATA(cm), sizeof fd);
        if (fd < 0)
            continue;
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        if (!strcmp(line, "status") || !strcmp(line, "reload") || !strcmp(line, "reload-bases"))
            dispatch(s, fd, line);
        else
            bw_ctl_reply(fd, 0, "the shipper may ask only for status, reload, reload-bases\n");
    }
}
