/* Logging: stderr in the foreground, syslog otherwise. */
#include <stdio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"

static int log_stderr = 1;

void bw_log_init(int to_stderr)
{
    log_stderr = to_stderr;
    if (!to_stderr)
        openlog("bulwarkd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void bw_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (log_stderr) {
        char ts[32];
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(stderr, "%s bulwarkd[%d] %s: ", ts, (int)getpid(),
                level <= BW_LOG_ERR ? "error" : level == BW_LOG_WARN ? "warning" : "info");
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    } else {
        vsyslog(level, fmt, ap);
    }
    va_end(ap);
}
