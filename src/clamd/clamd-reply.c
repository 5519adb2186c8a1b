/* SPDX-License-Identifier: Apache-2.0 */
/* Reply texts, byte for byte as clamd writes them (session.c, scanner.c,
 * thrmgr.c of ClamAV 1.x).
 *
 * Bulwark has more statuses than clamd's three outcomes (virus, error,
 * clean), so each status is mapped the way clamd treats the same condition:
 *   INFECTED, SUSPICIOUS, WARNING, CURED  -> "NAME FOUND" (clamd cannot cure)
 *   PROTECTED (encrypted)                -> OK, or FOUND with AlertEncrypted
 *   CORRUPTED                            -> OK, or FOUND with AlertBroken
 *   TOO_LARGE, TIMEOUT and the limit ERRORs (max files, recursion, ratio)
 *                                        -> OK, or Heuristics.Limits.Exceeded.*
 *                                           FOUND with AlertExceedsMax
 *   any other ERROR                      -> "REASON ERROR"
 * A FOUND wins over an ERROR, an ERROR over OK: one object, one line (all
 * detections, one line each, with ALLMATCHSCAN).
 */
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clamd/clamd-int.h"
#include "core/clock.h"

void bw_clamd_put(bw_buf_t *b, unsigned id, char term, const char *fmt, ...)
{
    if (id)
        bw_buf_printf(b, "%u: ", id);
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n < sizeof tmp) {
        bw_buf_append(b, tmp, (size_t)n);
    } else {
        va_start(ap, fmt);
        char *big = NULL;
        if (vasprintf(&big, fmt, ap) >= 0) {
            bw_buf_puts(b, big);
            free(big);
        } else {
            b->oom = 1;
        }
        va_end(ap);
    }
    bw_buf_append(b, &term, 1);
}

/* The clamd heuristic name of a limit condition, or NULL when the threat is
 * not a limit. */
static const char *limit_name(const bw_threat_t *t)
{
    if (t->status == BW_TIMEOUT)
        return "Heuristics.Limits.Exceeded.MaxScanTime";
    const char *n = t->name ? t->name : "";
    if (t->status == BW_TOO_LARGE) {
        if (strstr(n, "max file size"))
            return "Heuristics.Limits.Exceeded.MaxFileSize";
        return "Heuristics.Limits.Exceeded.MaxScanSize";
    }
    if (t->status != BW_ERROR || strncmp(n, "limits exceeded", 15))
        return NULL;
    if (strstr(n, "max files"))
        return "Heuristics.Limits.Exceeded.MaxFiles";
    if (strstr(n, "recursion"))
        return "Heuristics.Limits.Exceeded.MaxRecursion";
    if (strstr(n, "ratio"))
        return "Heuristics.Limits.Exceeded.CompressionRatio";
    if (strstr(n, "scan time"))
        return "Heuristics.Limits.Exceeded.MaxScanTime";
    if (strstr(n, "file size"))
        return "Heuristics.Limits.Exceeded.MaxFileSize";
    return "Heuristics.Limits.Exceeded.MaxScanSize";
}

/* What one threat becomes over clamd: R_FOUND with *name, R_ERROR with
 * *name as the reason, or R_OK (not reported). */
static int map_threat(const bw_threat_t *t, const bw_clamd_conf_t *cc, const char **name)
{
    *name = t->name && t->name[0] ? t->name : bw_status_name(t->status);
    switch (t->status) {
    case BW_INFECTED:
    case BW_SUSPICIOUS:
    case BW_WARNING:
    case BW_CURED:
        return BW_CLAMD_R_FOUND;
    case BW_PROTECTED:
        return cc->alert_encrypted ? BW_CLAMD_R_FOUND : BW_CLAMD_R_OK;
    case BW_CORRUPTED:
        return cc->alert_broken ? BW_CLAMD_R_FOUND : BW_CLAMD_R_OK;
    case BW_TOO_LARGE:
    case BW_TIMEOUT:
    case BW_ERROR: {
        const char *lim = limit_name(t);
        if (!lim)
            return BW_CLAMD_R_ERROR;
        *name = lim;
        return cc->alert_exceeds_max ? BW_CLAMD_R_FOUND : BW_CLAMD_R_OK;
    }
    default:
        return BW_CLAMD_R_OK;
    }
}

