/* SPDX-License-Identifier: Apache-2.0 */
/* Events in the console's store: ingestion, rollups, queries, retention.
 *
 * Ingestion.  A batch is one transaction: the engine inserts the events
 * skipping ids already stored (ON CONFLICT DO NOTHING on the unique id, so
 * a node resending after a lost acknowledgement changes nothing) and says
 * which rows went in; only those are counted into the rollups.  The rollup
 * lines of the batch are summed here first, so a batch of 500 detections of
 * one threat is one upsert per table and dimension, not 500.
 *
 * Rollups.  Two tables, rollup_h (per hour) and rollup_d (per day), with
 * (dim, t, key) -> events, detections for the dimensions total, threat,
 * client, URL, component and node.  The dashboard reads only these: buckets
 * from the hourly totals, top-N from whole days plus the hours at either
 * end of the range, so 30 days is 30 day rows per key, not 720 hour rows
 * (and only for the candidate keys: see top()).
 * Their resolution is an hour: a range is widened to whole hours.
 *
 * Pagination is by keyset on seq (the order of arrival), never OFFSET: a
 * page is "seq < cursor ORDER BY seq DESC LIMIT n", as fast on page 10000
 * as on page 1, and rows arriving meanwhile neither repeat nor hide rows.
 *
 * Free text: see docs/console-storage.md.  The searchable text is the
 * string values of the event but its id, time, enumerations and hashes
 * (ftext_wanted).  SQLite indexes its words (FTS5, `ascii` tokenizer) and
 * answers a query's words, all required, from that index (text_match);
 * the threat filter stays a substring match, from a trigram index of the
 * threat names alone.  PostgreSQL keeps the text in a column with a pg_trgm
 * GIN index answering ILIKE: a substring match. */
#include "console/store-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/core.h"
#include "core/buf.h"

/* Keys whose values free text does not look in: the id and time, the
 * enumerations that have their own exact filter (component, severity,
 * verdict, action, method, group), and hashes (a SHA-256 is 64 distinct
 * trigrams that nobody searches by substring; it doubled the cost of
 * indexing).  docs/console-storage.md lists what is searched. */
static int ftext_wanted(const char *k, int top)
{
    static const char *const skip_top[] = { "id", "time", "component", "severity", "verdict", "action",
                                            "method", NULL };
    static const char *const skip_any[] = { "sha256", "group", "size", NULL };
    for (int i = 0; top && skip_top[i]; i++)
        if (!strcmp(k, skip_top[i]))
            return 0;
    for (int i = 0; skip_any[i]; i++)
        if (!strcmp(k, skip_any[i]))
            return 0;
    return 1;
}

static void ftext_walk(json_t *v, bw_buf_t *b, int top)
{
    if (json_is_string(v)) {
        if (b->len)
            bw_buf_append(b, " ", 1);
        bw_buf_append(b, json_string_value(v), json_string_length(v));
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            if (!ftext_wanted(k, top))
                continue;
            ftext_walk(x, b, 0);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) ftext_walk(x, b, 0);
    }
}

char *bw_store_ftext_json(json_t *v)
{
    bw_buf_t b = { 0 };
    if (v)
        ftext_walk(v, &b, 1);
    bw_buf_append(&b, "", 1);
    if (b.oom) {
        bw_buf_free(&b);
        return NULL;
    }
    /* A NUL inside a string would cut the text: make it a space. */
    for (size_t i = 0; i + 1 < b.len; i++)
        if (!b.p[i])
            b.p[i] = ' ';
    return b.p;
}

