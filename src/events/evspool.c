/* SPDX-License-Identifier: Apache-2.0 */
/* The node's durable event spool (evspool.h).
 *
 * Why segments per process and not one shared file: every worker emits from
 * its own threads, and a shared file would need a cross-process lock on the
 * scan path.  With one O_APPEND file per process, appending is one writev()
 * under a mutex of this process only, and a crash can tear at most the last
 * line of that process's file.  Readers merge the segments oldest first by
 * the creation time in their names; the order between processes is only
 * approximate, which is fine for events that carry their own time.
 *
 * Why a cursor per reader as a list of (segment, offset): the segments of
 * live processes grow under the reader, so "how far" is per segment.  The
 * cursor file is rewritten whole (temp + fsync + rename + fsync of the
 * directory) on every ack: small, and either the old or the new one survives
 * any crash.  After a reader crash the unacknowledged batch comes again;
 * every consumer deduplicates by event id (at-least-once).
 *
 * When is a segment finished: its writer sealed it (mode 0440, on a roll or a
 * clean close) or died (the flock(LOCK_SH) every writer holds on its open
 * segment can be taken).  Only finished segments are deleted or dropped, so a
 * writer never writes into an unlinked file. */
#include "events/evspool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bulwark/core.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/ratelog.h"
#include "events/event.h"
#include "events/evspool-int.h"

#define DEFAULT_SEGMENT (16u << 20)
#define MIN_SEGMENT 4096u

struct bw_evspool_writer {
    char *dir;
    uint64_t max_bytes, seg_size, sync_ms; /* sync_ms UINT64_MAX: never */
    pthread_mutex_t mu;
    pid_t pid;
    unsigned gen; /* fork_gen when opened */
    int fd;
    uint64_t seg_n, seg_bytes, last_n;
    bool dirty;
    /* the sync thread (SyncInterval > 0) */
    pthread_t syncer;
    bool syncer_on, stop;
    pthread_cond_t cv;
};

/* "Is this still the process that opened the writer?" on every append,
 * without getpid(): glibc no longer caches the pid, so that was a system
 * call per event.  A counter bumped in every forked child answers the same
 * (a child of fork() runs the atfork handlers; one that execs right away
 * never appends). */
static _Atomic unsigned fork_gen;
static pthread_once_t gen_once = PTHREAD_ONCE_INIT;
static void gen_child(void)
{
    atomic_fetch_add(&fork_gen, 1);
}
static void gen_init(void)
{
    pthread_atfork(NULL, NULL, gen_child);
}

/* ---- shared helpers (evspool-int.h) -------------------------------------- */

int bw_evspool_parse_segname(const char *name, uint64_t *pid, uint64_t *n)
{
    unsigned long long a, b;
    int end = 0;
    if (sscanf(name, "seg-%llu-%llu.jsonl%n", &a, &b, &end) != 2 || end == 0 || name[end])
        return -1;
    *pid = a;
    *n = b;
    return 0;
}

static int seg_cmp(const void *a, const void *b)
{
    const bw_evspool_seg_t *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int bw_evspool_list(const char *dir, bw_evspool_seg_t **out, size_t *nout)
{
    DIR *d = opendir(dir);
    *out = NULL;
    *nout = 0;
    if (!d)
        return -1;
    size_t n = 0, cap = 0;
    bw_evspool_seg_t *v = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t pid, sn;
        if (bw_evspool_parse_segname(e->d_name, &pid, &sn))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            bw_evspool_seg_t *nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                free(v);
                closedir(d);
                return -1;
            }
            v = nv;
        }
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0))
            continue; /* deleted meanwhile */
        v[n].pid = pid;
        v[n].n = sn;
        v[n].size = (uint64_t)st.st_size;
        v[n].sealed = !(st.st_mode & S_IWUSR);
        n++;
    }
    closedir(d);
    if (n)
        qsort(v, n, sizeof *v, seg_cmp);
    *out = v;
    *nout = n;
    return 0;
}

void bw_evspool_segpath(char *buf, size_t len, const char *dir, uint64_t pid, uint64_t n)
{
    snprintf(buf, len, "%s/seg-%" PRIu64 "-%" PRIu64 ".jsonl", dir, pid, n);
}

bool bw_evspool_seg_finished(const char *dir, const bw_evspool_seg_t *s)
{
    if (s->sealed)
        return true;
    char path[4096];
    bw_evspool_segpath(path, sizeof path, dir, s->pid, s->n);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT;
    bool dead = flock(fd, LOCK_EX | LOCK_NB) == 0; /* no live writer holds LOCK_SH */
    close(fd);                                     /* releases our probe lock */
    return dead;
}

