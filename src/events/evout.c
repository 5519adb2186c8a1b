/* SPDX-License-Identifier: Apache-2.0 */
/* The extra outputs' pump (evout.h): each output is a spool reader with its
 * own cursor and a sink (evout-file.c, evout-syslog.c).  A batch is
 * acknowledged only after its sink delivered all of it, so an output that is
 * down keeps its events in the spool (bounded by MaxSpoolSize, counted when
 * dropped) and gets them when it is back: at-least-once, like the console
 * forwarder.  A failing output is retried after a back-off that doubles from
 * 1 s to 60 s; the failure is logged once per back-off step at most. */
#include "events/evout.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/core.h"
#include "core/log.h"
#include "events/evout-int.h"
#include "events/evspool.h"

#define BATCH_EVENTS 200
#define BATCH_BYTES (1u << 20)
#define BACKOFF_MIN 1000u
#define BACKOFF_MAX 60000u

typedef struct out {
    const char *name; /* the cursor */
    bw_evspool_reader_t *r;
    bw_evsink_t *sink;
    uint64_t retry_at, backoff;
    int failing;
} out_t;

struct bw_evout {
    out_t o[3];
    size_t n;
    bw_buf_t buf;
};

static int add(bw_evout_t *e, const char *dir, const char *name, bw_evsink_t *sink,
               bw_err_t *err)
{
    if (!sink)
        return BW_ERR;
    out_t *o = &e->o[e->n];
    if (bw_evspool_reader_open(dir, name, &o->r, err) != BW_OK) {
        sink->free(sink);
        return BW_ERR;
    }
    o->name = name;
    o->sink = sink;
    e->n++;
    return BW_OK;
}

int bw_evout_open(const bw_events_conf_t *c, bw_evout_t **out, bw_err_t *err)
{
    *out = NULL;
    if (!c->enable)
        return BW_OK;
    int want_syslog = c->syslog_target && c->syslog_target[0];
    int want_json = c->json_file && c->json_file[0];
    int want_cef = c->cef_file && c->cef_file[0];
    if (!want_syslog && !want_json && !want_cef)
        return BW_OK;
    bw_evout_t *e = calloc(1, sizeof *e);
    if (!e)
        return bw_err_set(err, "events outputs: out of memory");
    int rc = BW_OK;
    if (want_syslog) {
        bw_evsink_t *s = bw_evsink_syslog_new(c, err);
        rc = s ? add(e, c->spool_dir, "syslog", s, err) : BW_ERR;
    }
    if (rc == BW_OK && want_json)
        rc = add(e, c->spool_dir, "json", bw_evsink_file_new(c->json_file, 0), err);
    if (rc == BW_OK && want_cef)
        rc = add(e, c->spool_dir, "cef", bw_evsink_file_new(c->cef_file, 1), err);
    if (rc != BW_OK) {
        if (!err->msg[0])
            bw_err_set(err, "events outputs: out of memory");
        bw_evout_close(e);
        return BW_ERR;
    }
    *out = e;
    return BW_OK;
}

/* One batch of one output: 1 delivered (maybe more waiting), 0 nothing new,
 * -1 failed. */
static int pump_one(bw_evout_t *e, out_t *o)
{
    bw_err_t err = {{0}};
    size_t n;
    bw_evspool_mark_t m;
    if (bw_evspool_read(o->r, BATCH_EVENTS, BATCH_BYTES, &e->buf, &n, &m, &err) != BW_OK)
        goto fail;
    if (n == 0 && m.nseg == 0)
        return 0;
    if (n) {
        json_error_t je;
        json_t *arr = json_loadb(e->buf.p, e->buf.len, 0, &je);
        if (!arr) {
            bw_err_set(&err, "spool batch: %s", je.text);
            goto fail;
        }
        int rc = o->sink->send(o->sink, arr, &err);
        json_decref(arr);
        if (rc != BW_OK)
            goto fail;
    }
    /* a batch of skipped lines only is acknowledged too: it must not come back */
    if (bw_evspool_ack(o->r, &m, &err) != BW_OK)
        goto fail;
    if (o->failing)
        bw_log(BW_LOG_INFO, "events: output %s delivers again", o->name);
    o->failing = 0;
    o->backoff = 0;
    return n ? 1 : 0;
fail:
    o->sink->reset(o->sink);
    o->backoff = o->backoff ? o->backoff * 2 : BACKOFF_MIN;
    if (o->backoff > BACKOFF_MAX)
        o->backoff = BACKOFF_MAX;
    if (!o->failing || o->backoff < BACKOFF_MAX)
        bw_log(BW_LOG_WARN, "events: output %s: %s (retrying in %" PRIu64 " s; the events wait "
               "in the spool)", o->name, err.msg, o->backoff / 1000);
    o->failing = 1;
    return -1;
}

uint64_t bw_evout_pump(bw_evout_t *e, uint64_t now_ms)
{
    if (!e)
        return 1000;
    uint64_t wait = 1000;
    for (size_t i = 0; i < e->n; i++) {
        out_t *o = &e->o[i];
        if (o->retry_at > now_ms) {
            if (o->retry_at - now_ms < wait)
                wait = o->retry_at - now_ms;
            continue;
        }
        int rc = 0;
        for (int k = 0; k < 5; k++) /* a few batches, then let the caller breathe */
            if ((rc = pump_one(e, o)) != 1)
                break;
        if (rc == 1)
            wait = 0;
        else if (rc < 0) {
            o->retry_at = now_ms + o->backoff;
            if (o->backoff < wait)
                wait = o->backoff;
        }
    }
    return wait;
}

uint64_t bw_evout_backlog(bw_evout_t *e)
{
    uint64_t most = 0;
    for (size_t i = 0; e && i < e->n; i++) {
        uint64_t b = bw_evspool_backlog(e->o[i].r);
        if (b > most)
            most = b;
    }
    return most;
}

void bw_evout_close(bw_evout_t *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++) {
        e->o[i].sink->free(e->o[i].sink);
        bw_evspool_reader_close(e->o[i].r);
    }
    bw_buf_free(&e->buf);
    free(e);
}
