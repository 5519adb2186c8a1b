/* SPDX-License-Identifier: Apache-2.0 */
/* `bulwark scan`: walking the named paths and scanning files in parallel.
 *
 * One producer (the main thread) walks the paths and pushes file names into
 * a bounded queue; N workers pop them and scan each with bw_scan_fd().  The
 * queue is bounded so that a walk of millions of files never holds them all
 * in memory: the walker simply waits for the workers.  The engine is
 * immutable and shared; each scan owns its scratch space (bulwark.h), so the
 * workers need no lock except to print.
 *
 * Walking follows clamscan: without -r a directory contributes only the
 * files directly in it; with -r it is descended.  Symbolic links to files
 * are scanned, symbolic links to directories are not followed while
 * descending (they are how loops are made); a path named on the command line
 * is always followed.  Bind mounts can still make loops, so each descent
 * also checks the (device, inode) of its ancestors.  Fifos, sockets and
 * devices are skipped with a note: opening a fifo would block forever and
 * reading a device may never end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan-pool.h"

#define QUEUE_CAP 4096
#define MAX_DEPTH 1024

typedef struct queue {
    pthread_mutex_t lock;
    pthread_cond_t nonempty, nonfull;
    char *items[QUEUE_CAP];
    size_t head, len;
    int closed;
} queue_t;

typedef struct pool {
    bw_scan_run_t *run;
    int inline_mode; /* no worker threads: submit() scans at once */
    queue_t q;
} pool_t;

void bw_scan_run_init(bw_scan_run_t *r)
{
    pthread_mutex_init(&r->out_lock, NULL);
    memset(&r->stats, 0, sizeof r->stats);
}

void bw_scan_run_destroy(bw_scan_run_t *r)
{
    pthread_mutex_destroy(&r->out_lock);
}

/* ---- output ------------------------------------------------------------------ */

static void emit(bw_scan_run_t *r, const bw_cli_buf_t *b)
{
    if (!b->len)
        return;
    bw_progress_clear(r->progress);
    fwrite(b->p, 1, b->len, stdout);
    fflush(stdout);
}

static void note(bw_scan_run_t *r, const char *path, const char *what)
{
    if (r->quiet)
        return;
    pthread_mutex_lock(&r->out_lock);
    bw_progress_clear(r->progress);
    fprintf(stderr, "bulwark: %s: skipped: %s\n", path, what);
    pthread_mutex_unlock(&r->out_lock);
}

/* A path that could not be opened or scanned: printed with the results
 * (clamscan does the same) and counted as an error. */
static void report_error(bw_scan_run_t *r, const char *path, const char *msg)
{
    bw_cli_buf_t b = {0};
    bw_cli_result_t res = {.path = path, .error = msg};
    bw_cli_format_result(&b, &res, r->json, 0);
    pthread_mutex_lock(&r->out_lock);
    r->stats.errors++;
    emit(r, &b);
    pthread_mutex_unlock(&r->out_lock);
    bw_cli_buf_free(&b);
}

/* ---- one file ------------------------------------------------------------------ */

static const char *type_name(mode_t m)
{
    if (S_ISFIFO(m))
        return "fifo";
    if (S_ISSOCK(m))
        return "socket";
    if (S_ISCHR(m))
        return "character device";
    if (S_ISBLK(m))
        return "block device";
    if (S_ISDIR(m))
        return "directory";
    return "not a regular file";
}

