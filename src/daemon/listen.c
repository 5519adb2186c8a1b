/* Listening sockets.  The supervisor opens each one once (as root, so
 * privileged ports work before the workers drop privileges) and every worker
 * inherits it.  One shared accept queue per address, not one per worker with
 * SO_REUSEPORT: when a worker is replaced (a reload, a recycle, a crash), the
 * connections waiting in the queue stay there for the other workers instead
 * of being reset with the closing worker's own queue.  That is what makes a
 * reload lose no request. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/net.h"
#include "daemon/daemon.h"

int bw_listen_open(const char *addr, bw_err_t *err)
{
    char host[256];
    const char *port;
    const char *colon = strrchr(addr, ':');
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (!rb || rb[1] != ':') {
            bw_err_set(err, "ListenAddress %s: expected [v6addr]:port", addr);
            return -1;
        }
        snprintf(host, sizeof host, "%.*s", (int)(rb - addr - 1), addr + 1);
        port = rb + 2;
    } else if (colon) {
        snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
        port = colon + 1;
    } else {
        bw_err_set(err, "ListenAddress %s: expected host:port", addr);
        return -1;
    }
    char what[320];
    snprintf(what, sizeof what, "ListenAddress %s", addr);
    return bw_net_listen(what, host, port, 511, err);
}