/* Files in the spool take the directory's owner: the supervisor (root) and
 * the workers (User=) share it, and the shipper must delete both's files. */
void bw_evspool_own(const char *dir, int fd)
{
    struct stat st;
    if (geteuid() != 0 || stat(dir, &st))
        return;
    if (st.st_uid != 0 || st.st_gid != 0)
        (void)!fchown(fd, st.st_uid, st.st_gid);
}

int bw_evspool_cursor_load(const char *path, bw_evspool_pos_t **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    char line[128];
    size_t n = 0, cap = 0;
    bw_evspool_pos_t *v = NULL;
    int rc = 0;
    if (!fgets(line, sizeof line, f) || strcmp(line, "bwcursor 1\n"))
        rc = -1;
    while (!rc && fgets(line, sizeof line, f)) {
        unsigned long long a, b, c;
        if (sscanf(line, "%llu %llu %llu", &a, &b, &c) != 3) {
            rc = -1;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            bw_evspool_pos_t *nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                rc = -1;
                break;
            }
            v = nv;
        }
        v[n++] = (bw_evspool_pos_t){a, b, c};
    }
    fclose(f);
    if (rc) {
        free(v);
        return -1;
    }
    *out = v;
    *nout = n;
    return 0;
}

uint64_t bw_evspool_pos_find(const bw_evspool_pos_t *v, size_t n, uint64_t pid, uint64_t sn)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].pid == pid && v[i].n == sn)
            return v[i].off;
    return 0;
}

/* Calls fn for every cursor file of dir with its positions. */
int bw_evspool_each_cursor(const char *dir,
                           void (*fn)(const bw_evspool_pos_t *, size_t, void *), void *ctx)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int count = 0;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "cursor-", 7) || strchr(e->d_name, '.'))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        bw_evspool_pos_t *v;
        size_t n;
        if (bw_evspool_cursor_load(path, &v, &n))
            continue; /* unreadable: ignored (logged by its owner) */
        fn(v, n, ctx);
        free(v);
        count++;
    }
    closedir(d);
    return count;
}

/* Lines ('\n') in fd from off to its end. */
static uint64_t count_lines(int fd, uint64_t off)
{
    char buf[65536];
    uint64_t lines = 0;
    ssize_t r;
    while ((r = pread(fd, buf, sizeof buf, (off_t)off)) > 0) {
        for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + r - p))); p++)
            lines++;
        off += (uint64_t)r;
    }
    return lines;
}

int bw_evspool_dropped_add(const char *dir, uint64_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/dropped", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    bw_evspool_own(dir, fd);
    flock(fd, LOCK_EX);
    char buf[32] = {0};
    ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
    uint64_t cur = r > 0 ? strtoull(buf, NULL, 10) : 0;
    int len = snprintf(buf, sizeof buf, "%020" PRIu64 "\n", cur + n);
    int rc = pwrite(fd, buf, (size_t)len, 0) == len && fdatasync(fd) == 0 ? 0 : -1;
    close(fd); /* releases the lock */
    return rc;
}