char *bw_store_ftext(const char *json, size_t len)
{
    json_t *v = json_loadb(json, len, JSON_ALLOW_NUL, NULL);
    char *t = bw_store_ftext_json(v);
    json_decref(v);
    return t;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int rollup_cmp(const void *pa, const void *pb)
{
    const bw_rollup_t *a = pa, *b = pb;
    if (a->day != b->day)
        return a->day - b->day;
    if (a->dim != b->dim)
        return a->dim - b->dim;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return strcmp(a->key, b->key);
}

static int is_detection(const char *type)
{
    return type && (!strcmp(type, "detection") || !strcmp(type, "alert"));
}

/* The batch's rollup lines, summed per (table, dim, t, key) and sorted, so
 * concurrent writers take row locks in one order (PostgreSQL). */
static bw_rollup_t *batch_rollups(const bw_store_event_t *ev, const unsigned char *ins, size_t n,
                                  size_t *nout)
{
    bw_rollup_t *r = malloc((n * 2 * BW_DIM_COUNT + 1) * sizeof *r);
    size_t k = 0;
    if (!r)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!ins[i])
            continue;
        int64_t sec = floor_div(ev[i].time_us, 1000000);
        const char *keys[BW_DIM_COUNT] = { "", ev[i].threat, ev[i].client, ev[i].object,
                                           ev[i].component, ev[i].node };
        int det = is_detection(ev[i].type);
        for (int day = 0; day < 2; day++) {
            int64_t w = day ? 86400 : 3600;
            for (int d = 0; d < BW_DIM_COUNT; d++) {
                if (!keys[d] || (d && !keys[d][0]))
                    continue;
                r[k++] = (bw_rollup_t){ day, d, floor_div(sec, w) * w, keys[d], 1, det };
            }
        }
    }
    qsort(r, k, sizeof *r, rollup_cmp);
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        if (m && !rollup_cmp(&r[m - 1], &r[i])) {
            r[m - 1].events += r[i].events;
            r[m - 1].detections += r[i].detections;
        } else {
            r[m++] = r[i];
        }
    }
    *nout = m;
    return r;
}

int bw_store_add_events(bw_store_t *st, const bw_store_event_t *ev, size_t n, size_t *added,
                        size_t *dups, bw_err_t *err)
{
    size_t a = 0;
    if (added)
        *added = 0;
    if (dups)
        *dups = 0;
    if (n == 0)
        return BW_OK;
    for (size_t i = 0; i < n; i++)
        if (!ev[i].id || !ev[i].json)
            return bw_err_set(err, "event %zu: no id or no JSON", i);
    char **ft = calloc(n, sizeof *ft);
    unsigned char *ins = calloc(n, 1);
    int rc = ft && ins ? BW_OK : bw_err_set(err, "out of memory");
    for (size_t i = 0; rc == BW_OK && i < n; i++)
        if (!(ft[i] = ev[i].ftext ? strdup(ev[i].ftext) : bw_store_ftext(ev[i].json, ev[i].json_len)))
            rc = bw_err_set(err, "out of memory");
    void *c = NULL;
    if (rc == BW_OK && bw_store_tx_begin(st, &c, err) != BW_OK) {
        rc = BW_ERR;
        c = NULL;
    }
    if (rc == BW_OK)
        rc = st->ops->insert_events(c, ev, ft, n, bw_store_now_us(), ins, err);
    if (rc == BW_OK) {
        for (size_t i = 0; i < n; i++)
            a += ins[i];
        size_t nr = 0;
        bw_rollup_t *r = batch_rollups(ev, ins, n, &nr);
        if (!r)
            rc = bw_err_set(err, "out of memory");
        else if (nr)
            rc = st->ops->upsert_rollups(c, r, nr, err);
        free(r);
    }
    if (rc == BW_OK && a) {
        bw_sqlv_t p[1] = { SQLV_I(a) };
        rc = st->ops->exec(c, "UPDATE counters SET n = n + ?1 WHERE name = 'events'", p, 1, NULL, err);
    }
    if (c)
        rc = bw_store_tx_end(st, c, rc, err);
    for (size_t i = 0; ft && i < n; i++)
        free(ft[i]);
    free(ft);
    free(ins);
    if (rc == BW_OK) {
        if (added)
            *added = a;
        if (dups)
            *dups = n - a;
    }
    return rc;
}

/* ---- queries ------------------------------------------------------------------ */

