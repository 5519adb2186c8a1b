/* SPDX-License-Identifier: Apache-2.0 */
/* The forwarder: spool batches to POST /api/v1/events.
 *
 * The cursor moves only after a 200 (link.c says why that gives
 * exactly-once with the console's dedupe).  What else can come back:
 *  - 401/403: this node is revoked or unknown.  Nothing is acknowledged;
 *    the spool keeps every event (bounded by MaxSpoolSize) until the node is
 *    enrolled again, and the loop backs off.
 *  - 5xx, 408, 429, no answer: the console or the path is in trouble; the
 *    same batch is tried again after the back-off.
 *  - another 4xx (400 malformed, 413 too big, ...): the batch itself is
 *    refused, and sending it again would be refused again, for ever: the
 *    pipeline would stall behind one bad event.  So the batch is split in
 *    halves, each sent on its own, recursively: the good events get in, and
 *    an event refused on its own is dropped, counted (the heartbeat's
 *    `dropped` includes it) and reported (a log line with the console's
 *    error, and an events.dropped event).  A batch of n events with one bad
 *    one costs about 2*log2(n) requests, once.  If a transient failure
 *    interrupts the splitting, nothing is acknowledged and the whole batch
 *    comes again later: what was already accepted is then a duplicate the
 *    console discards.
 */
#include "link/link-int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* The console's limits (CONTRACT: <= 1000 events, <= 8 MiB a batch); the
 * bytes bound leaves room for the {"events":...} wrapper. */
#define MAX_BATCH_BYTES ((8u << 20) - 4096)

enum { SENT = 0, REFUSED = 1, TRANSIENT = -1 };

static bool refusal(long status)
{
    return status >= 400 && status < 500 && status != 401 && status != 403 && status != 404 &&
           status != 408 && status != 429;
}

static int post(bw_link_t *l, const char *array, size_t len, long *status, char *msg,
                size_t mcap)
{
    bw_buf_t body = {0};
    bw_buf_puts(&body, "{\"events\":");
    bw_buf_append(&body, array, len);
    bw_buf_puts(&body, "}");
    bw_buf_append(&body, "", 1);
    if (body.oom) {
        bw_buf_free(&body);
        snprintf(msg, mcap, "out of memory");
        return TRANSIENT;
    }
    bw_err_t err;
    int r = bw_link_call(l, "POST", "/api/v1/events", body.p, status, &err);
    bw_buf_free(&body);
    if (r) {
        snprintf(msg, mcap, "%s", err.msg);
        return TRANSIENT;
    }
    if (*status == 200)
        return SENT;
    bw_link_http_error_of(&l->resp, *status, msg, mcap);
    return refusal(*status) ? REFUSED : TRANSIENT;
}

/* Sends events [lo, hi) of `arr`, splitting on refusal. */
static int send_range(bw_link_t *l, json_t *arr, size_t lo, size_t hi)
{
    json_t *part = json_array();
    for (size_t i = lo; part && i < hi; i++)
        json_array_append(part, json_array_get(arr, i));
    char *text = part ? json_dumps(part, JSON_COMPACT) : NULL;
    json_decref(part);
    if (!text)
        return TRANSIENT;
    long status = 0;
    char msg[1024];
    int r = post(l, text, strlen(text), &status, msg, sizeof msg);
    free(text);
    if (r == SENT) {
        l->forwarded += hi - lo;
        return SENT;
    }
    if (r == TRANSIENT)
        return TRANSIENT;
    if (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (send_range(l, arr, lo, mid) == TRANSIENT)
            return TRANSIENT;
        return send_range(l, arr, mid, hi);
    }
    json_t *ev = json_array_get(arr, lo);
    const char *id = json_string_value(json_object_get(ev, "id"));
    l->rejected++;
    bw_log(BW_LOG_ERR, "console refused event %s (%s); it is dropped (%llu refused so far)",
           id ? id : "(no id)", msg, (unsigned long long)l->rejected);
    json_t *f = json_pack("{s:I, s:s, s:s}", "dropped", (json_int_t)1, "error", msg, "message",
                          "an event the console refused was dropped");
    if (f && id)
        json_object_set_new(f, "refused_id", json_string(id));
    char *ft = f ? json_dumps(f, JSON_COMPACT) : NULL;
    json_decref(f);
    if (ft && l->env.emit)
        l->env.emit(l->env.emit_ud, "events.dropped", "medium", ft);
    free(ft);
    return SENT;
}

int bw_link_forward(bw_link_t *l)
{
    bw_buf_t batch = {0};
    size_t n = 0;
    bw_evspool_mark_t mark;
    bw_err_t err;
    if (bw_evspool_read(l->spool, l->c.batch_size, MAX_BATCH_BYTES, &batch, &n, &mark, &err)) {
        bw_log(BW_LOG_ERR, "events spool: %s", err.msg);
        bw_buf_free(&batch);
        return -1;
    }
    if (n == 0) {
        bw_buf_free(&batch);
        return 0;
    }
    long status = 0;
    char msg[1024];
    int r = post(l, batch.p, batch.len, &status, msg, sizeof msg);
    if (r == REFUSED) {
        bw_log(BW_LOG_WARN, "console refused a batch of %zu events (%s); sending it in parts "
               "to find the bad event", n, msg);
        json_error_t je;
        json_t *arr = json_loadb(batch.p, batch.len, 0, &je);
        if (!json_is_array(arr)) {
            /* The spool gave us something that is not JSON: nothing the
             * console could ever take; skip the batch, loudly. */
            l->rejected += n;
            bw_log(BW_LOG_ERR, "events spool: a batch of %zu events is not JSON (%s); dropped",
                   n, je.text);
            r = SENT;
        } else {
            r = send_range(l, arr, 0, json_array_size(arr));
        }
        json_decref(arr);
    } else if (r == SENT) {
        l->forwarded += n;
    } else if (status != 401 && status != 403 && l->send_bo.fails % 10 == 0) {
        /* the first failure of a run, then every tenth: a console that is
         * down for an hour must not fill the log */
        bw_log(BW_LOG_WARN, "console: sending %zu events failed (%s); will retry with back-off",
               n, msg);
    }
    bw_buf_free(&batch);
    if (r != SENT)
        return -1;
    if (bw_evspool_ack(l->spool, &mark, &err)) {
        bw_log(BW_LOG_ERR, "events spool: %s", err.msg);
        return -1;
    }
    return 1;
}
