/* SPDX-License-Identifier: Apache-2.0 */
/* Listening sockets.  The supervisor opens each one once (as root, so
 * privileged ports work before the workers drop privileges) and every worker
 * inherits it.  One shared accept queue per address, not one per worker with
 * SO_REUSEPORT: when a worker is replaced (a reload, a recycle, a crash), the
 * connections waiting in the queue stay there for the other workers instead
 * of being reset with the closing worker's own queue.  That is what makes a
 * reload lose no request.
 *
 * An address is split and its port checked here, before getaddrinfo sees
 * it: glibc takes "99999" as a numeric service and wraps it to 34463, so a
 * typo would otherwise listen on a port nobody asked for.  `bulwarkd -t`
 * runs the same split and the same resolution, and stops there: a
 * configuration test binds nothing (the running daemon holds the ports). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/net.h"
#include "daemon/daemon.h"

/* "host:port", "[v6]:port" or "*:port" into host and a port of 1..65535
 * written as plain digits. */
static int split_addr(const char *key, const char *addr, char *host, size_t hcap, char *port,
                      size_t pcap, bw_err_t *err)
{
    const char *colon = strrchr(addr, ':'), *p;
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (!rb || rb[1] != ':')
            return bw_err_set(err, "%s %s: expected [v6addr]:port", key, addr);
        snprintf(host, hcap, "%.*s", (int)(rb - addr - 1), addr + 1);
        p = rb + 2;
    } else if (colon) {
        snprintf(host, hcap, "%.*s", (int)(colon - addr), addr);
        p = colon + 1;
    } else {
        return bw_err_set(err, "%s %s: expected host:port", key, addr);
    }
    size_t n = strspn(p, "0123456789");
    unsigned long v = n && n <= 5 && !p[n] ? strtoul(p, NULL, 10) : 0;
    if (v < 1 || v > 65535)
        return bw_err_set(err, "%s %s: bad port '%s' (expected 1..65535)", key, addr, p);
    snprintf(port, pcap, "%lu", v);
    return BW_OK;
}

int bw_listen_open(const char *key, const char *addr, bw_err_t *err)
{
    char host[256], port[8], what[320];
    if (split_addr(key, addr, host, sizeof host, port, sizeof port, err) != BW_OK)
        return -1;
    snprintf(what, sizeof what, "%s %s", key, addr);
    return bw_net_listen(what, host, port, 511, err);
}

int bw_listen_check_host(const char *what, const char *host, const char *port, bw_err_t *err)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV; /* as bw_net_listen resolves it */
    int any = !host || !host[0] || strcmp(host, "*") == 0;
    int gai = getaddrinfo(any ? NULL : host, port, &hints, &res);
    if (gai)
        return bw_err_set(err, "%s: %s", what, gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
    freeaddrinfo(res);
    return BW_OK;
}

int bw_listen_check(const char *key, const char *addr, bw_err_t *err)
{
    char host[256], port[8], what[320];
    if (split_addr(key, addr, host, sizeof host, port, sizeof port, err) != BW_OK)
        return BW_ERR;
    snprintf(what, sizeof what, "%s %s", key, addr);
    return bw_listen_check_host(what, host, port, err);
}
