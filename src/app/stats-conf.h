/* SPDX-License-Identifier: Apache-2.0 */
/* The [icapserver.statistics] keys (stats-conf.c).  The counters themselves
 * are core/stats.h; the /metrics endpoint is the daemon's (daemon/stats.h). */
#ifndef BW_APP_STATS_CONF_H
#define BW_APP_STATS_CONF_H

#include <stdint.h>
#include <sys/socket.h>

#include "core/conf-t.h"
#include "core/err.h"

typedef struct bw_stats_conf {
    char *counter_file;     /* CounterStatisticsFile ("" = none) */
    uint64_t interval_ms;   /* StatisticsInterval: how often the file is written */
    char *metrics_addr;     /* MetricsAddress ("" = no /metrics endpoint) */
} bw_stats_conf_t;

extern const bw_conf_table_t bw_stats_conf_table;

/* Parses "IP:PORT" or "[IPv6]:PORT" (numeric host, port 1..65535) into *sa.
 * BW_OK, or BW_ERR with "'x' is not ... (expected ...)" in err. */
int bw_stats_parse_addr(const char *s, struct sockaddr_storage *sa, socklen_t *len,
                        bw_err_t *err);

#endif
