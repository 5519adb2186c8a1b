/* SPDX-License-Identifier: Apache-2.0 */
/* The default sink writes each line with one write(2): stderr is shared by
 * the supervisor, its workers, their thread pools and the notify scripts, and
 * stdio would split a line into several writes that can interleave. */
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bw_log_sink_fn log_sink;
static void *log_ctx;
static const char *log_ident;

void bw_log_set_sink(bw_log_sink_fn fn, void *ctx)
{
    __atomic_store_n(&log_ctx, ctx, __ATOMIC_RELAXED);
    __atomic_store_n(&log_sink, fn, __ATOMIC_RELEASE);
}

void bw_log_set_ident(const char *ident)
{
    __atomic_store_n(&log_ident, ident, __ATOMIC_RELEASE);
}

const char *bw_log_level_name(int level)
{
    return level <= BW_LOG_ERR ? "error" : level <= BW_LOG_WARN ? "warning" : "info";
}

static void write_all(const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

void bw_vlog(int level, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    bw_log_sink_fn sink = __atomic_load_n(&log_sink, __ATOMIC_ACQUIRE);
    if (sink) {
        sink(level, msg, __atomic_load_n(&log_ctx, __ATOMIC_RELAXED));
        return;
    }
    const char *ident = __atomic_load_n(&log_ident, __ATOMIC_ACQUIRE);
    if (!ident)
        ident = program_invocation_short_name;
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
    char line[2200];
    int n = snprintf(line, sizeof line, "%s %s[%d] %s: %s\n", ts, ident, (int)getpid(),
                     bw_log_level_name(level), msg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line) { /* cut: keep the newline */
        n = (int)sizeof line - 1;
        line[n - 1] = '\n';
    }
    write_all(line, (size_t)n);
}

void bw_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bw_vlog(level, fmt, ap);
    va_end(ap);
}