/* A LIKE pattern matching s anywhere.  SQLite (the threat's FTS5 trigram
 * index, which ignores ESCAPE): each % and _ of s becomes _ (any one character) and the caller
 * checks the exact substring too; PostgreSQL: escaped with backslashes. */
static char *like_pattern(const char *s, int pg, int *needs_exact)
{
    size_t n = strlen(s);
    char *p = malloc(2 * n + 3), *q = p;
    if (!p)
        return NULL;
    *needs_exact = 0;
    *q++ = '%';
    for (const char *c = s; *c; c++) {
        if (*c == '%' || *c == '_' || (pg && *c == '\\')) {
            if (pg) {
                *q++ = '\\';
                *q++ = *c;
            } else {
                *q++ = '_';
                *needs_exact = 1;
            }
        } else {
            *q++ = *c;
        }
    }
    *q++ = '%';
    *q = 0;
    return p;
}

/* The FTS5 MATCH expression of free text on SQLite: every word of s (a run
 * of ASCII letters and digits and non-ASCII bytes: the `ascii` tokenizer's
 * rule, store-sqlite.c), each one quoted and all of them required; a word
 * followed by `*` matches as a prefix.  A word never holds a quote or a
 * separator, so the expression is always valid and is never a phrase.
 * NULL when s has no word (nothing to look for: nothing matches). */
