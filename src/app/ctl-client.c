/* bw_ctl_call: one command line out, the answer in until the daemon closes. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "app/ctl-client.h"
#include "core/clock.h"

int bw_ctl_call(const char *socket_path, const char *command, int timeout_ms, char **text,
                bw_err_t *err)
{
    *text = NULL;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (!socket_path || !socket_path[0] || strlen(socket_path) >= sizeof sa.sun_path) {
        bw_err_set(err, "control socket '%s': not a usable path", socket_path ? socket_path : "");
        return -1;
    }
    memcpy(sa.sun_path, socket_path, strlen(socket_path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        if (e == EACCES || e == EPERM) {
            bw_err_set(err, "permission denied on the control socket %s: %s (it is root's: run "
                            "this as root)", socket_path, strerror(e));
            return BW_CTL_DENIED;
        }
        bw_err_set(err, "cannot reach bulwarkd at %s: %s", socket_path, strerror(e));
        return -1;
    }
    char line[300];
    int n = snprintf(line, sizeof line, "%s\n", command);
    if (n <= 0 || (size_t)n >= sizeof line || send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
        bw_err_set(err, "control socket %s: cannot send the command", socket_path);
        close(fd);
        return -1;
    }
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    long long deadline = (long long)bw_clock_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - (long long)bw_clock_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (!buf || left <= 0 || poll(&p, 1, (int)left) <= 0) {
            bw_err_set(err, "control socket %s: no complete answer within %d ms", socket_path,
                       timeout_ms);
            free(buf);
            close(fd);
            return -1;
        }
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                bw_err_set(err, "out of memory");
                free(buf);
                close(fd);
                return -1;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    int ok;
    const char *rest;
    if (strncmp(buf, "OK\n", 3) == 0) {
        ok = 1;
        rest = buf + 3;
    } else if (strncmp(buf, "ERROR\n", 6) == 0) {
        ok = 0;
        rest = buf + 6;
    } else {
        bw_err_set(err, "control socket %s: unexpected answer", socket_path);
        free(buf);
        return -1;
    }
    memmove(buf, rest, strlen(rest) + 1);
    *text = buf;
    return ok;
}
