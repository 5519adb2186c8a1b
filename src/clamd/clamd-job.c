/* SPDX-License-Identifier: Apache-2.0 */
/* The work a clamd command hands to libuv's thread pool, so the loop never
 * waits on a disk or an unpacker:
 *   JOB_STREAM      the end of an INSTREAM scan (its bytes were fed on the
 *                   loop as they arrived; the end may unpack an archive)
 *   JOB_FILDES      a scan of a descriptor received with SCM_RIGHTS
 *   JOB_PATH        SCAN, CONTSCAN, ALLMATCHSCAN: the checked walk and its
 *                   scans; MULTISCAN: the walk that lists a tree's files
 *   JOB_MULTI_FILE  one file of a MULTISCAN; the loop keeps as many of these
 *                   queued as the pool has threads, so one MULTISCAN uses the
 *                   whole pool without flooding its queue
 * A job builds its reply lines on the pool thread into its own buffer; the
 * loop appends them to the connection's output when the job ends.  Only
 * atomic counters of the server are touched from the pool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clamd/clamd-int.h"
#include "core/clock.h"

job_t *bw_clamd_job_new(conn_t *c, enum job_kind kind, bw_clamd_cmd_t cmd, unsigned id, char term)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->c = c;
    j->kind = kind;
    j->cmd = cmd;
    j->id = id;
    j->term = term;
    j->fd = -1;
    j->t_start = bw_clock_ms();
    j->work.data = j;
    if (kind != JOB_MULTI_FILE) {
        j->next = c->job_list;
        if (c->job_list)
            c->job_list->prev = j;
        c->job_list = j;
        c->jobs++;
    }
    return j;
}

void bw_clamd_job_free(job_t *j)
{
    if (!j)
        return;
    if (j->scan)
        bw_scan_abort(j->scan);
    if (j->fd >= 0)
        close(j->fd);
    if (j->multi && j->kind == JOB_PATH) {
        bw_clamd_walk_free(&j->multi->walk);
        free(j->multi);
    }
    free(j->path);
    bw_buf_free(&j->reply);
    free(j);
}

static bw_limits_t job_limits(const job_t *j)
{
    bw_limits_t lim = j->c->s->lim;
    lim.all_match = j->cmd == BW_CLAMD_ALLMATCHSCAN;
    return lim;
}

static void walk_setup(bw_clamd_walk_t *w, job_t *j)
{
    server_t *s = j->c->s;
    memset(w, 0, sizeof *w);
    w->engine = s->env.engine;
    w->cc = s->env.cc;
    w->lim = job_limits(j);
    w->allow = j->c->is_unix ? &s->allow_local : &s->allow_tcp;
    w->cmd = j->cmd;
    w->id = j->id;
    w->term = j->term;
    w->out = &j->reply;
    w->s = s;
}

/* clamd's closing line for a path (session.c command()): "PATH: OK" when
 * nothing was found and not everything failed. */
static void put_final_ok(bw_buf_t *b, const bw_clamd_walk_t *w, unsigned id, char term)
{
    if (w->found == 0 && w->errors < w->total)
        bw_clamd_put(b, id, term, "%s: OK", w->disp ? w->disp : "");
}

