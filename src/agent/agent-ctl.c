/* SPDX-License-Identifier: Apache-2.0 */
/* The control socket: the line protocol of bulwarkd's (one command line in,
 * "OK\n" or "ERROR\n" and text out, then close), so `bulwark ctl --socket
 * PATH status` and `bulwark-agent --status` both read it.  Only `status`;
 * the socket is mode 0600 (root). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "core/log.h"

static int ctl_fd = -1;

void bw_agent_ctl_status(bw_agent_t *a, char *buf, size_t cap)
{
    bw_agent_stats_t *s = &a->st;
    char scanner[512];
    if (a->scanner.mode == 1)
        snprintf(scanner, sizeof scanner, "remote %s (%s), fallback %s", a->scanner.server,
                 atomic_load(&a->remote_down) ? "UNREACHABLE" : "ok",
                 a->scanner.fallback == 0 ? "local" : a->scanner.fallback == 1 ? "open" : "closed");
    else
        snprintf(scanner, sizeof scanner, "%s", a->engine ? "local engine" : "none");
#define V(x) (unsigned long long)atomic_load(&s->x)
    snprintf(buf, cap,
             "bulwark-agent %s pid %d up %lld s\n"
             "scanner: %s\n"
             "events: %llu\npermission events: %llu\nscans: %llu\ncache hits: %llu\n"
             "cache entries: %zu\nignore marks: %llu\nallowed: %llu\nblocked: %llu\n"
             "deadline misses: %llu\nexcluded: %llu\nown accesses: %llu\nquarantined: %llu\n"
             "deleted: %llu\ncured: %llu\nscan errors: %llu\nqueue full: %llu\n"
             "drop scanned: %llu\n"
             "remote scans: %llu\nremote cache hits: %llu\nremote failures: %llu\n"
             "fallback local: %llu\nfallback open: %llu\nfallback closed: %llu\n",
             BW_VERSION, (int)a->self, (long long)(time(NULL) - a->started),
             scanner, V(events), V(perm_events), V(scans),
             V(cache_hits), a->cache ? bw_agent_cache_count(a->cache) : 0, V(ignore_marks),
             V(allowed), V(blocked), V(deadline_misses), V(excluded), V(own), V(quarantined),
             V(deleted), V(cured), V(errors), V(queue_full), V(drop_scanned), V(remote_scans), V(remote_cached), V(remote_failures),
             V(fallback_local), V(fallback_open), V(fallback_closed));
#undef V
}

static void *ctl_thread(void *arg)
{
    bw_agent_t *a = arg;
    while (!a->stop) {
        int c = accept4(ctl_fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            usleep(100000);
            continue;
        }
        char line[256];
        size_t got = 0;
        struct pollfd p = {.fd = c, .events = POLLIN};
        while (got < sizeof line - 1 && poll(&p, 1, 2000) > 0) {
            ssize_t n = read(c, line + got, sizeof line - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            if (memchr(line, '\n', got))
                break;
        }
        line[got] = 0;
        line[strcspn(line, "\r\n")] = 0;
        char out[4096];
        if (strcmp(line, "status") == 0) {
            memcpy(out, "OK\n", 3);
            bw_agent_ctl_status(a, out + 3, sizeof out - 3);
        } else {
            snprintf(out, sizeof out, "ERROR\nunknown command '%.64s' (the agent knows: status)\n",
                     line);
        }
        size_t len = strlen(out), off = 0;
        while (off < len) {
            ssize_t n = write(c, out + off, len - off);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        close(c);
    }
    return NULL;
}

int bw_agent_ctl_start(bw_agent_t *a, const char *path, bw_err_t *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        bw_err_set(err, "ControlSocket '%s': path too long", path);
        return BW_ERR;
    }
    strcpy(sa.sun_path, path);
    ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ctl_fd < 0) {
        bw_err_set(err, "socket: %s", strerror(errno));
        return BW_ERR;
    }
    unlink(path);
    mode_t old = umask(077);
    int rc = bind(ctl_fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc != 0 || listen(ctl_fd, 16) != 0) {
        bw_err_set(err, "ControlSocket %s: %s", path, strerror(errno));
        close(ctl_fd);
        ctl_fd = -1;
        return BW_ERR;
    }
    pthread_t t;
    pthread_create(&t, NULL, ctl_thread, a);
    pthread_detach(t);
    return BW_OK;
}