/* A name goes on one reply line: no terminators inside it. */
static void put_name_line(bw_buf_t *b, unsigned id, char term, const char *obj, const char *name,
                          const char *what)
{
    char clean[512];
    snprintf(clean, sizeof clean, "%s", name);
    for (char *p = clean; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    bw_clamd_put(b, id, term, "%s: %s %s", obj, clean, what);
}

int bw_clamd_put_verdict(bw_buf_t *b, unsigned id, char term, const char *obj,
                         const bw_verdict_t *v, const bw_clamd_conf_t *cc, int allmatch,
                         int ok_line)
{
    const char *name;
    int found = 0;
    /* FOUND lines first: the first detection, or all of them. */
    for (size_t i = 0; i < v->nthreats; i++) {
        if (map_threat(&v->threats[i], cc, &name) != BW_CLAMD_R_FOUND)
            continue;
        if (found && !allmatch)
            break;
        int dup = 0;
        for (size_t k = 0; k < i && !dup; k++) {
            const char *prev;
            dup = map_threat(&v->threats[k], cc, &prev) == BW_CLAMD_R_FOUND && !strcmp(prev, name);
        }
        if (dup)
            continue; /* one line per name, as clamd reports a signature once */
        put_name_line(b, id, term, obj, name, "FOUND");
        found = 1;
    }
    if (found)
        return BW_CLAMD_R_FOUND;
    for (size_t i = 0; i < v->nthreats; i++)
        if (map_threat(&v->threats[i], cc, &name) == BW_CLAMD_R_ERROR) {
            put_name_line(b, id, term, obj, name, "ERROR");
            return BW_CLAMD_R_ERROR;
        }
    if (v->status == BW_ERROR && v->nthreats == 0) {
        bw_clamd_put(b, id, term, "%s: scan error ERROR", obj);
        return BW_CLAMD_R_ERROR;
    }
    if (ok_line)
        bw_clamd_put(b, id, term, "%s: OK", obj);
    return BW_CLAMD_R_OK;
}

/* clamd prints ctime() of the database's build time.  Our .cvd header keeps
 * "17 Nov 2025 09:28 -0500"; without a .cvd, the time the server started. */
void bw_clamd_version_init(server_t *s)
{
    const bw_db_info_t *info = s->env.engine ? bw_engine_info(s->env.engine) : NULL;
    time_t t = time(NULL);
    if (info && info->build_time[0]) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(info->build_time, "%d %b %Y %H:%M %z", &tm);
        if (end) {
            long off = tm.tm_gmtoff;
            time_t u = timegm(&tm);
            if (u != (time_t)-1)
                t = u - off;
        }
    }
    struct tm lt;
    char date[64];
    localtime_r(&t, &lt);
    strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &lt);
    snprintf(s->version, sizeof s->version, "ClamAV %s-Bulwark-%s/%llu/%s", BW_CLAMD_COMPAT,
             BW_VERSION, info ? (unsigned long long)info->version : 0ull, date);
}

/* STATS in clamd's shape (thrmgr_printstats): one pool, this worker's view of
 * libuv's thread pool, a line per command in flight, and the allocator's
 * figures.  clamdtop parses this layout. */
void bw_clamd_put_stats(bw_buf_t *b, server_t *s, unsigned id, char term)
{
    if (id)
        bw_buf_printf(b, "%u: ", id);
    unsigned running = __atomic_load_n(&s->jobs_running, __ATOMIC_RELAXED);
    unsigned queued = __atomic_load_n(&s->jobs_queued, __ATOMIC_RELAXED);
    unsigned idle = running < s->pool_size ? s->pool_size - running : 0;
    bw_buf_printf(b, "POOLS: 1\n\nSTATE: VALID PRIMARY\n");
    bw_buf_printf(b, "THREADS: live %u  idle %u max %u idle-timeout %u\n", running + idle, idle,
                  s->pool_size, 0u);
    bw_buf_printf(b, "QUEUE: %u items\n", queued);
    uint64_t now = bw_clock_ms();
    for (conn_t *c = s->conns; c; c = c->next)
        for (job_t *j = c->job_list; j; j = j->next) {
            const char *file = j->path ? j->path : "";
            bw_buf_printf(b, "\t%s %f %s\n", bw_clamd_cmd_name(j->cmd),
                          (double)(now - j->t_start) / 1000.0, file);
        }
    bw_buf_printf(b, "\tSTATS %f \n\n", 0.0);
    struct mallinfo2 mi = mallinfo2();
    const double M = 1024.0 * 1024.0;
    bw_buf_printf(b,
                  "MEMSTATS: heap %.3fM mmap %.3fM used %.3fM free %.3fM releasable %.3fM "
                  "pools 0 pools_used 0.000M pools_total 0.000M\n",
                  (double)mi.arena / M, (double)mi.hblkhd / M, (double)mi.uordblks / M,
                  (double)mi.fordblks / M, (double)mi.keepcost / M);
    bw_buf_puts(b, "END");
    bw_buf_append(b, &term, 1);
}