static void scan_one(bw_scan_run_t *r, const char *path)
{
    int is_stdin = strcmp(path, "-") == 0;
    const char *shown = is_stdin ? "stdin" : path;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        report_error(r, shown, strerror(errno));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        report_error(r, shown, strerror(errno));
        goto out;
    }
    if (!is_stdin) {
        /* The walker checked the type, but the file may have been replaced. */
        if (!S_ISREG(st.st_mode)) {
            note(r, shown, type_name(st.st_mode));
            goto out;
        }
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }

    bw_verdict_t v;
    memset(&v, 0, sizeof v);
    double t0 = bw_cli_now();
    errno = 0;
    int rc = bw_scan_fd(r->engine, &r->limits, fd, shown, &v);
    int e = errno;
    double ms = (bw_cli_now() - t0) * 1000.0;
    if (rc != BW_OK) {
        bw_verdict_free(&v);
        report_error(r, shown, e ? strerror(e) : "scan failed");
        goto out;
    }
    uint64_t size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : v.bytes_scanned;
    bw_cli_result_t res = {.path = shown, .verdict = &v, .size = size, .ms = ms};
    bw_cli_buf_t b = {0};
    bw_cli_format_result(&b, &res, r->json, r->only_found);

    pthread_mutex_lock(&r->out_lock);
    r->stats.files++;
    r->stats.bytes_read += size;
    r->stats.bytes_scanned += v.bytes_scanned;
    if ((unsigned)v.status < BW_STATUS_COUNT)
        r->stats.by_status[v.status]++;
    if (v.status != BW_CLEAN)
        r->stats.found_files++;
    emit(r, &b);
    pthread_mutex_unlock(&r->out_lock);
    bw_progress_file_done(r->progress, size);

    bw_cli_buf_free(&b);
    bw_verdict_free(&v);
out:
    if (!is_stdin)
        close(fd);
}

/* ---- the queue and its workers -------------------------------------------------- */

static void queue_push(queue_t *q, char *path)
{
    pthread_mutex_lock(&q->lock);
    while (q->len == QUEUE_CAP)
        pthread_cond_wait(&q->nonfull, &q->lock);
    q->items[(q->head + q->len) % QUEUE_CAP] = path;
    q->len++;
    pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
}

/* NULL once the queue is closed and drained. */
static char *queue_pop(queue_t *q)
{
    char *p = NULL;
    pthread_mutex_lock(&q->lock);
    while (q->len == 0 && !q->closed)
        pthread_cond_wait(&q->nonempty, &q->lock);
    if (q->len) {
        p = q->items[q->head];
        q->head = (q->head + 1) % QUEUE_CAP;
        q->len--;
        pthread_cond_signal(&q->nonfull);
    }
    pthread_mutex_unlock(&q->lock);
    return p;
}

static void queue_close(queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
}

static void *worker(void *arg)
{
    pool_t *p = arg;
    char *path;
    while ((path = queue_pop(&p->q)) != NULL) {
        scan_one(p->run, path);
        free(path);
    }
    return NULL;
}

static void submit(pool_t *p, const char *path)
{
    bw_progress_add_total(p->run->progress, 1);
    if (p->inline_mode)
        scan_one(p->run, path);
    else
        queue_push(&p->q, bw_cli_xstrdup(path));
}

/* ---- the walk ---------------------------------------------------------------------- */

typedef struct ancestor {
    dev_t dev;
    ino_t ino;
    const struct ancestor *up;
} ancestor_t;

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *dir, const char *name)
{
    bw_cli_buf_t b = {0};
    size_t dl = strlen(dir);
    bw_cli_buf_add(&b, dir, dl);
    if (dl == 0 || dir[dl - 1] != '/')
        bw_cli_buf_add(&b, "/", 1);
    bw_cli_buf_puts(&b, name);
    return b.p;
}

/* Reads a directory's entry names, sorted so that output and -j 1 runs are
 * reproducible.  Returns NULL (errno set) when it cannot be read. */
static char **read_names(const char *path, size_t *n)
{
    DIR *d = opendir(path);
    if (!d)
        return NULL;
    size_t cap = 16, len = 0;
    char **names = bw_cli_xmalloc(cap * sizeof *names);
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (len == cap) {
            cap *= 2;
            char **nn = realloc(names, cap * sizeof *names);
            if (!nn) {
                fputs("bulwark: out of memory\n", stderr);
                exit(BW_EXIT_ERROR);
            }
            names = nn;
        }
        names[len++] = bw_cli_xstrdup(de->d_name);
    }
    closedir(d);
    qsort(names, len, sizeof *names, name_cmp);
    *n = len;
    return names;
}

