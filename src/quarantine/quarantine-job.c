/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's side of the quarantine: a small FIFO of store jobs, run one
 * at a time on libuv's thread pool.
 *
 * Why one at a time: the pool has few threads (four by default) and the
 * end of every scan runs there too.  A quarantine that waits on a slow or
 * full disk must not take them all; with one job in the pool per worker,
 * scans always have the rest.  Why a bound on the queue: a burst of
 * detections must not pile up memory; past the bound an object is dropped
 * and logged, and the client still gets its block page (the caller answers
 * whatever this returns).
 *
 * The queue is per process and touched only on the loop's thread (submit
 * and the after-work callback), so it needs no lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "events/event.h"
#include "quarantine/quarantine-job.h"
#include "quarantine/quarantine.h"

typedef struct job {
    uv_work_t req;
    struct job *next;
    uv_loop_t *loop;
    char *dir;
    uint64_t max_object, max_total;
    bw_spool_t spool;
    uint64_t off;
    uint64_t mem; /* bytes of memory the spool holds */
    int rc;
    bw_err_t err;
    bw_quar_meta_t meta;
} job_t;

static struct {
    job_t *head, *tail;
    size_t queued;  /* waiting or running */
    uint64_t mem;
    int running;
} q;

size_t bw_quar_pending(void)
{
    return q.queued;
}

static long read_spool(void *ctx, void *buf, size_t len)
{
    job_t *j = ctx;
    ssize_t n = bw_spool_pread(&j->spool, buf, len, j->off);
    if (n > 0)
        j->off += (uint64_t)n;
    return (long)n;
}

static void work(uv_work_t *req)
{
    job_t *j = req->data;
    bw_quar_store_t *s;
    j->rc = bw_quar_open(j->dir, true, &s, &j->err);
    if (j->rc != BW_OK)
        return;
    j->rc = bw_quar_put(s, &j->meta, read_spool, j, j->max_object, j->max_total, &j->err);
    bw_quar_close(s);
}

static void job_free(job_t *j)
{
    bw_spool_free(&j->spool);
    free(j->dir);
    free(j);
}

static void kick(void);

/* quarantine.stored (docs/events.md): the id is the SHA-256 of what was stored. */
static void emit_stored(const bw_quar_meta_t *m)
{
    if (!bw_event_enabled())
        return;
    json_t *ev = bw_event_new("quarantine", "quarantine.stored", BW_SEV_MEDIUM);
    bw_event_set_str(bw_event_sub(ev, "quarantine"), "id", m->sha256);
    bw_event_set_str(ev, "verdict", m->status);
    bw_event_set_str(ev, "action", "quarantine");
    for (size_t i = 0; i < m->nthreats && i < BW_QUAR_MAX_THREATS; i++)
        bw_event_add_str(ev, "threats", m->threats[i]);
    json_t *o = bw_event_sub(ev, "object");
    bw_event_set_str(o, strstr(m->origin, "://") ? "url" : "path", m->origin);
    bw_event_set_int(o, "size", (int64_t)m->size);
    bw_event_set_str(o, "sha256", m->sha256);
    json_t *c = bw_event_sub(ev, "client");
    bw_event_set_str(c, "ip", m->client);
    bw_event_set_str(c, "user", m->user);
    bw_event_set_str(c, "group", m->group);
    bw_event_set_str(ev, "method", m->method);
    if (m->partial)
        bw_event_set_str(ev, "message", "partial: the stored bytes are not the whole object");
    bw_event_emit(ev);
}

static void after(uv_work_t *req, int status)
{
    job_t *j = req->data;
    if (status < 0)
        bw_log(BW_LOG_WARN, "quarantine: %s: not stored (%s)", j->meta.origin,
               uv_strerror(status));
    else if (j->rc != BW_OK)
        bw_log(BW_LOG_WARN, "quarantine: %s: not stored: %s", j->meta.origin, j->err.msg);
    else {
        bw_log(BW_LOG_INFO, "quarantine: %s stored as %s (%llu bytes%s)", j->meta.origin,
               j->meta.sha256, (unsigned long long)j->meta.size, j->meta.partial ? ", partial" : "");
        emit_stored(&j->meta);
    }
    q.running = 0;
    q.queued--;
    q.mem -= j->mem;
    job_free(j);
    kick();
}

static void kick(void)
{
    while (!q.running && q.head) {
        job_t *j = q.head;
        q.head = j->next;
        if (!q.head)
            q.tail = NULL;
        j->req.data = j;
        q.running = 1;
        int rc = uv_queue_work(j->loop, &j->req, work, after);
        if (rc == 0)
            return;
        bw_log(BW_LOG_WARN, "quarantine: %s: not stored (%s)", j->meta.origin, uv_strerror(rc));
        q.running = 0;
        q.queued--;
        q.mem -= j->mem;
        job_free(j);
    }
}

int bw_quar_submit(uv_loop_t *loop, const bw_quar_conf_t *qc, const bw_quar_event_t *ev,
                   bw_spool_t *content, bw_err_t *err)
{
    uint64_t mem = content->fd < 0 ? content->len : 0;
    job_t *j = NULL;
    int rc = BW_OK;
    if (q.queued >= BW_QUAR_MAX_QUEUED || q.mem + mem > BW_QUAR_MAX_QUEUED_MEM)
        rc = bw_err_set(err, "too many objects waiting to be stored (%zu, %llu bytes)", q.queued,
                        (unsigned long long)q.mem);
    else if (!(j = calloc(1, sizeof *j)) || !(j->dir = strdup(qc->dir ? qc->dir : "")))
        rc = bw_err_set(err, "out of memory");
    if (rc != BW_OK) {
        if (j)
            free(j);
        bw_spool_free(content);
        bw_spool_init(content, BW_SPOOL_MEM_DEFAULT);
        return rc;
    }
    j->loop = loop;
    j->max_object = qc->max_object;
    j->max_total = qc->max_total;
    j->spool = *content; /* a plain struct: memory or a descriptor moves with it */
    j->mem = mem;
    bw_spool_init(content, BW_SPOOL_MEM_DEFAULT);
    bw_quar_meta_t *m = &j->meta;
    m->time = time(NULL);
    m->partial = ev->partial;
    bw_quar_field_set(m->origin, sizeof m->origin, ev->origin && ev->origin[0] ? ev->origin : "-");
    bw_quar_field_set(m->client, sizeof m->client, ev->client);
    bw_quar_field_set(m->user, sizeof m->user, ev->user);
    bw_quar_field_set(m->group, sizeof m->group, ev->group);
    bw_quar_field_set(m->method, sizeof m->method, ev->method);
    if (ev->verdict)
        bw_quar_meta_set_verdict(m, ev->verdict);
    else
        bw_quar_field_set(m->status, sizeof m->status, "ERROR");
    q.queued++;
    q.mem += mem;
    if (q.tail)
        q.tail->next = j;
    else
        q.head = j;
    q.tail = j;
    kick();
    return BW_OK;
}