static char *text_match(const char *s, bw_buf_t *b)
{
    const unsigned char *p = (const unsigned char *)s;
    int words = 0;
    while (*p) {
        if (!(*p >= 0x80 || (*p >= '0' && *p <= '9') || ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z'))) {
            p++;
            continue;
        }
        const unsigned char *w = p;
        while (*p >= 0x80 || (*p >= '0' && *p <= '9') || ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z'))
            p++;
        bw_buf_printf(b, "%s\"%.*s\"%s", words++ ? " AND " : "", (int)(p - w), (const char *)w,
                      *p == '*' ? " *" : "");
    }
    bw_buf_append(b, "", 1);
    if (b->oom || !words) {
        bw_buf_free(b);
        return NULL;
    }
    return b->p;
}

#define MAXP 24

json_t *bw_store_query_events(bw_store_t *st, const bw_store_filter_t *f, bw_err_t *err)
{
    int pg = st->ops->pg;
    /* SQLite: free text drives the query from the word index (events_fts,
     * MATCH), else a threat from the threat names' trigram index
     * (events_th, LIKE); with both, the threat is checked on the rows the
     * words found. */
    int want_text = f->text && *f->text, want_threat = f->threat && *f->threat;
    int fts = !pg && want_text, th = !pg && want_threat && !fts;
    bw_buf_t mb = { 0 };
    char *match = fts ? text_match(f->text, &mb) : NULL;
    int nothing = fts && !match; /* text without a word: no event matches */
    if (nothing)
        fts = 0;
    /* SQLite with a time range and no other indexed filter would read every
     * row of the range through the time index and sort them: 330,000 rows
     * for the last 24 h of 10 million.  Alone, the range is answered from
     * the time index only (it holds seq: no row is read) and the page's
     * rows fetched by seq; with other unindexed filters, the newest-first
     * walk by seq checks the time on the way (+e.time: not the index). */
    int time_only = !pg && !fts && !th && (f->from_us || f->to_us) && !f->node && !f->client && !f->type;
    int covering = time_only && !f->component && !f->action && f->min_severity <= 0 && !want_threat && !nothing;
    const char *T = covering ? "time" : time_only ? "+e.time" : "e.time";
    const char *K = fts ? "f.rowid" : th ? "t.rowid" : covering ? "seq" : "e.seq";
    const char *dir = f->after_seq > 0 ? "ASC" : "DESC";
    size_t limit = f->limit < 1 ? 100 : f->limit > 1000 ? 1000 : f->limit;
    bw_sqlv_t p[MAXP];
    char *pats[2] = { NULL, NULL };
    int np = 0;
    bw_buf_t b = { 0 };
    bw_buf_puts(&b, fts ? "SELECT e.seq, e.json, e.received FROM events_fts f CROSS JOIN events e "
                          "ON e.seq = f.rowid WHERE 1 = 1"
                        : th ? "SELECT e.seq, e.json, e.received FROM events_th t CROSS JOIN events e "
                               "ON e.seq = t.rowid WHERE 1 = 1"
                        : covering ? "SELECT e.seq, e.json, e.received FROM events e WHERE e.seq IN "
                                     "(SELECT seq FROM events WHERE 1 = 1"
                        : "SELECT e.seq, e.json, e.received FROM events e WHERE 1 = 1");
    if (nothing)
        bw_buf_puts(&b, " AND 0");
    if (fts) {
        p[np++] = SQLV_S(match);
        bw_buf_printf(&b, " AND f.events_fts MATCH ?%d", np);
    }
    if (f->from_us) {
        p[np++] = SQLV_I(f->from_us);
        bw_buf_printf(&b, " AND %s >= ?%d", T, np);
    }
    if (f->to_us) {
        p[np++] = SQLV_I(f->to_us);
        bw_buf_printf(&b, " AND %s < ?%d", T, np);
    }
    /* Exact matches: the column comes from this fixed table, the value is bound. */
    static const struct { const char *col; size_t off; } exact[] = {
        { "node", offsetof(bw_store_filter_t, node) },
        { "component", offsetof(bw_store_filter_t, component) },
        { "type", offsetof(bw_store_filter_t, type) },
        { "client", offsetof(bw_store_filter_t, client) },
        { "action", offsetof(bw_store_filter_t, action) },
    };
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        const char *v = *(const char *const *)((const char *)f + exact[i].off);
        if (!v)
            continue;
        p[np++] = SQLV_S(v);
        bw_buf_printf(&b, " AND e.%s = ?%d", exact[i].col, np);
    }
    if (f->min_severity > 0) {
        p[np++] = SQLV_I(f->min_severity);
        bw_buf_printf(&b, " AND e.severity >= ?%d", np);
    }
    /* Substrings: PostgreSQL both (pg_trgm), SQLite the threat only. */
    const char *subs[2] = { f->threat, pg ? f->text : NULL };
    const char *pcol[2] = { "threat", "ftext" };
    for (int i = 0; i < 2; i++) {
        if (!subs[i] || !*subs[i])
            continue;
        if (!pg && !th) {
            /* the threat beside free text: on the rows the words found */
            p[np++] = SQLV_S(subs[i]);
            bw_buf_printf(&b, " AND instr(lower(e.threat), lower(?%d)) > 0", np);
            continue;
        }
        int exact_too = 0;
        if (!(pats[i] = like_pattern(subs[i], pg, &exact_too))) {
            bw_buf_free(&b);
            bw_buf_free(&mb);
            free(pats[0]);
            bw_err_set(err, "out of memory");
            return NULL;
        }
        p[np++] = SQLV_S(pats[i]);
        if (pg) {
            bw_buf_printf(&b, " AND e.%s ILIKE ?%d ESCAPE '\\'", pcol[i], np);
        } else {
            bw_buf_printf(&b, " AND t.threat LIKE ?%d", np);
            if (exact_too) {
                p[np++] = SQLV_S(subs[i]);
                bw_buf_printf(&b, " AND instr(lower(t.threat), lower(?%d)) > 0", np);
            }
        }
    }
    if (f->after_seq > 0) {
        p[np++] = SQLV_I(f->after_seq);
        bw_buf_printf(&b, " AND %s > ?%d", K, np);
    } else if (f->before_seq > 0) {
        p[np++] = SQLV_I(f->before_seq);
        bw_buf_printf(&b, " AND %s < ?%d", K, np);
    }
    p[np++] = SQLV_I(limit);
    bw_buf_printf(&b, " ORDER BY %s %s LIMIT ?%d", K, dir, np);
    if (covering)
        bw_buf_printf(&b, ") ORDER BY e.seq %s LIMIT ?%d", dir, np);
    bw_buf_append(&b, "", 1);
    bw_rows_t r;
    int rc = b.oom ? bw_err_set(err, "out of memory")
                   : bw_store_exec(st, NULL, b.p, p, np, &r, err);
    bw_buf_free(&b);
    bw_buf_free(&mb);
    free(pats[0]);
    free(pats[1]);
    if (rc != BW_OK)
        return NULL;
    json_t *a = json_array();
    int64_t last = 0;
    for (size_t i = 0; i < r.nrows; i++) {
        json_t *e = json_loads(bw_rows_get(&r, i, 1), JSON_ALLOW_NUL, NULL);
        if (!json_is_object(e)) {
            json_decref(e);
            e = json_object();
        }
        last = bw_rows_int(&r, i, 0);
        json_object_set_new(e, "seq", json_integer(last));
        json_object_set_new(e, "received", json_integer(bw_rows_int(&r, i, 2)));
        json_array_append_new(a, e);
    }
    json_t *next;
    if (f->after_seq > 0)  /* follow mode: where to continue, always */
        next = json_integer(r.nrows ? last : f->after_seq);
    else
        next = r.nrows == limit ? json_integer(last) : json_null();
    bw_rows_free(&r);
    return json_pack("{s:o,s:o}", "events", a, "next_cursor", next);
}

json_t *bw_store_get_event(bw_store_t *st, const char *id, int *rcp, bw_err_t *err)
{
    bw_rows_t r;
    bw_sqlv_t p[1] = { SQLV_S(id) };
    if (rcp)
        *rcp = BW_ERR;
    if (bw_store_exec(st, NULL, "SELECT seq, json, received FROM events WHERE id = ?1", p, 1, &r,
                      err) != BW_OK)
        return NULL;
    json_t *e = NULL;
    if (r.nrows) {
        e = json_loads(bw_rows_get(&r, 0, 1), JSON_ALLOW_NUL, NULL);
        if (!json_is_object(e)) {
            json_decref(e);
            e = json_object();
        }
        json_object_set_new(e, "seq", json_integer(bw_rows_int(&r, 0, 0)));
        json_object_set_new(e, "received", json_integer(bw_rows_int(&r, 0, 2)));
        if (rcp)
            *rcp = BW_OK;
    } else {
        bw_err_set(err, "event %s: not found", id);
        if (rcp)
            *rcp = BW_DECLINED;
    }
    bw_rows_free(&r);
    return e;
}

/* ---- stats ------------------------------------------------------------------------ */

/* Top-N of one dimension over [from, to) (seconds; whole days [d0, d1) in
 * the middle, hours at the ends).  Summing every key of every bucket would
 * read all the rollup rows of the range: millions for 30 days of a farm's
 * client addresses.  Instead: the candidates are the K biggest keys of
 * each bucket (index rollup_*_top: K rows per bucket), and only their
 * counts are summed (primary key (dim, key, t): one range per key).  The
 * answer is exact for every key that is among the K biggest of at least
 * one hour or day of the range; a key spread thinly over many buckets can
 * be missed, the documented price of answering in bounded time. */
#define TOP_CHUNK 200

static int top_candidates(bw_store_t *st, void *c, const char *table, int dim, int64_t t0, int64_t t1,
                          int64_t step, size_t k, json_t *set, bw_err_t *err)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT key FROM %s WHERE dim = ?1 AND t = ?2 ORDER BY events DESC LIMIT ?3",
             table);
    for (int64_t t = t0; t < t1; t += step) {
        bw_sqlv_t p[3] = { SQLV_I(dim), SQLV_I(t), SQLV_I(k) };
        bw_rows_t r;
        if (bw_store_exec(st, c, sql, p, 3, &r, err) != BW_OK)
            return BW_ERR;
        for (size_t i = 0; i < r.nrows; i++)
            json_object_set_new(set, bw_rows_get(&r, i, 0), json_pack("[I,I]", (json_int_t)0, (json_int_t)0));
        bw_rows_free(&r);
    }
    return BW_OK;
}