uint64_t bw_evspool_dropped(const char *dir)
{
    char path[4096], buf[32] = {0};
    snprintf(path, sizeof path, "%s/dropped", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    flock(fd, LOCK_SH);
    ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    return r > 0 ? strtoull(buf, NULL, 10) : 0;
}

/* ---- the bound ------------------------------------------------------------ */

struct min_ctx {
    uint64_t pid, n, min;
    int seen;
};
static void min_cb(const bw_evspool_pos_t *v, size_t n, void *ctx)
{
    struct min_ctx *m = ctx;
    uint64_t off = bw_evspool_pos_find(v, n, m->pid, m->n);
    if (!m->seen++ || off < m->min)
        m->min = off;
}

/* Drops the oldest finished segments until the spool fits in max_bytes (the
 * writer's own open segment and live writers' segments are never dropped).
 * Returns the events lost (lines no cursor had acknowledged). */
static uint64_t enforce_bound(bw_evspool_writer_t *w)
{
    if (!w->max_bytes)
        return 0;
    bw_evspool_seg_t *v;
    size_t n;
    if (bw_evspool_list(w->dir, &v, &n))
        return 0;
    uint64_t total = 0, lost = 0;
    for (size_t i = 0; i < n; i++)
        total += v[i].size;
    for (size_t i = 0; i < n && total > w->max_bytes; i++) {
        if (v[i].pid == (uint64_t)w->pid && v[i].n == w->seg_n)
            continue;
        if (!bw_evspool_seg_finished(w->dir, &v[i]))
            continue;
        /* Claim it by a rename: of two writers enforcing at once, one wins. */
        char from[4096], to[4200];
        bw_evspool_segpath(from, sizeof from, w->dir, v[i].pid, v[i].n);
        snprintf(to, sizeof to, "%s/drop-%" PRIu64 "-%" PRIu64, w->dir, v[i].pid, v[i].n);
        if (rename(from, to))
            continue;
        struct min_ctx m = {v[i].pid, v[i].n, 0, 0};
        bw_evspool_each_cursor(w->dir, min_cb, &m);
        int fd = open(to, O_RDONLY | O_CLOEXEC);
        uint64_t l = fd >= 0 ? count_lines(fd, m.min) : 0;
        if (fd >= 0)
            close(fd);
        unlink(to);
        total -= v[i].size;
        lost += l;
    }
    free(v);
    if (lost) {
        if (bw_evspool_dropped_add(w->dir, lost))
            bw_log(BW_LOG_ERR, "events: spool %s: %" PRIu64 " events dropped and the counter "
                   "could not be written: %s", w->dir, lost, strerror(errno));
        bw_log(BW_LOG_WARN, "events: spool %s over its size bound: the oldest %" PRIu64
               " events were dropped", w->dir, lost);
    }
    return lost;
}

/* ---- writer ------------------------------------------------------------------ */

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void seal(int fd)
{
    (void)!fchmod(fd, 0440);
}

/* Opens a new segment (w->mu held or not yet shared). */
static int open_segment(bw_evspool_writer_t *w, bw_err_t *err)
{
    uint64_t n = now_us();
    if (n <= w->last_n)
        n = w->last_n + 1;
    char path[4096];
    for (int tries = 0; tries < 100; tries++, n++) {
        /* Made under a temporary name and locked before it gets its name:
         * a reader never sees a segment of a live writer unlocked (it would
         * take it for a dead writer's and could delete it). */
        char tmp[4200];
        bw_evspool_segpath(path, sizeof path, w->dir, (uint64_t)w->pid, n);
        snprintf(tmp, sizeof tmp, "%s/tmp-%" PRIu64 "-%" PRIu64, w->dir, (uint64_t)w->pid, n);
        if (access(path, F_OK) == 0)
            continue;
        int fd = open(tmp, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        if (fd < 0)
            return bw_err_set(err, "events spool: %s: %s", tmp, strerror(errno));
        flock(fd, LOCK_SH);
        bw_evspool_own(w->dir, fd);
        if (rename(tmp, path)) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return bw_err_set(err, "events spool: %s: %s", path, strerror(e));
        }
        w->fd = fd;
        w->seg_n = w->last_n = n;
        w->seg_bytes = 0;
        return BW_OK;
    }
    return bw_err_set(err, "events spool: %s: no free segment name", w->dir);
}

static void close_segment(bw_evspool_writer_t *w)
{
    if (w->fd < 0)
        return;
    if (w->sync_ms != UINT64_MAX)
        fdatasync(w->fd);
    seal(w->fd);
    close(w->fd);
    w->fd = -1;
}

static void *syncer_main(void *arg)
{
    bw_evspool_writer_t *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (w->sync_ms % 1000) * 1000000u;
        ts.tv_sec += (time_t)(w->sync_ms / 1000 + ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        if (w->dirty && w->fd >= 0) {
            /* fdatasync outside the lock: appends go on meanwhile.  The dup
             * keeps the file open if a roll closes it under us. */
            int fd = dup(w->fd);
            w->dirty = false;
            pthread_mutex_unlock(&w->mu);
            if (fd >= 0) {
                fdatasync(fd);
                close(fd);
            }
            pthread_mutex_lock(&w->mu);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int bw_evspool_writer_open(const char *dir, uint64_t max_bytes, bw_evspool_writer_t **out,
                           bw_err_t *err)
{
    if (mkdir(dir, 0750) && errno != EEXIST)
        return bw_err_set(err, "events spool: %s: %s", dir, strerror(errno));
    bw_evspool_writer_t *w = calloc(1, sizeof *w);
    if (!w || !(w->dir = strdup(dir))) {
        free(w);
        return bw_err_set(err, "events spool: out of memory");
    }
    w->max_bytes = max_bytes;
    w->seg_size = DEFAULT_SEGMENT;
    w->sync_ms = UINT64_MAX;
    pthread_once(&gen_once, gen_init);
    w->pid = getpid();
    w->gen = atomic_load(&fork_gen);
    w->fd = -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    bw_evspool_writer_set_segment_size(w, w->seg_size);
    if (open_segment(w, err)) {
        bw_evspool_writer_forget(w);
        return BW_ERR;
    }
    *out = w;
    return BW_OK;
}

void bw_evspool_writer_set_segment_size(bw_evspool_writer_t *w, uint64_t bytes)
{
    /* A bound checked at every roll overshoots by at most a segment per
     * process: keep segments a fraction of the bound. */
    if (w->max_bytes && bytes > w->max_bytes / 8)
        bytes = w->max_bytes / 8;
    if (bytes < MIN_SEGMENT)
        bytes = MIN_SEGMENT;
    w->seg_size = bytes;
}

void bw_evspool_writer_set_sync(bw_evspool_writer_t *w, uint64_t interval_ms)
{
    w->sync_ms = interval_ms;
    if (interval_ms && interval_ms != UINT64_MAX && !w->syncer_on)
        w->syncer_on = pthread_create(&w->syncer, NULL, syncer_main, w) == 0;
}

static int append_locked(bw_evspool_writer_t *w, const char *json, size_t len, bw_err_t *err)
{
    if (w->fd < 0 && open_segment(w, err))
        return BW_ERR;
    struct iovec iov[2] = {{(void *)json, len}, {"\n", 1}};
    ssize_t r = writev(w->fd, iov, 2);
    if (r != (ssize_t)len + 1) {
        int e = r < 0 ? errno : ENOSPC;
        /* A short write would leave a torn line mid-file: cut it off. */
        if (r > 0)
            (void)!ftruncate(w->fd, (off_t)w->seg_bytes);
        return bw_err_set(err, "events spool: %s: write: %s", w->dir, strerror(e));
    }
    w->seg_bytes += len + 1;
    w->dirty = true;
    if (w->sync_ms == 0)
        fdatasync(w->fd);
    return BW_OK;
}

int bw_evspool_append(bw_evspool_writer_t *w, const char *json, size_t len, bw_err_t *err)
{
    if (len == 0 || len > BW_EVSPOOL_MAX_LINE || memchr(json, '\n', len))
        return bw_err_set(err, "events spool: an event of %zu bytes (empty, over %u or with a "
                          "newline) refused", len, BW_EVSPOOL_MAX_LINE);
    if (atomic_load_explicit(&fork_gen, memory_order_relaxed) != w->gen)
        return bw_err_set(err, "events spool: the writer belongs to process %d", (int)w->pid);
    pthread_mutex_lock(&w->mu);
    uint64_t lost = 0;
    if (w->fd >= 0 && w->seg_bytes && w->seg_bytes + len + 1 > w->seg_size) {
        close_segment(w);
        lost = enforce_bound(w);
    }
    int rc = append_locked(w, json, len, err);
    if (lost && rc == BW_OK) {
        json_t *ev = bw_event_new("events", "events.dropped", BW_SEV_HIGH);
        if (ev) {
            bw_event_set_int(ev, "dropped", (int64_t)lost);
            bw_event_set_str(ev, "message", "the event spool was full: the oldest events "
                             "were dropped");
            char *s = json_dumps(ev, JSON_COMPACT);
            bw_err_t e2;
            if (s && append_locked(w, s, strlen(s), &e2))
                bw_log(BW_LOG_ERR, "%s", e2.msg);
            free(s);
            json_decref(ev);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static void stop_syncer(bw_evspool_writer_t *w)
{
    if (!w->syncer_on)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->syncer, NULL);
    w->syncer_on = false;
}

void bw_evspool_writer_pause_sync(bw_evspool_writer_t *w)
{
    if (w && getpid() == w->pid)
        stop_syncer(w);
}

void bw_evspool_writer_resume_sync(bw_evspool_writer_t *w)
{
    if (!w || getpid() != w->pid)
        return;
    w->stop = false;
    bw_evspool_writer_set_sync(w, w->sync_ms);
}

void bw_evspool_writer_close(bw_evspool_writer_t *w)
{
    if (!w)
        return;
    if (getpid() != w->pid) {
        bw_evspool_writer_forget(w);
        return;
    }
    stop_syncer(w);
    if (w->fd >= 0)
        fdatasync(w->fd); /* a clean stop keeps everything, whatever SyncInterval */
    close_segment(w);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->dir);
    free(w);
}

void bw_evspool_writer_forget(bw_evspool_writer_t *w)
{
    if (!w)
        return;
    /* In a child the syncer thread does not exist (fork copies one thread)
     * and the mutex may be held by a thread that is gone: touch neither. */
    if (getpid() == w->pid) {
        stop_syncer(w);
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
    }
    if (w->fd >= 0)
        close(w->fd); /* the parent's descriptor keeps the lock */
    free(w->dir);
    free(w);
}

int bw_evspool_writer_fd(const bw_evspool_writer_t *w)
{
    return w ? w->fd : -1;
}
