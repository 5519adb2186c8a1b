/* SPDX-License-Identifier: Apache-2.0 */
/* The scan progress line on stderr.
 *
 * A progress bar is for a person watching a long scan, and noise for
 * everyone else: it is drawn only when stderr is a terminal, and only after
 * the scan has run for a second, so quick scans and every pipe, log file and
 * test stay byte-for-byte clean.  A background thread redraws one line with
 * \r a few times a second.  Result lines share the terminal, so whoever
 * writes a result takes the output lock and erases the line first; the next
 * tick redraws it under the same lock.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define TICK_MS 250
#define DELAY_SECS 1.0

struct bw_progress {
    pthread_t thread;
    pthread_mutex_t *out_lock;
    pthread_mutex_t wake_lock;
    pthread_cond_t wake;
    int stop;                  /* under wake_lock */
    int visible;               /* under out_lock */
    double start;
    atomic_uint_fast64_t done, total, bytes;
    atomic_int total_known;
};

static void draw(bw_progress_t *p)
{
    double secs = bw_cli_now() - p->start;
    uint64_t done = atomic_load(&p->done);
    uint64_t total = atomic_load(&p->total);
    double mib = (double)atomic_load(&p->bytes) / (1024.0 * 1024.0);
    char line[160];
    int n;
    if (atomic_load(&p->total_known))
        n = snprintf(line, sizeof line, "\r\033[K%llu/%llu files, %.1f MiB, %.1f MiB/s",
                     (unsigned long long)done, (unsigned long long)total, mib,
                     secs > 0 ? mib / secs : 0.0);
    else
        n = snprintf(line, sizeof line, "\r\033[K%llu/%llu+ files, %.1f MiB, %.1f MiB/s",
                     (unsigned long long)done, (unsigned long long)total, mib,
                     secs > 0 ? mib / secs : 0.0);
    if (n > 0) {
        size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
        /* A failed write of a cosmetic line is not worth reporting. */
        if (write(STDERR_FILENO, line, len) < 0)
            return;
        p->visible = 1;
    }
}

static void *run(void *arg)
{
    bw_progress_t *p = arg;
    pthread_mutex_lock(&p->wake_lock);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->wake, &p->wake_lock, &ts);
        if (p->stop)
            break;
        if (bw_cli_now() - p->start < DELAY_SECS)
            continue;
        pthread_mutex_unlock(&p->wake_lock);
        pthread_mutex_lock(p->out_lock);
        draw(p);
        pthread_mutex_unlock(p->out_lock);
        pthread_mutex_lock(&p->wake_lock);
    }
    pthread_mutex_unlock(&p->wake_lock);
    return NULL;
}

bw_progress_t *bw_progress_start(int enabled, void *out_lock)
{
    if (!enabled || !isatty(STDERR_FILENO))
        return NULL;
    bw_progress_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->out_lock = out_lock;
    p->start = bw_cli_now();
    pthread_mutex_init(&p->wake_lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    atomic_init(&p->done, 0);
    atomic_init(&p->total, 0);
    atomic_init(&p->bytes, 0);
    atomic_init(&p->total_known, 0);
    if (pthread_create(&p->thread, NULL, run, p) != 0) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->wake_lock);
        free(p);
        return NULL;
    }
    return p;
}

void bw_progress_add_total(bw_progress_t *p, uint64_t files)
{
    if (p)
        atomic_fetch_add(&p->total, files);
}

void bw_progress_total_known(bw_progress_t *p)
{
    if (p)
        atomic_store(&p->total_known, 1);
}

void bw_progress_file_done(bw_progress_t *p, uint64_t bytes)
{
    if (!p)
        return;
    atomic_fetch_add(&p->done, 1);
    atomic_fetch_add(&p->bytes, bytes);
}

void bw_progress_clear(bw_progress_t *p)
{
    if (!p || !p->visible)
        return;
    static const char clr[] = "\r\033[K";
    if (write(STDERR_FILENO, clr, sizeof clr - 1) < 0) {
        /* nothing useful to do */
    }
    p->visible = 0;
}

void bw_progress_stop(bw_progress_t *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->wake_lock);
    p->stop = 1;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->wake_lock);
    pthread_join(p->thread, NULL);
    pthread_mutex_lock(p->out_lock);
    bw_progress_clear(p);
    pthread_mutex_unlock(p->out_lock);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->wake_lock);
    free(p);
}
