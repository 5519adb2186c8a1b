/* SPDX-License-Identifier: Apache-2.0 */
/* Log lines of every layer: one function, one sink.
 *
 * Library code (icap, policy, quarantine, ...) reports what operators must
 * see, a quarantine that failed, a TLS client that broke off, an overload,
 * with bw_log(level, fmt, ...).  Where the line goes is the program's
 * choice, made once at start with bw_log_set_sink(): bulwarkd sends it to
 * syslog when it runs as a daemon.  Without a sink a line goes to stderr as
 *
 *   2026-12-08 00:10:00 bulwarkd[4242] warning: quarantine: ... not stored: ...
 *
 * (local time, the ident and the pid of the process that logs, the level),
 * the same shape for the supervisor and its workers, written with one
 * write() so that lines from threads and processes sharing stderr do not
 * interleave.  Levels are syslog's numbers, so a sink can pass them on. */
#ifndef BW_CORE_LOG_H
#define BW_CORE_LOG_H

#include <stdarg.h>

enum { BW_LOG_ERR = 3, BW_LOG_WARN = 4, BW_LOG_INFO = 6 };

/* A sink gets the formatted message (no prefix, no newline). */
typedef void (*bw_log_sink_fn)(int level, const char *msg, void *ctx);

/* NULL restores the default (stderr with time, ident, pid and level).  Set
 * it before threads start; it applies to the processes forked afterwards. */
void bw_log_set_sink(bw_log_sink_fn fn, void *ctx);
/* The name in the stderr prefix (default: the program's name).  The string
 * must outlive the logging. */
void bw_log_set_ident(const char *ident);

void bw_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bw_vlog(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* "error", "warning" or "info" (a level between gets the next more severe). */
const char *bw_log_level_name(int level);

#endif
