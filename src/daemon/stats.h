/* SPDX-License-Identifier: Apache-2.0 */
/* Exporting the server-wide counters (core/stats.h): the Prometheus /metrics
 * endpoint (the keys are app/stats-conf.h).  The counters file is written by
 * the supervisor itself (bw_stats_write_file) on SIGUSR2 and every
 * StatisticsInterval. */
#ifndef BW_DAEMON_STATS_H
#define BW_DAEMON_STATS_H

#include <stdint.h>
#include <sys/socket.h>

#include "core/conf-t.h"
#include "core/stats.h"
#include "app/stats-conf.h"

/* Serves GET /metrics (text/plain; version=0.0.4) from a libmicrohttpd
 * thread of the calling process, bound to `addr` only; any other path is 404.
 * bulwarkd calls it in a process of its own (supervisor.c), never in a
 * process that forks while the thread runs; at most one endpoint per process.
 * The thread blocks every signal, so signals reach the main thread.  A forked child closes
 * its inherited copy of the listening socket automatically (pthread_atfork).
 * BW_OK, or BW_ERR with "MetricsAddress ADDR: why" in err. */
int bw_stats_http_start(bw_stats_t *s, const char *addr, bw_err_t *err);
/* Stops the endpoint (no-op if none is running). */
void bw_stats_http_stop(void);

#endif
