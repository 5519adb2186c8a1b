/* SPDX-License-Identifier: Apache-2.0 */
/* The fanotify loop: why it cannot hang the machine.
 *
 * A process that opens a marked file sleeps in the kernel until we answer its
 * permission event.  So every decision here is built around one rule: each
 * permission event is answered exactly once, within the Deadline, whatever
 * the scan is doing.
 *
 *  - The loop thread only reads events and decides what needs no scan: our
 *    own accesses (our pid and the supervisor's: allowed at once, or we
 *    would wait on ourselves), paths outside Paths, exclusions, cache hits.
 *    It never waits for a scan and never opens a file on a marked mount.
 *  - Everything else becomes a job: put on the deadline list (ordered, since
 *    every job gets the same Deadline) and, unless a scan of the same file
 *    (dev, ino, size, times) is already queued or running, on the scan
 *    queue; a second opener of that file waits on the first one's scan.
 *  - The deadline thread answers, with FailMode, every job whose deadline
 *    passed.  The scanning thread answers the rest when its verdict is in.
 *    Who answers is settled under one lock by the job's `pending` flag; the
 *    scan goes on after a deadline answer so its verdict still reaches the
 *    cache and the actions (quarantine of a slow infected file).
 *  - A clean verdict puts an ignore mark on the inode (without
 *    FAN_MARK_IGNORED_SURV_MODIFY, so the kernel clears it on the first
 *    modification): the next opens never reach us at all.
 *  - If we die, the kernel allows every pending event when the group's
 *    descriptor closes: a killed agent leaves no process stuck.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "core/log.h"
#include "core/ratelog.h"

typedef struct job {
    int fd;
    pid_t pid;
    uint64_t mask;
    bool perm, pending;
    uint64_t deadline_ns;
    bw_agent_key_t key;
    struct job *dprev, *dnext;  /* deadline list */
    struct job *qnext;          /* scan queue */
    struct job *inext;          /* in-flight bucket */
    struct job *waiters, *wnext;
    char path[PATH_MAX];
} job_t;

enum { NBUCKET = 4096, QUEUE_MAX = 16384 };

static struct {
    bw_agent_t *a;
    pthread_mutex_t lock;
    pthread_cond_t qcond, dcond;
    job_t *dhead, *dtail;
    job_t *qhead, *qtail;
    size_t qlen;
    job_t *inflight[NBUCKET];
} G = {.lock = PTHREAD_MUTEX_INITIALIZER, .qcond = PTHREAD_COND_INITIALIZER,
       .dcond = PTHREAD_COND_INITIALIZER};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void respond(int fd, bool allow)
{
    struct fanotify_response r = {.fd = fd, .response = allow ? FAN_ALLOW : FAN_DENY};
    if (write(G.a->fan_fd, &r, sizeof r) != sizeof r && errno != ENOENT)
        bw_log(BW_LOG_ERR, "fanotify response: %s", strerror(errno));
    atomic_fetch_add(allow ? &G.a->st.allowed : &G.a->st.blocked, 1);
}

/* Under G.lock: answers j if nobody did yet. */
static void answer_locked(job_t *j, bool allow)
{
    if (!j->pending)
        return;
    j->pending = false;
    if (j->dprev)
        j->dprev->dnext = j->dnext;
    else
        G.dhead = j->dnext;
    if (j->dnext)
        j->dnext->dprev = j->dprev;
    else
        G.dtail = j->dprev;
    j->dprev = j->dnext = NULL;
    respond(j->fd, allow);
}

static bool fail_allows(void)
{
    return G.a->conf.fail_mode == BW_AG_FAIL_OPEN;
}