static void work_run(uv_work_t *req)
{
    job_t *j = req->data;
    server_t *s = j->c->s;
    __atomic_sub_fetch(&s->jobs_queued, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&s->jobs_running, 1, __ATOMIC_RELAXED);
    const bw_clamd_conf_t *cc = s->env.cc;
    bw_verdict_t v;
    memset(&v, 0, sizeof v);
    switch (j->kind) {
    case JOB_STREAM: {
        bw_scan_t *scan = j->scan;
        j->scan = NULL;
        if (bw_scan_end(scan, &v) != BW_OK) {
            bw_verdict_free(&v);
            memset(&v, 0, sizeof v);
            v.status = BW_ERROR;
        }
        bw_clamd_count(s, &v);
        bw_clamd_put_verdict(&j->reply, j->id, j->term, "stream", &v, cc, 0, 1);
        bw_verdict_free(&v);
        break;
    }
    case JOB_FILDES: {
        char name[32];
        snprintf(name, sizeof name, "fd[%d]", j->fd);
        struct stat st;
        bw_limits_t lim = job_limits(j);
        if (fstat(j->fd, &st) || !S_ISREG(st.st_mode)) {
            bw_clamd_put(&j->reply, j->id, j->term, "%s: Not a regular file ERROR", name);
        } else if (bw_scan_fd(s->env.engine, &lim, j->fd, "fd", &v) != BW_OK) {
            bw_clamd_put(&j->reply, j->id, j->term, "%s: Can't read file ERROR", name);
        } else {
            j->bytes = (uint64_t)st.st_size;
            bw_clamd_count(s, &v);
            bw_clamd_put_verdict(&j->reply, j->id, j->term, name, &v, cc, 0, 1);
        }
        bw_verdict_free(&v);
        close(j->fd);
        j->fd = -1;
        break;
    }
    case JOB_PATH: {
        multi_t *m = calloc(1, sizeof *m);
        if (!m) {
            bw_clamd_put(&j->reply, j->id, j->term, "%s: out of memory ERROR", j->path);
            break;
        }
        m->parent = j;
        j->multi = m;
        walk_setup(&m->walk, j);
        bw_clamd_walk_run(&m->walk, j->path);
        if (!m->walk.collect)
            put_final_ok(&j->reply, &m->walk, j->id, j->term);
        break;
    }
    case JOB_MULTI_FILE: {
        multi_t *m = j->multi;
        bw_clamd_walk_t w;
        walk_setup(&w, m->parent);
        bw_clamd_walk_file(&w, m->walk.files.v[j->multi_index]);
        j->found = (int)w.found;
        j->errors = (int)w.errors;
        break;
    }
    }
    __atomic_sub_fetch(&s->jobs_running, 1, __ATOMIC_RELAXED);
}

static void after_work(uv_work_t *req, int status);

static int submit(job_t *j)
{
    server_t *s = j->c->s;
    __atomic_add_fetch(&s->jobs_queued, 1, __ATOMIC_RELAXED);
    if (uv_queue_work(s->loop, &j->work, work_run, after_work) < 0) {
        __atomic_sub_fetch(&s->jobs_queued, 1, __ATOMIC_RELAXED);
        return BW_ERR;
    }
    return BW_OK;
}

/* Keeps the pool fed with a MULTISCAN's files; ends the MULTISCAN after
 * the last. */
static void multi_pump(multi_t *m)
{
    job_t *p = m->parent;
    conn_t *c = p->c;
    size_t width = c->s->pool_size ? c->s->pool_size : 4;
    while (!c->closing && m->next < m->walk.files.n && m->inflight < width) {
        job_t *f = bw_clamd_job_new(c, JOB_MULTI_FILE, BW_CLAMD_MULTISCAN, p->id, p->term);
        if (!f)
            break;
        f->multi = m;
        f->multi_index = m->next;
        if (submit(f) != BW_OK) {
            bw_clamd_job_free(f);
            break;
        }
        m->next++;
        m->inflight++;
    }
    if (m->inflight == 0) {
        /* all done (or nothing more can start) */
        /* clamd counts a MULTISCAN's dispatched files only: an empty
         * directory gets no line at all */
        if (m->item_found == 0 && m->item_errors < m->walk.files.n)
            bw_clamd_put(&p->reply, p->id, p->term, "%s: OK", m->walk.disp ? m->walk.disp : "");
        bw_clamd_conn_job_done(c, p);
    }
}

static void after_work(uv_work_t *req, int status)
{
    job_t *j = req->data;
    conn_t *c = j->c;
    if (status < 0 && j->kind != JOB_MULTI_FILE)
        bw_clamd_put(&j->reply, j->id, j->term, "Error processing command. ERROR");
    if (j->kind == JOB_MULTI_FILE) {
        multi_t *m = j->multi;
        m->inflight--;
        m->done++;
        m->item_found += (unsigned)j->found;
        m->item_errors += (unsigned)j->errors;
        if (j->reply.len && !c->closing)
            bw_clamd_conn_send(c, j->reply.p, j->reply.len);
        bw_clamd_job_free(j);
        multi_pump(m);
        return;
    }
    if (j->kind == JOB_PATH && j->multi && j->multi->walk.collect && status >= 0) {
        if (j->reply.len && !c->closing) {
            bw_clamd_conn_send(c, j->reply.p, j->reply.len);
            bw_buf_reset(&j->reply);
        }
        multi_pump(j->multi);
        return;
    }
    bw_clamd_conn_job_done(c, j);
}

void bw_clamd_job_queue(job_t *j)
{
    if (submit(j) == BW_OK)
        return;
    bw_clamd_put(&j->reply, j->id, j->term, "Error processing command. ERROR");
    bw_clamd_conn_job_done(j->c, j);
}
