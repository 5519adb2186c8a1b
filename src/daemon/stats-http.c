/* SPDX-License-Identifier: Apache-2.0 */
/* The Prometheus /metrics endpoint, served by libmicrohttpd from one thread
 * of the supervisor.
 *
 * Why libmicrohttpd and not a few lines of socket code: an HTTP server facing
 * a network, however small, must get request parsing, timeouts, connection
 * limits and keep-alive right; MHD does, and is packaged by Debian.
 *
 * Three details matter because the endpoint lives inside a process that
 * forks and waits for signals:
 *  - the MHD thread is created with every signal blocked, so SIGTERM, SIGHUP
 *    and SIGCHLD interrupt the supervisor's main thread and not this one;
 *  - a forked worker inherits the listening socket; a pthread_atfork child
 *    handler closes it there, so a worker never holds the metrics port (a
 *    restarted endpoint could not bind it otherwise);
 *  - scrapes read the shared counters with relaxed loads and never lock, so
 *    a slow scraper cannot stall a worker.
 */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulwark/bulwark.h"
#include "daemon/stats.h"

#if MHD_VERSION < 0x00097002
typedef int mhd_result;
#else
typedef enum MHD_Result mhd_result;
#endif

static struct MHD_Daemon *http_daemon;
static int http_listen_fd = -1;
static int atfork_registered;

static void close_in_child(void)
{
    /* The child has no MHD thread: forget the daemon without stopping it,
     * and release the port it inherited. */
    if (http_listen_fd >= 0)
        close(http_listen_fd);
    http_listen_fd = -1;
    http_daemon = NULL;
}

static mhd_result reply(struct MHD_Connection *c, unsigned code, const char *type, char *body,
                        int owned)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (owned)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    mhd_result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static mhd_result on_request(void *cls, struct MHD_Connection *c, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_size, void **req)
{
    bw_stats_t *s = cls;
    static char not_found[] = "not found: try /metrics\n";
    static char not_allowed[] = "method not allowed\n";
    if (strcmp(url, "/metrics") != 0)
        return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", not_found, 0);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", not_allowed, 0);
    char *text = bw_stats_prometheus(s);
    if (!text)
        return MHD_NO; /* out of memory: MHD closes the connection */
    return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, 1);
}

int bw_stats_http_start(bw_stats_t *s, const char *addr, bw_err_t *err)
{
    struct sockaddr_storage sa;
    socklen_t salen;
    if (http_daemon)
        return bw_err_set(err, "MetricsAddress %s: the endpoint is already running", addr);
    if (!s || !addr || bw_stats_parse_addr(addr, &sa, &salen, err) != BW_OK)
        return bw_err_prefix(err, "MetricsAddress");
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The thread inherits this mask: it must never take a signal meant for
     * the supervisor's main thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    errno = 0;
    http_daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)16, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
        MHD_OPTION_END);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!http_daemon)
        return bw_err_set(err, "MetricsAddress %s: cannot start the HTTP endpoint%s%s", addr,
                          saved ? ": " : "", saved ? strerror(saved) : "");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(http_daemon, MHD_DAEMON_INFO_LISTEN_FD);
    http_listen_fd = info ? info->listen_fd : -1;
    if (!atfork_registered && pthread_atfork(NULL, NULL, close_in_child) == 0)
        atfork_registered = 1;
    return BW_OK;
}

void bw_stats_http_stop(void)
{
    if (http_daemon)
        MHD_stop_daemon(http_daemon);
    http_daemon = NULL;
    http_listen_fd = -1;
}