static void key_of(const struct stat *st, bw_agent_key_t *k)
{
    k->dev = st->st_dev;
    k->ino = st->st_ino;
    k->size = (uint64_t)st->st_size;
    k->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    k->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

static bool same_key(const bw_agent_key_t *a, const bw_agent_key_t *b)
{
    return !memcmp(a, b, sizeof *a);
}

static size_t bucket(const bw_agent_key_t *k)
{
    return (size_t)((k->ino * 2654435761u) ^ k->dev) % NBUCKET;
}

static void *deadline_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&G.lock);
    while (!G.a->stop) {
        uint64_t now = now_ns();
        static bw_ratelog_t rl; /* a slow disk must not also flood the log */
        while (G.dhead && G.dhead->deadline_ns <= now) {
            atomic_fetch_add(&G.a->st.deadline_misses, 1);
            uint64_t dropped;
            if (bw_ratelog_allow(&rl, now / 1000000ull, 1000, &dropped)) {
                char more[64] = "";
                if (dropped)
                    snprintf(more, sizeof more, "; %llu such lines left out",
                             (unsigned long long)dropped);
                bw_log(BW_LOG_WARN, "%s: deadline passed, %s (scan goes on)%s", G.dhead->path,
                       fail_allows() ? "allowed (FailMode open)" : "denied (FailMode closed)",
                       more);
            }
            answer_locked(G.dhead, fail_allows());
        }
        struct timespec ts;
        uint64_t until = G.dhead ? G.dhead->deadline_ns : now + 200000000ull;
        ts.tv_sec = (time_t)(until / 1000000000ull);
        ts.tv_nsec = (long)(until % 1000000000ull);
        pthread_cond_timedwait(&G.dcond, &G.lock, &ts);
    }
    pthread_mutex_unlock(&G.lock);
    return NULL;
}

static void ignore_mark(int fd, const bw_agent_key_t *scanned)
{
    if (!G.a->conf.ignore_marks)
        return;
    /* Without FAN_MARK_IGNORED_SURV_MODIFY: the first write clears it.  But
     * a write that came while we scanned has already been and gone: a mark
     * placed now would cover content we never saw.  So the file must still
     * be what was scanned (size and times) when the mark goes on. */
    struct stat st;
    bw_agent_key_t now;
    if (fstat(fd, &st) != 0)
        return;
    key_of(&st, &now);
    if (!same_key(&now, scanned))
        return;
    uint64_t m = 0;
    if (G.a->events_mask & BW_AG_EV_OPEN)
        m |= FAN_OPEN_PERM;
    if (G.a->events_mask & BW_AG_EV_EXEC)
        m |= FAN_OPEN_EXEC_PERM;
    if (m && fanotify_mark(G.a->fan_fd, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK, m, fd, NULL) == 0)
        atomic_fetch_add(&G.a->st.ignore_marks, 1);
}

static bool verdict_allows(bw_agent_t *a, bw_status_t st, int done)
{
    if (done & BW_AG_ACT_BLOCK)
        return false;
    if ((st == BW_ERROR || st == BW_TIMEOUT) && !(a->act[st]))
        return a->conf.fail_mode == BW_AG_FAIL_OPEN;
    return true;
}

static void *scan_thread(void *arg)
{
    (void)arg;
    bw_agent_t *a = G.a;
    for (;;) {
        pthread_mutex_lock(&G.lock);
        while (!G.qhead && !a->stop)
            pthread_cond_wait(&G.qcond, &G.lock);
        if (a->stop) {
            pthread_mutex_unlock(&G.lock);
            return NULL;
        }
        job_t *j = G.qhead;
        G.qhead = j->qnext;
        if (!G.qhead)
            G.qtail = NULL;
        G.qlen--;
        pthread_mutex_unlock(&G.lock);

        bw_agent_result_t r;
        const char *how = (j->mask & FAN_OPEN_EXEC_PERM) ? "exec"
                          : (j->mask & FAN_CLOSE_WRITE) ? "close-write" : "open";
        if (a->test_delay_ms) /* a slow engine, for the Deadline test */
            usleep(a->test_delay_ms * 1000u);
        bw_agent_scan_fd(a, j->fd, j->path, j->pid, how, NULL, &r);
        bool allow = verdict_allows(a, r.status, r.done);
        bool gone = (r.done & (BW_AG_ACT_DELETE | BW_AG_ACT_CURE)) != 0;
        if (!gone && r.status != BW_ERROR && r.status != BW_TIMEOUT && !r.skipped)
            bw_agent_cache_put(a->cache, &j->key, r.status);
        if (allow && r.status == BW_CLEAN && !r.skipped)
            ignore_mark(j->fd, &j->key);

        pthread_mutex_lock(&G.lock);
        job_t **pp = &G.inflight[bucket(&j->key)];
        while (*pp && *pp != j)
            pp = &(*pp)->inext;
        if (*pp)
            *pp = j->inext;
        if (j->perm)
            answer_locked(j, allow);
        job_t *w = j->waiters;
        for (job_t *x = w; x; x = x->wnext)
            answer_locked(x, allow);
        pthread_mutex_unlock(&G.lock);
        while (w) {
            job_t *n = w->wnext;
            close(w->fd);
            free(w);
            w = n;
        }
        close(j->fd);
        free(j);
    }
}