static void walk_dir(pool_t *p, const char *path, const struct stat *dst, const ancestor_t *up,
                     unsigned depth)
{
    bw_scan_run_t *r = p->run;
    for (const ancestor_t *a = up; a; a = a->up) {
        if (a->dev == dst->st_dev && a->ino == dst->st_ino) {
            note(r, path, "directory loop");
            return;
        }
    }
    if (depth > MAX_DEPTH) {
        note(r, path, "directory nesting too deep");
        return;
    }
    size_t n = 0;
    char **names = read_names(path, &n);
    if (!names) {
        report_error(r, path, strerror(errno));
        return;
    }
    pthread_mutex_lock(&r->out_lock);
    r->stats.dirs++;
    pthread_mutex_unlock(&r->out_lock);

    ancestor_t me = {.dev = dst->st_dev, .ino = dst->st_ino, .up = up};
    for (size_t i = 0; i < n; i++) {
        char *full = join(path, names[i]);
        struct stat st;
        if (lstat(full, &st) != 0) {
            /* Vanished between readdir and lstat: nothing to scan. */
            if (errno != ENOENT)
                report_error(r, full, strerror(errno));
        } else if (S_ISLNK(st.st_mode)) {
            struct stat tst;
            if (stat(full, &tst) != 0)
                note(r, full, "dangling symbolic link");
            else if (S_ISREG(tst.st_mode))
                submit(p, full);
            else if (!S_ISDIR(tst.st_mode))
                note(r, full, type_name(tst.st_mode));
            /* symlinked directories are not followed, silently, as clamscan */
        } else if (S_ISDIR(st.st_mode)) {
            if (r->recursive)
                walk_dir(p, full, &st, &me, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            submit(p, full);
        } else {
            note(r, full, type_name(st.st_mode));
        }
        free(full);
        free(names[i]);
    }
    free(names);
}

static void walk_arg(pool_t *p, const char *path)
{
    struct stat st;
    if (strcmp(path, "-") == 0) {
        submit(p, path);
        return;
    }
    if (stat(path, &st) != 0) {
        report_error(p->run, path, strerror(errno));
        return;
    }
    if (S_ISDIR(st.st_mode))
        walk_dir(p, path, &st, NULL, 0);
    else if (S_ISREG(st.st_mode))
        submit(p, path);
    else
        note(p->run, path, type_name(st.st_mode));
}

void bw_scan_run_paths(bw_scan_run_t *r, char *const *paths, size_t n)
{
    pool_t *p = calloc(1, sizeof *p);
    if (!p) {
        fputs("bulwark: out of memory\n", stderr);
        exit(BW_EXIT_ERROR);
    }
    p->run = r;
    pthread_mutex_init(&p->q.lock, NULL);
    pthread_cond_init(&p->q.nonempty, NULL);
    pthread_cond_init(&p->q.nonfull, NULL);

    unsigned jobs = r->jobs ? r->jobs : 1;
    pthread_t *th = bw_cli_xmalloc(jobs * sizeof *th);
    unsigned started = 0;
    for (; started < jobs; started++) {
        if (pthread_create(&th[started], NULL, worker, p) != 0)
            break;
    }
    if (started == 0) {
        /* No thread at all (resource limits): scan in the walking thread. */
        fputs("bulwark: note: cannot start worker threads; scanning in one thread\n", stderr);
        p->inline_mode = 1;
    }

    for (size_t i = 0; i < n; i++)
        walk_arg(p, paths[i]);
    bw_progress_total_known(r->progress);
    queue_close(&p->q);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);

    pthread_cond_destroy(&p->q.nonfull);
    pthread_cond_destroy(&p->q.nonempty);
    pthread_mutex_destroy(&p->q.lock);
    free(p);
}
