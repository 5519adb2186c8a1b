/* SPDX-License-Identifier: Apache-2.0 */
/* Opening the clamd listeners, once, in the supervisor (as root, before it
 * drops privileges and forks): TCPSocket on each TCPAddr, and LocalSocket
 * with its mode and group.  The workers inherit the descriptors; none of
 * this runs in a worker.
 *
 * A stale LocalSocket (a file left by a daemon that died) is removed only if
 * it is a socket and nothing answers on it, so two daemons never steal each
 * other's socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clamd/clamd.h"
#include "core/net.h"

static int open_tcp(const char *addr, unsigned port, int backlog, bw_err_t *err)
{
    char ports[16], what[320];
    snprintf(ports, sizeof ports, "%u", port);
    snprintf(what, sizeof what, "TCPAddr %s port %u", addr ? addr : "*", port);
    return bw_net_listen(what, addr, ports, backlog, err);
}

/* Removes `path` if it is a socket nobody listens on.  BW_ERR if something
 * is there that must not be removed. */
static int clear_stale(const char *path, int fix, bw_err_t *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? BW_OK : bw_err_set(err, "LocalSocket %s: %s", path, strerror(errno));
    if (!S_ISSOCK(st.st_mode))
        return bw_err_set(err, "LocalSocket %s: exists and is not a socket", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int live = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    if (live)
        return bw_err_set(err, "LocalSocket %s: another daemon is listening on it", path);
    if (!fix)
        return bw_err_set(err, "LocalSocket %s: a stale socket is in the way (FixStaleSocket no)", path);
    if (unlink(path) != 0)
        return bw_err_set(err, "LocalSocket %s: cannot remove the stale socket: %s", path, strerror(errno));
    return BW_OK;
}

static int open_unix(const bw_clamd_conf_t *cc, bw_err_t *err)
{
    const char *path = cc->local_socket;
    struct sockaddr_un sa;
    if (strlen(path) >= sizeof sa.sun_path) {
        bw_err_set(err, "LocalSocket %s: path too long", path);
        return -1;
    }
    if (clear_stale(path, cc->fix_stale_socket, err) != BW_OK)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa)) {
        bw_err_set(err, "LocalSocket %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (cc->local_socket_mode && cc->local_socket_mode[0]) {
        mode_t mode = (mode_t)strtoul(cc->local_socket_mode, NULL, 8);
        if (chmod(path, mode) != 0) {
            bw_err_set(err, "LocalSocketMode %s on %s: %s", cc->local_socket_mode, path, strerror(errno));
            goto fail;
        }
    }
    if (cc->local_socket_group && cc->local_socket_group[0]) {
        struct group gr, *g = NULL;
        char buf[4096];
        if (getgrnam_r(cc->local_socket_group, &gr, buf, sizeof buf, &g) != 0 || !g) {
            bw_err_set(err, "LocalSocketGroup %s: no such group", cc->local_socket_group);
            goto fail;
        }
        if (chown(path, (uid_t)-1, g->gr_gid) != 0) {
            bw_err_set(err, "LocalSocketGroup %s on %s: %s", cc->local_socket_group, path, strerror(errno));
            goto fail;
        }
    }
    if (listen(fd, (int)cc->backlog) != 0) {
        bw_err_set(err, "LocalSocket %s: %s", path, strerror(errno));
        goto fail;
    }
    return fd;
fail:
    close(fd);
    unlink(path);
    return -1;
}

int bw_clamd_open_listeners(const bw_clamd_conf_t *cc, int *fds, int *is_unix, size_t max,
                            size_t *n, bw_err_t *err)
{
    *n = 0;
    if (!bw_clamd_conf_enabled(cc))
        return BW_OK;
    size_t want = (cc->tcp_port ? (cc->tcp_addr.n ? cc->tcp_addr.n : 1) : 0) +
                  (cc->local_socket && cc->local_socket[0] ? 1 : 0);
    if (want > max)
        return bw_err_set(err, "[clamd]: %zu listeners, at most %zu", want, max);
    if (cc->tcp_port) {
        size_t na = cc->tcp_addr.n ? cc->tcp_addr.n : 1;
        for (size_t i = 0; i < na; i++) {
            const char *a = cc->tcp_addr.n ? BW_CONF_LIST_AT(&cc->tcp_addr, char *, i) : "0.0.0.0";
            int fd = open_tcp(a, (unsigned)cc->tcp_port, (int)cc->backlog, err);
            if (fd < 0)
                goto fail;
            fds[*n] = fd;
            is_unix[*n] = 0;
            (*n)++;
        }
    }
    if (cc->local_socket && cc->local_socket[0]) {
        int fd = open_unix(cc, err);
        if (fd < 0)
            goto fail;
        fds[*n] = fd;
        is_unix[*n] = 1;
        (*n)++;
    }
    return BW_OK;
fail:
    for (size_t i = 0; i < *n; i++)
        close(fds[i]);
    *n = 0;
    return BW_ERR;
}

void bw_clamd_unlink_socket(const bw_clamd_conf_t *cc)
{
    if (cc && cc->local_socket && cc->local_socket[0])
        unlink(cc->local_socket);
}