static int top_cmp(const void *pa, const void *pb)
{
    json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
    json_int_t x = json_integer_value(json_object_get(a, "count"));
    json_int_t y = json_integer_value(json_object_get(b, "count"));
    if (x != y)
        return x > y ? -1 : 1;
    return strcmp(json_string_value(json_object_get(a, "name")), json_string_value(json_object_get(b, "name")));
}

static json_t *top(bw_store_t *st, void *c, int dim, int64_t from, int64_t d0, int64_t d1, int64_t to,
                   size_t n, bw_err_t *err)
{
    size_t k = n * 2 < 20 ? 20 : n * 2;
    json_t *set = json_object();
    if (top_candidates(st, c, "rollup_d", dim, d0, d1, 86400, k, set, err) != BW_OK
        || top_candidates(st, c, "rollup_h", dim, from, d0, 3600, k, set, err) != BW_OK
        || top_candidates(st, c, "rollup_h", dim, d1, to, 3600, k, set, err) != BW_OK) {
        json_decref(set);
        return NULL;
    }
    /* Exact sums of the candidates, TOP_CHUNK keys per statement. */
    const char *keys[TOP_CHUNK];
    size_t nk = 0;
    void *it = json_object_iter(set);
    while (it || nk) {
        if (it && nk < TOP_CHUNK) {
            keys[nk++] = json_object_iter_key(it);
            it = json_object_iter_next(set, it);
            continue;
        }
        bw_sqlv_t p[5 + TOP_CHUNK] = { SQLV_I(dim), SQLV_I(d0), SQLV_I(d1), SQLV_I(from), SQLV_I(to) };
        bw_buf_t in = { 0 };
        for (size_t i = 0; i < nk; i++) {
            p[5 + i] = SQLV_S(keys[i]);
            bw_buf_printf(&in, "%s?%zu", i ? ", " : "", 6 + i);
        }
        bw_buf_append(&in, "", 1);
        bw_buf_t q = { 0 };
        bw_buf_printf(&q, "SELECT key, SUM(ev), SUM(det) FROM ("
                      "SELECT key, events AS ev, detections AS det FROM rollup_d WHERE dim = ?1 AND key IN (%s) AND t >= ?2 AND t < ?3 "
                      "UNION ALL SELECT key, events, detections FROM rollup_h WHERE dim = ?1 AND key IN (%s) AND t >= ?4 AND t < ?2 "
                      "UNION ALL SELECT key, events, detections FROM rollup_h WHERE dim = ?1 AND key IN (%s) AND t >= ?3 AND t < ?5"
                      ") x GROUP BY key", in.p, in.p, in.p);
        bw_buf_append(&q, "", 1);
        bw_rows_t r;
        int rc = in.oom || q.oom ? bw_err_set(err, "out of memory")
                                 : bw_store_exec(st, c, q.p, p, 5 + (int)nk, &r, err);
        bw_buf_free(&in);
        bw_buf_free(&q);
        if (rc != BW_OK) {
            json_decref(set);
            return NULL;
        }
        for (size_t i = 0; i < r.nrows; i++)
            json_object_set_new(set, bw_rows_get(&r, i, 0),
                                json_pack("[I,I]", (json_int_t)bw_rows_int(&r, i, 1),
                                          (json_int_t)bw_rows_int(&r, i, 2)));
        bw_rows_free(&r);
        nk = 0;
    }
    size_t total = json_object_size(set), m = 0;
    json_t **all = calloc(total ? total : 1, sizeof *all);
    const char *key;
    json_t *v;
    json_object_foreach(set, key, v) {
        json_int_t ev = json_integer_value(json_array_get(v, 0));
        if (ev > 0 && all)
            all[m++] = json_pack("{s:s,s:I,s:I}", "name", key, "count", ev, "detections",
                                 json_integer_value(json_array_get(v, 1)));
    }
    if (m)
        qsort(all, m, sizeof *all, top_cmp);
    json_t *a = json_array();
    for (size_t i = 0; i < m; i++) {
        if (i < n)
            json_array_append(a, all[i]);
        json_decref(all[i]);
    }
    free(all);
    json_decref(set);
    return a;
}