static bool under_paths(const char *path)
{
    return bw_agent_under(G.a->conf.paths.items, path);
}

/* Returns true when the job was queued (the loop must not close fd). */
static bool enqueue(int fd, pid_t pid, uint64_t mask, bool perm, const struct stat *st,
                    const char *path)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return false;
    j->fd = fd;
    j->pid = pid;
    j->mask = mask;
    j->perm = perm;
    key_of(st, &j->key);
    snprintf(j->path, sizeof j->path, "%s", path);
    pthread_mutex_lock(&G.lock);
    if (perm) {
        j->pending = true;
        j->deadline_ns = now_ns() + G.a->conf.deadline_ms * 1000000ull;
        j->dprev = G.dtail;
        if (G.dtail)
            G.dtail->dnext = j;
        else
            G.dhead = j;
        G.dtail = j;
        if (G.dhead == j)
            pthread_cond_signal(&G.dcond);
    }
    size_t b = bucket(&j->key);
    for (job_t *l = G.inflight[b]; l; l = l->inext)
        if (same_key(&l->key, &j->key)) {
            j->wnext = l->waiters;
            l->waiters = j;
            pthread_mutex_unlock(&G.lock);
            return true;
        }
    if (G.qlen >= QUEUE_MAX) {
        atomic_fetch_add(&G.a->st.queue_full, 1);
        if (perm)
            answer_locked(j, fail_allows());
        pthread_mutex_unlock(&G.lock);
        free(j);
        return false;
    }
    j->inext = G.inflight[b];
    G.inflight[b] = j;
    if (G.qtail)
        G.qtail->qnext = j;
    else
        G.qhead = j;
    G.qtail = j;
    G.qlen++;
    pthread_cond_signal(&G.qcond);
    pthread_mutex_unlock(&G.lock);
    return true;
}

static void handle(struct fanotify_event_metadata *m)
{
    bw_agent_t *a = G.a;
    atomic_fetch_add(&a->st.events, 1);
    bool perm = (m->mask & (FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM)) != 0;
    if (perm)
        atomic_fetch_add(&a->st.perm_events, 1);
    if (m->fd < 0) {
        if (m->mask & FAN_Q_OVERFLOW)
            bw_log(BW_LOG_WARN, "fanotify queue overflow: some close-write events were lost");
        return;
    }
    if (m->pid == a->self || (a->parent > 1 && m->pid == a->parent)) {
        /* Our own access (quarantine, cure, event spool, logs): never
         * scanned, or we would wait on ourselves. */
        atomic_fetch_add(&a->st.own, 1);
        if (perm)
            respond(m->fd, true);
        close(m->fd);
        return;
    }
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", m->fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    path[n > 0 ? n : 0] = 0;
    struct stat st;
    bool skip = n <= 0 || !under_paths(path) || bw_agent_excl_path(&a->excl, path) ||
                fstat(m->fd, &st) != 0 || !S_ISREG(st.st_mode);
    if (!skip && (a->excl.nprocs || a->excl.nuids)) {
        char comm[32];
        uid_t uid;
        bw_agent_proc_info(m->pid, comm, &uid);
        skip = bw_agent_excl_proc(&a->excl, comm, uid);
    }
    if (skip) {
        atomic_fetch_add(&a->st.excluded, 1);
        if (perm)
            respond(m->fd, true);
        close(m->fd);
        return;
    }
    if (!perm) { /* FAN_CLOSE_WRITE: the old verdict is void; scan the new content */
        bw_agent_cache_drop(a->cache, st.st_dev, st.st_ino);
        if (!enqueue(m->fd, m->pid, m->mask, false, &st, path))
            close(m->fd);
        return;
    }
    bw_agent_key_t k;
    key_of(&st, &k);
    bw_status_t cs;
    if (bw_agent_cache_get(a->cache, &k, &cs)) {
        atomic_fetch_add(&a->st.cache_hits, 1);
        bool allow = !(a->act[cs] & BW_AG_ACT_BLOCK);
        if (allow && cs == BW_CLEAN)
            ignore_mark(m->fd, &k);
        respond(m->fd, allow);
        close(m->fd);
        return;
    }
    if (!enqueue(m->fd, m->pid, m->mask, true, &st, path))
        close(m->fd);
}

