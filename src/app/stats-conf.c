/* SPDX-License-Identifier: Apache-2.0 */
/* The [icapserver.statistics] keys.  CounterStatisticsFile follows
 * kav4proxy.conf; MetricsAddress is ours (Prometheus).  MetricsAddress is
 * checked at load time by a custom parser, so a typo is reported with its
 * file:line instead of failing later when the endpoint starts. */
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/bulwark.h"
#include "app/stats-conf.h"

int bw_stats_parse_addr(const char *s, struct sockaddr_storage *sa, socklen_t *len,
                        bw_err_t *err)
{
    char host[128];
    const char *port;
    size_t n = strlen(s);
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof host)
            goto bad;
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = '\0';
        port = rb + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host || memchr(s, ':', (size_t)(colon - s)))
            goto bad;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        port = colon + 1;
    }
    /* The port: 1..65535, digits only. */
    if (!port[0] || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
        atoi(port) < 1 || atoi(port) > 65535 || !host[0] || n > 300)
        goto bad;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
        goto bad;
    memset(sa, 0, sizeof *sa);
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return BW_OK;
bad:
    return bw_err_set(err,
                      "'%s' is not an address (expected a numeric IP:PORT, e.g. 127.0.0.1:9344 or "
                      "[::1]:9344)",
                      s);
}

/* MetricsAddress: stored as a char * like a STRING key, validated first. */
static int parse_metrics_addr(const bw_conf_key_t *key, const char *value, void *dst,
                              bw_err_t *err)
{
    struct sockaddr_storage sa;
    socklen_t len;
    if (value[0] && bw_stats_parse_addr(value, &sa, &len, err) != BW_OK)
        return BW_ERR;
    char *copy = strdup(value);
    if (!copy)
        return bw_err_set(err, "out of memory");
    *(char **)dst = copy;
    return BW_OK;
}

static void free_metrics_addr(const bw_conf_key_t *key, void *dst)
{
    free(*(char **)dst);
    *(char **)dst = NULL;
}

#define OFF(f) offsetof(bw_stats_conf_t, f)

static const bw_conf_key_t keys[] = {
    {"icapserver.statistics", "CounterStatisticsFile", BW_CONF_PATH, 0, "", 0, 4096,
     OFF(counter_file), NULL, NULL, NULL, 0, NULL,
     "counters file (`name value` lines), rewritten atomically on SIGUSR2 and every "
     "StatisticsInterval (empty: none)"},
    {"icapserver.statistics", "StatisticsInterval", BW_CONF_DURATION, 0, "60s", 1000, 86400000,
     OFF(interval_ms), NULL, NULL, NULL, 0, NULL,
     "how often the counters file is written (a plain number is seconds)"},
    {"icapserver.statistics", "MetricsAddress", BW_CONF_CUSTOM, 0, "", 0, 0, OFF(metrics_addr),
     NULL, parse_metrics_addr, free_metrics_addr, sizeof(char *), NULL,
     "IP:PORT of the Prometheus /metrics endpoint, e.g. 127.0.0.1:9344 (empty: off)"},
};

const bw_conf_table_t bw_stats_conf_table = {
    "statistics", sizeof(bw_stats_conf_t), keys, BW_CONF_NKEYS(keys), NULL, NULL,
};