#define MAX_BUCKETS 10000

json_t *bw_store_stats(bw_store_t *st, int64_t from_us, int64_t to_us, int bucket_s, size_t top_n,
                       bw_err_t *err)
{
    /* Hour resolution: the range widens to whole hours, a bucket is a whole
     * number of hours. */
    int64_t from = floor_div(from_us, 1000000 * (int64_t)3600) * 3600;
    int64_t to = -floor_div(-to_us, 1000000 * (int64_t)3600) * 3600;
    if (to <= from)
        to = from + 3600;
    int64_t bucket = bucket_s <= 3600 ? 3600 : ((int64_t)bucket_s + 3599) / 3600 * 3600;
    while ((to - from) / bucket > MAX_BUCKETS)
        bucket *= 2;
    if (top_n == 0 || top_n > 1000)
        top_n = 10;
    int64_t d0 = -floor_div(-from, 86400) * 86400, d1 = floor_div(to, 86400) * 86400;
    if (d1 <= d0)
        d0 = d1 = to;
    void *c = bw_store_conn(st);
    json_t *res = NULL;
    /* One read transaction: buckets, tops and totals from one snapshot. */
    if (st->ops->exec(c, "BEGIN", NULL, 0, NULL, err) != BW_OK)
        goto out;
    bw_sqlv_t p[3] = { SQLV_I(from), SQLV_I(to), SQLV_I(bucket) };
    bw_rows_t r;
    if (bw_store_exec(st, c, "SELECT (t - ?1) / ?3, SUM(events), SUM(detections) FROM rollup_h "
                      "WHERE dim = 0 AND key = '' AND t >= ?1 AND t < ?2 GROUP BY 1 ORDER BY 1", p, 3, &r, err) != BW_OK)
        goto end;
    int64_t nb = (to - from + bucket - 1) / bucket, te = 0, td = 0;
    json_t *buckets = json_array();
    size_t j = 0;
    for (int64_t i = 0; i < nb; i++) {
        int64_t e = 0, d = 0;
        if (j < r.nrows && bw_rows_int(&r, j, 0) == i) {
            e = bw_rows_int(&r, j, 1);
            d = bw_rows_int(&r, j, 2);
            j++;
        }
        te += e;
        td += d;
        json_array_append_new(buckets, json_pack("{s:I,s:I,s:I}", "t", (json_int_t)(from + i * bucket),
                                                 "events", (json_int_t)e, "detections", (json_int_t)d));
    }
    bw_rows_free(&r);
    json_t *tt = top(st, c, BW_DIM_THREAT, from, d0, d1, to, top_n, err);
    json_t *tc = tt ? top(st, c, BW_DIM_CLIENT, from, d0, d1, to, top_n, err) : NULL;
    json_t *tu = tc ? top(st, c, BW_DIM_URL, from, d0, d1, to, top_n, err) : NULL;
    json_t *tm = tu ? top(st, c, BW_DIM_COMPONENT, from, d0, d1, to, top_n, err) : NULL;
    json_t *tn = tm ? top(st, c, BW_DIM_NODE, from, d0, d1, to, top_n, err) : NULL;
    if (!tn) {
        json_decref(buckets), json_decref(tt), json_decref(tc), json_decref(tu), json_decref(tm);
        goto end;
    }
    res = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:{s:I,s:I},s:I,s:I,s:I}", "buckets", buckets,
                    "top_threats", tt, "top_clients", tc, "top_urls", tu, "by_component", tm, "by_node",
                    tn, "totals", "events", (json_int_t)te, "detections", (json_int_t)td, "from",
                    (json_int_t)from, "to", (json_int_t)to, "bucket", (json_int_t)bucket);
