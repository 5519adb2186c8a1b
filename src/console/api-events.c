/* SPDX-License-Identifier: Apache-2.0 */
/* Events: ingestion from nodes, queries, statistics, and the lists derived
 * from events (quarantined objects, blocked addresses).
 *
 * Ingestion validates the whole batch (evbatch.c) before the store sees any
 * of it, then stores it in one transaction; the answer comes only after the
 * commit, so a node that got 200 may delete what it sent.  The console sets
 * each event's "node" to the authenticated node's name: a node cannot speak
 * for another. */
#include <stdlib.h>
#include <string.h>

#include "bulwark/core.h"
#include "console/console.h"
#include "console/evbatch.h"
#include "core/log.h"

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

void bw_h_events_post(bw_req_t *r)
{
    bw_console_t *con = r->con;
    bw_err_t err = {{0}};
    json_t *events;
    char **texts = NULL, **ftext = NULL;
    int too_big;
    /* Parsed once, validated, each event's "node" set and serialised once
     * (evbatch); the free text comes from the parsed object too. */
    if (bw_evbatch_prepare(r->body, r->body_len, con->conf->max_batch_events, r->node_name,
                           &events, &texts, &too_big, &err) != BW_OK) {
        atomic_fetch_add_explicit(too_big ? &con->batches_too_big : &con->batches_refused, 1,
                                  memory_order_relaxed);
        bw_reply_error(r, too_big ? 413 : 400, "%s", err.msg);
        return;
    }
    size_t n = json_array_size(events);
    bw_store_event_t *ev = calloc(n ? n : 1, sizeof(*ev));
    ftext = calloc(n ? n : 1, sizeof(*ftext));
    if (!ev || !ftext) {
        bw_reply_error(r, 500, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(events, i);
        if (!(ftext[i] = bw_store_ftext_json(e))) {
            bw_reply_error(r, 500, "out of memory");
            goto out;
        }
        bw_store_event_t *s = &ev[i];
        s->id = str(e, "id");
        bw_evbatch_parse_time(str(e, "time"), &s->time_us);
        s->node = r->node_name;
        s->component = str(e, "component");
        s->type = str(e, "type");
        s->severity = bw_evbatch_severity(str(e, "severity"));
        s->threat = json_string_value(json_array_get(json_object_get(e, "threats"), 0));
        json_t *cl = json_object_get(e, "client");
        s->client = str(cl, "ip");
        if (!s->client)
            s->client = str(e, "src_ip");
        s->user = str(cl, "user");
        json_t *obj = json_object_get(e, "object");
        s->object = str(obj, "url");
        if (!s->object)
            s->object = str(obj, "path");
        s->action = str(e, "action");
        s->verdict = str(e, "verdict");
        s->json = texts[i];
        s->json_len = strlen(texts[i]);
        s->ftext = ftext[i];
    }
    size_t added = 0, dups = 0;
    if (bw_store_add_events(con->store, ev, n, &added, &dups, &err) != BW_OK) {
        bw_log(BW_LOG_ERR, "storing %zu events of %s: %s", n, r->node_name, err.msg);
        bw_reply_error(r, 503, "store: %s (nothing stored; send again)", err.msg);
        goto out;
    }
    atomic_fetch_add_explicit(&con->ev_accepted, added, memory_order_relaxed);
    atomic_fetch_add_explicit(&con->ev_dups, dups, memory_order_relaxed);
    atomic_fetch_add_explicit(&con->batches_ok, 1, memory_order_relaxed);
    bw_reply_json(r, 200, json_pack("{s:I,s:I}", "accepted", (json_int_t)added, "duplicates",
                                    (json_int_t)dups));
out:
    bw_evbatch_texts_free(texts, n);
    bw_evbatch_texts_free(ftext, n);
    free(ev);
    json_decref(events);
}

/* A time argument: RFC 3339 or seconds since the epoch. */
static int arg_time(bw_req_t *r, const char *name, int64_t *us)
{
    const char *v = bw_req_arg(r, name);
    *us = 0;
    if (!v || !*v)
        return BW_OK;
    char *end;
    long long s = strtoll(v, &end, 10);
    if (!*end && s >= 0 && s < 253402300800LL) {
        *us = (int64_t)s * 1000000;
        return BW_OK;
    }
    if (bw_evbatch_parse_time(v, us) == BW_OK)
        return BW_OK;
    bw_reply_error(r, 400, "%s: expected RFC 3339 time or seconds since the epoch", name);
    return BW_ERR;
}

static int arg_int(bw_req_t *r, const char *name, int64_t min, int64_t max, int64_t *out)
{
    const char *v = bw_req_arg(r, name);
    if (!v || !*v)
        return BW_OK;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end || x < min || x > max) {
        bw_reply_error(r, 400, "%s: expected an integer from %lld to %lld", name, (long long)min,
                       (long long)max);
        return BW_ERR;
    }
    *out = x;
    return BW_OK;
}