static int add_marks(bw_agent_t *a, bw_err_t *err)
{
    uint64_t mask = 0;
    if (a->events_mask & BW_AG_EV_OPEN)
        mask |= FAN_OPEN_PERM;
    if (a->events_mask & BW_AG_EV_EXEC)
        mask |= FAN_OPEN_EXEC_PERM;
    if (a->events_mask & BW_AG_EV_CLOSE_WRITE)
        mask |= FAN_CLOSE_WRITE;
    char **p = a->conf.paths.items;
    for (size_t i = 0; p && p[i]; i++) {
        if (fanotify_mark(a->fan_fd, FAN_MARK_ADD | FAN_MARK_MOUNT, mask, AT_FDCWD, p[i]) == 0)
            continue;
        int e = errno;
        if (fanotify_mark(a->fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, AT_FDCWD, p[i]) == 0)
            continue;
        bw_err_set(err, "fanotify_mark %s: %s", p[i], strerror(e));
        return BW_ERR;
    }
    return BW_OK;
}

int bw_agent_fan_run(bw_agent_t *a, bw_err_t *err)
{
    G.a = a;
    a->fan_fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_UNLIMITED_QUEUE |
                                  FAN_UNLIMITED_MARKS,
                              O_RDONLY | O_LARGEFILE | O_CLOEXEC | O_NOATIME);
    if (a->fan_fd < 0) {
        bw_err_set(err, "fanotify_init: %s (root and CONFIG_FANOTIFY_ACCESS_PERMISSIONS needed)",
                   strerror(errno));
        return BW_ERR;
    }
    if (add_marks(a, err) != BW_OK)
        return BW_ERR;
    pthread_t dt;
    pthread_create(&dt, NULL, deadline_thread, NULL);
    for (uint64_t i = 0; i < a->conf.threads; i++) {
        pthread_t t;
        pthread_create(&t, NULL, scan_thread, NULL);
        pthread_detach(t);
    }
    bw_log(BW_LOG_INFO, "protecting %zu path(s), %d thread(s), deadline %llu ms, fail %s",
           a->conf.paths.n, (int)a->conf.threads, (unsigned long long)a->conf.deadline_ms,
           a->conf.fail_mode == BW_AG_FAIL_OPEN ? "open" : "closed");
    static char buf[64 * 1024] __attribute__((aligned(8)));
    while (!a->stop) {
        struct pollfd pfd = {.fd = a->fan_fd, .events = POLLIN};
        int pr = poll(&pfd, 1, 500);
        if (pr <= 0)
            continue;
        ssize_t len = read(a->fan_fd, buf, sizeof buf);
        if (len < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            bw_err_set(err, "fanotify read: %s", strerror(errno));
            break;
        }
        struct fanotify_event_metadata *m = (void *)buf;
        while (FAN_EVENT_OK(m, len)) {
            if (m->vers == FANOTIFY_METADATA_VERSION)
                handle(m);
            m = FAN_EVENT_NEXT(m, len);
        }
    }
    /* Closing the group allows whatever is still pending. */
    pthread_mutex_lock(&G.lock);
    a->stop = 1;
    pthread_cond_broadcast(&G.qcond);
    pthread_cond_broadcast(&G.dcond);
    pthread_mutex_unlock(&G.lock);
    pthread_join(dt, NULL);
    return err->msg[0] ? BW_ERR : BW_OK;
}