end:
    st->ops->exec(c, "COMMIT", NULL, 0, NULL, NULL);
out:
    bw_store_release(st, c);
    return res;
}

/* ---- retention ------------------------------------------------------------------------ */

/* Deletes in slices of 10000 rows, each its own transaction, so ingestion
 * is never blocked for long behind a big purge. */
static int delete_slices(bw_store_t *st, const char *sel, bw_sqlv_t v, int64_t *deleted, bw_err_t *err)
{
    char sql[512];
    snprintf(sql, sizeof sql, "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE %s "
             "ORDER BY seq LIMIT 10000)", sel);
    for (;;) {
        void *c;
        bw_rows_t r = { 0 };
        if (bw_store_tx_begin(st, &c, err) != BW_OK)
            return BW_ERR;
        int rc = st->ops->exec(c, sql, &v, 1, &r, err);
        if (rc == BW_OK && r.changes) {
            bw_sqlv_t p[1] = { SQLV_I(r.changes) };
            rc = st->ops->exec(c, "UPDATE counters SET n = n - ?1 WHERE name = 'events'", p, 1, NULL, err);
        }
        if (bw_store_tx_end(st, c, rc, err) != BW_OK)
            return BW_ERR;
        *deleted += r.changes;
        if (r.changes < 10000)
            return BW_OK;
    }
}

