/* SPDX-License-Identifier: Apache-2.0 */
/* Control socket plumbing (see control.h); the verbs are the supervisor's. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/control.h"

static int fill_addr(const char *path, struct sockaddr_un *sa, bw_err_t *err)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa->sun_path)
        return bw_err_set(err, "ControlSocket %s: path too long (at most %zu bytes)", path,
                          sizeof sa->sun_path - 1);
    memcpy(sa->sun_path, path, strlen(path));
    return BW_OK;
}

int bw_ctl_listen(const char *path, bw_err_t *err)
{
    struct sockaddr_un sa;
    if (fill_addr(path, &sa, err) != BW_OK)
        return -1;
    /* The parent directory (e.g. /run/bulwark) may not exist yet. */
    char dir[sizeof sa.sun_path];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            bw_err_set(err, "ControlSocket %s: cannot create %s: %s", path, dir, strerror(errno));
            return -1;
        }
    }
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
        close(probe);
        bw_err_set(err, "ControlSocket %s: another bulwarkd is running there", path);
        return -1;
    }
    if (probe >= 0)
        close(probe);
    unlink(path); /* stale */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    mode_t old = umask(0177); /* 0600 from the first instant */
    int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc != 0 || listen(fd, 16) != 0) {
        bw_err_set(err, "ControlSocket %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

void bw_ctl_reply(int fd, int ok, const char *text)
{
    char head[16];
    int hl = snprintf(head, sizeof head, "%s\n", ok ? "OK" : "ERROR");
    const char *parts[2] = {head, text ? text : ""};
    size_t lens[2] = {(size_t)hl, text ? strlen(text) : 0};
    for (int i = 0; i < 2; i++) {
        size_t off = 0;
        while (off < lens[i]) {
            ssize_t w = send(fd, parts[i] + off, lens[i] - off, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && errno == EAGAIN) {
                /* The supervisor never waits on a client: an answer (a few
                 * KiB) fits in a fresh socket's buffer, so a full one is a
                 * client that stopped reading; it is dropped. */
                struct pollfd p = {fd, POLLOUT, 0};
                if (poll(&p, 1, 0) <= 0)
                    goto out;
                continue;
            }
            if (w <= 0)
                goto out;
            off += (size_t)w;
        }
    }
out:
    close(fd);
}