static const char *arg_str(bw_req_t *r, const char *name)
{
    const char *v = bw_req_arg(r, name);
    return v && *v ? v : NULL;
}

void bw_h_events_get(bw_req_t *r)
{
    bw_err_t err = {{0}};
    bw_store_filter_t f = {0};
    int64_t limit = 100, sev = 0;
    if (arg_time(r, "from", &f.from_us) || arg_time(r, "to", &f.to_us) ||
        arg_int(r, "limit", 1, 1000, &limit) || arg_int(r, "cursor", 0, INT64_MAX, &f.before_seq) ||
        arg_int(r, "after", 0, INT64_MAX, &f.after_seq))
        return;
    const char *sv = arg_str(r, "severity");
    if (sv) {
        sev = bw_evbatch_severity(sv);
        if (!sev) {
            char *end;
            sev = strtol(sv, &end, 10);
            if (*end || sev < 1 || sev > 5) {
                bw_reply_error(r, 400, "severity: info, low, medium, high, critical or 1..5");
                return;
            }
        }
    }
    f.min_severity = (int)sev;
    f.limit = (size_t)limit;
    f.node = arg_str(r, "node");
    f.component = arg_str(r, "component");
    f.type = arg_str(r, "type");
    f.threat = arg_str(r, "threat");
    f.client = arg_str(r, "client");
    f.action = arg_str(r, "action");
    f.text = arg_str(r, "q");
    json_t *j = bw_store_query_events(r->con->store, &f, &err);
    if (!j)
        bw_reply_error(r, 500, "store: %s", err.msg);
    else
        bw_reply_json(r, 200, j);
}

void bw_h_event_get(bw_req_t *r)
{
    bw_err_t err = {{0}};
    int rc = BW_OK;
    json_t *e = bw_store_get_event(r->con->store, r->param[0], &rc, &err);
    if (e)
        bw_reply_json(r, 200, e);
    else if (rc == BW_DECLINED)
        bw_reply_error(r, 404, "event %s: not found", r->param[0]);
    else
        bw_reply_error(r, 500, "store: %s", err.msg);
}

void bw_h_stats(bw_req_t *r)
{
    bw_err_t err = {{0}};
    int64_t from, to, bucket = 3600, top = 10;
    if (arg_time(r, "from", &from) || arg_time(r, "to", &to) ||
        arg_int(r, "bucket", 60, 31 * 86400, &bucket) || arg_int(r, "top", 1, 100, &top))
        return;
    int64_t now = bw_now_us();
    if (!to)
        to = now + 3600 * 1000000LL;
    if (!from)
        from = now - 86400 * 1000000LL;
    if (to <= from) {
        bw_reply_error(r, 400, "to: must be after from");
        return;
    }
    if ((to - from) / 1000000 / bucket > 10000) {
        bw_reply_error(r, 400, "bucket: more than 10000 buckets in the range; widen the bucket");
        return;
    }
    json_t *j = bw_store_stats(r->con->store, from, to, (int)bucket, (size_t)top, &err);
    if (!j)
        bw_reply_error(r, 500, "store: %s", err.msg);
    else
        bw_reply_json(r, 200, j);
}