int bw_store_retain(bw_store_t *st, int64_t max_age_s, int64_t max_events, int64_t *deleted,
                    bw_err_t *err)
{
    int64_t del = 0;
    if (deleted)
        *deleted = 0;
    if (max_age_s > 0) {
        int64_t cut_us = bw_store_now_us() - max_age_s * 1000000;
        if (delete_slices(st, "time < ?1", SQLV_I(cut_us), &del, err) != BW_OK)
            return BW_ERR;
        /* The rollups keep history beyond a count limit (the dashboard's
         * long-term view) but not beyond the age limit: whole hours and days
         * older than it go. */
        int64_t cut = floor_div(cut_us, 1000000);
        bw_sqlv_t p[1] = { SQLV_I(cut) };
        if (bw_store_exec(st, NULL, "DELETE FROM rollup_h WHERE t + 3600 <= ?1", p, 1, NULL, err) != BW_OK
            || bw_store_exec(st, NULL, "DELETE FROM rollup_d WHERE t + 86400 <= ?1", p, 1, NULL, err) != BW_OK)
            return BW_ERR;
    }
    if (max_events > 0) {
        bw_rows_t r;
        bw_sqlv_t p[1] = { SQLV_I(max_events) };
        /* The newest max_events stay; "oldest" is by arrival (seq). */
        if (bw_store_exec(st, NULL, "SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?1", p, 1,
                          &r, err) != BW_OK)
            return BW_ERR;
        int64_t cut = r.nrows ? bw_rows_int(&r, 0, 0) : 0;
        bw_rows_free(&r);
        if (cut && delete_slices(st, "seq <= ?1", SQLV_I(cut), &del, err) != BW_OK)
            return BW_ERR;
    }
    if (deleted)
        *deleted = del;
    /* The console calls this periodically: the moment to refresh SQLite's
     * planner statistics (bounded by analysis_limit, so a few ms even on
     * millions of rows).  PostgreSQL's autovacuum does its own. */
    if (!st->ops->pg)
        bw_store_exec(st, NULL, "PRAGMA optimize", NULL, 0, NULL, NULL);
    return BW_OK;
}

int64_t bw_store_event_count(bw_store_t *st)
{
    bw_rows_t r;
    bw_err_t e;
    if (bw_store_exec(st, NULL, "SELECT n FROM counters WHERE name = 'events'", NULL, 0, &r, &e) != BW_OK)
        return -1;
    int64_t n = r.nrows ? bw_rows_int(&r, 0, 0) : -1;
    bw_rows_free(&r);
    return n;
}
