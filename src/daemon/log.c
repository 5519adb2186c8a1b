/* SPDX-License-Identifier: Apache-2.0 */
/* Logging: stderr in the foreground, syslog otherwise.  The lines themselves
 * come from core/log.c (bw_log), which every layer uses; this file only
 * points them at syslog when bulwarkd runs as a daemon. */
#include <syslog.h>

#include "daemon/daemon.h"

static void to_syslog(int level, const char *msg, void *ctx)
{
    (void)ctx;
    syslog(level, "%s", msg);
}

void bw_log_init(int to_stderr)
{
    bw_log_set_ident("bulwarkd");
    if (to_stderr) {
        bw_log_set_sink(NULL, NULL);
        return;
    }
    openlog("bulwarkd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    bw_log_set_sink(to_syslog, NULL);
}
