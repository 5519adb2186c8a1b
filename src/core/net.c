/* SPDX-License-Identifier: Apache-2.0 */
/* bw_net_listen: see net.h. */
#include "core/net.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int bw_net_listen(const char *what, const char *host, const char *port, int backlog,
                  bw_err_t *err)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int any = !host || !host[0] || strcmp(host, "*") == 0;
    int gai = getaddrinfo(any ? NULL : host, port, &hints, &res);
    if (gai) {
        bw_err_set(err, "%s: %s", what, gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        (res->ai_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one)) ||
        bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, backlog)) {
        bw_err_set(err, "%s: %s", what, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}