/* Walks all events of `type` (newest first, by the query's cursor) and calls
 * fn on each.  The derived lists are sets (stored minus removed), so the
 * order of the walk does not matter. */
static int walk_type(bw_req_t *r, const char *type, void (*fn)(json_t *ev, json_t *acc),
                     json_t *acc)
{
    bw_err_t err = {{0}};
    bw_store_filter_t f = {.type = type, .limit = 1000};
    for (int pages = 0; pages < 10000; pages++) {
        json_t *j = bw_store_query_events(r->con->store, &f, &err);
        if (!j) {
            bw_reply_error(r, 500, "store: %s", err.msg);
            return BW_ERR;
        }
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(j, "events"), i, e) fn(e, acc);
        json_t *next = json_object_get(j, "next_cursor");
        int64_t c = json_is_integer(next) ? json_integer_value(next) : 0;
        json_decref(j);
        if (c <= 0 || (f.before_seq && c >= f.before_seq))
            break;
        f.before_seq = c;
    }
    return BW_OK;
}

static void key_of(json_t *e, const char *id, char *k, size_t n)
{
    snprintf(k, n, "%s\x1f%s", str(e, "node") ? str(e, "node") : "", id ? id : "");
}

static void q_stored(json_t *e, json_t *acc)
{
    const char *id = str(json_object_get(e, "quarantine"), "id");
    if (!id)
        return;
    char k[512];
    key_of(e, id, k, sizeof(k));
    json_object_set_new(acc, k, json_pack("{s:O?,s:s,s:O?,s:O?,s:O?}", "node",
                                          json_object_get(e, "node"), "id", id, "threat",
                                          json_array_get(json_object_get(e, "threats"), 0),
                                          "object", json_object_get(e, "object"), "time",
                                          json_object_get(e, "time")));
}

static void q_gone(json_t *e, json_t *acc)
{
    const char *id = str(json_object_get(e, "quarantine"), "id");
    char k[512];
    key_of(e, id, k, sizeof(k));
    json_object_del(acc, k);
}

static void reply_values(bw_req_t *r, json_t *acc)
{
    json_t *arr = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(acc, k, v) json_array_append(arr, v);
    json_decref(acc);
    bw_reply_json(r, 200, arr);
}

/* Stored minus restored/deleted.  The events are the source of truth: the
 * console holds no second copy of the nodes' quarantine that could drift. */
void bw_h_quarantine(bw_req_t *r)
{
    json_t *acc = json_object();
    if (walk_type(r, "quarantine.stored", q_stored, acc) ||
        walk_type(r, "quarantine.restored", q_gone, acc) ||
        walk_type(r, "quarantine.deleted", q_gone, acc)) {
        json_decref(acc);
        return;
    }
    reply_values(r, acc);
}

static const char *address_of(json_t *e)
{
    const char *a = str(e, "address");
    if (!a)
        a = str(e, "src_ip");
    if (!a)
        a = str(json_object_get(e, "client"), "ip");
    return a;
}

static void b_added(json_t *e, json_t *acc)
{
    const char *a = address_of(e);
    if (!a)
        return;
    char k[512];
    key_of(e, a, k, sizeof(k));
    json_object_set_new(acc, k, json_pack("{s:O?,s:s,s:O?,s:O?,s:O?}", "node",
                                          json_object_get(e, "node"), "address", a, "reason",
                                          json_object_get(e, "message"), "time",
                                          json_object_get(e, "time"), "event",
                                          json_object_get(e, "id")));
}

static void b_removed(json_t *e, json_t *acc)
{
    const char *a = address_of(e);
    char k[512];
    key_of(e, a, k, sizeof(k));
    json_object_del(acc, k);
}

void bw_h_blocked(bw_req_t *r)
{
    json_t *acc = json_object();
    if (walk_type(r, "address.blocked", b_added, acc) ||
        walk_type(r, "address.unblocked", b_removed, acc)) {
        json_decref(acc);
        return;
    }
    reply_values(r, acc);
}
